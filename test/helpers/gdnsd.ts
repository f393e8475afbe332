// gdnsd (Debian) as a reference server: the same zone as a gtm config, written as an RFC 1035
// zone file, steered names pinned to the addresses gtm gives them (static policies).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Zone } from '../../src/config/index.js';
import { rdataText } from '../../src/dns/zone-export.js';
import { watchChild } from './dns.js';

const abs = (name: string) => `${name}.`;

/** The zone as gdnsd reads it; services must use a fixed region (their answer is then static). */
export function zoneFile(config: Config, zone: Zone): string {
  const s = zone.soa;
  const lines = [
    `$TTL 300`,
    `${abs(zone.name)} ${s.ttl} SOA ${abs(s.mname)} ${abs(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`,
  ];
  for (const ns of zone.ns) lines.push(`${abs(zone.name)} ${zone.nsTtl} NS ${abs(ns)}`);
  // gdnsd has no DNSSEC: it refuses DS at a delegation, so the reference zone has none.
  for (const r of zone.records) if (r.type !== 'DS') lines.push(`${abs(r.name)} ${r.ttl} ${r.type} ${rdataText(r)}`);
  for (const svc of config.services) {
    if (svc.policy.kind !== 'static') throw new Error(`service ${svc.key}: the reference zone needs a static policy`);
    for (const region of svc.policy.regions) {
      const pool = svc.pools.find((p) => p.region === region);
      if (pool?.vip4) lines.push(`${abs(svc.name)} ${svc.ttl} A ${pool.vip4}`);
      if (pool?.vip6) lines.push(`${abs(svc.name)} ${svc.ttl} AAAA ${pool.vip6}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface RunningGdnsd {
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * gdnsd's options for a private instance: its own listener, run and state directories (the
 * defaults are the system's /run/gdnsd and /var/lib/gdnsd, which a second gdnsd on the machine
 * would share: its control socket and lock).
 */
export function gdnsdOptions(dir: string, port: number): string {
  for (const d of ['run', 'state']) mkdirSync(join(dir, d), { recursive: true });
  return `options => { listen => [ 127.0.0.1:${port} ], run_dir => ${join(dir, 'run')}, state_dir => ${join(dir, 'state')} }`;
}

/** Starts gdnsd in the foreground on 127.0.0.1:PORT with the config's zones. */
export function startGdnsd(dir: string, config: Config, port: number): RunningGdnsd {
  mkdirSync(join(dir, 'zones'), { recursive: true });
  writeFileSync(join(dir, 'config'), `${gdnsdOptions(dir, port)}\n`);
  for (const z of config.zones) writeFileSync(join(dir, 'zones', z.name), zoneFile(config, z));
  const proc = spawn('gdnsd', ['-c', dir, '-f', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { port, proc, ...watchChild(proc) };
}
