// NSD and Knot DNS as the tests run them beside `gtm dns`: their configs (own directories and
// loopback ports, never a system service), started in the foreground, ready when they answer.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kdig, ROOT, run, watchChild } from './dns.js';
import { waitFor } from './wait.js';

export const ZONE_FIXTURES = join(ROOT, 'test', 'fixtures', 'zones');

export interface TsigSpec {
  name: string;
  secret: string;
}

/** A zone the server serves: from its own file, or transferred from gtm (`primary`, with a key or not). */
export interface ZoneSpec {
  name: string;
  file?: string;
  primary?: { port: number; signed?: boolean };
}

export interface RunningServer {
  name: string;
  port: number;
  stop: () => Promise<void>;
  log: () => string;
}

export function nsdConf(o: {
  port: number;
  home: string;
  zonesdir?: string;
  key?: TsigSpec;
  zones: ZoneSpec[];
}): string {
  const key = o.key ? `key:\n  name: ${o.key.name}\n  algorithm: hmac-sha256\n  secret: "${o.key.secret}"\n` : '';
  const zones = o.zones.map((z) => {
    const xfr = z.primary
      ? `  request-xfr: AXFR 127.0.0.1@${z.primary.port} ${z.primary.signed && o.key ? o.key.name : 'NOKEY'}\n  allow-notify: 127.0.0.1 ${z.primary.signed && o.key ? o.key.name : 'NOKEY'}\n`
      : '';
    return `zone:\n  name: ${z.name}\n  zonefile: ${z.file ?? `${z.name}.zone`}\n${xfr}`;
  });
  // gtm answers minimally (no apex NS in a positive answer's authority section: RFC 2181 leaves
  // it to the server); NSD is asked to do the same, so the records themselves are compared.
  return `server:
  ip-address: 127.0.0.1@${o.port}
  port: ${o.port}
  username: ""
  chroot: ""
  zonesdir: "${o.zonesdir ?? o.home}"
  pidfile: "${join(o.home, 'nsd.pid')}"
  database: ""
  zonelistfile: "${join(o.home, 'zone.list')}"
  xfrdfile: "${join(o.home, 'xfrd.state')}"
  xfrdir: "${o.home}"
  server-count: 1
  minimal-responses: yes
remote-control:
  control-enable: no
${key}${zones.join('')}`;
}

/** The start of every Knot config here: its address, its own directory (and control socket), the key. */
export function knotBase(o: { port: number; home: string; key?: TsigSpec; control?: boolean }): string {
  const control = o.control ? `control:\n  listen: "${join(o.home, 'knot.sock')}"\n` : '';
  const key = o.key ? `key:\n  - id: ${o.key.name}\n    algorithm: hmac-sha256\n    secret: ${o.key.secret}\n` : '';
  return `server:\n  listen: 127.0.0.1@${o.port}\n  rundir: "${o.home}"\n${control}database:\n  storage: "${o.home}"\n${key}`;
}

/** Knot as a secondary of gtm (`gtmPort`): plain or signed zones, or the members of a catalog. */
export function knotConf(o: {
  port: number;
  home: string;
  gtmPort: number;
  key: TsigSpec;
  zones: { domain: string; signed?: boolean; catalog?: boolean }[];
}): string {
  const common = `    storage: "${o.home}"\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: none\n`;
  return `${knotBase(o)}acl:
  - id: notify-from-gtm
    address: 127.0.0.1
    action: notify
  - id: notify-signed
    address: 127.0.0.1
    key: ${o.key.name}
    action: notify
remote:
  - id: gtm
    address: 127.0.0.1@${o.gtmPort}
  - id: gtm-signed
    address: 127.0.0.1@${o.gtmPort}
    key: ${o.key.name}
template:
  - id: default
    master: gtm
    acl: notify-from-gtm
${common}  - id: catalog-members
    master: gtm-signed
${common}zone:
${o.zones
  .map(
    (z) =>
      `  - domain: ${z.domain}\n${z.signed ? '    master: gtm-signed\n    acl: notify-signed\n' : ''}${z.catalog ? '    catalog-role: interpret\n    catalog-template: catalog-members\n' : ''}`,
  )
  .join('')}`;
}

/**
 * Knot as a hidden primary of `gtm dns` (`gtmPort`): the zone from its file in `home`, changes
 * made through knotc (journaled, so IXFR), NOTIFY and transfers signed with `key`.
 */
export function knotPrimaryConf(o: {
  port: number;
  home: string;
  gtmPort: number;
  key: TsigSpec;
  zone: string;
}): string {
  return `${knotBase({ ...o, control: true })}remote:
  - id: gtm
    address: 127.0.0.1@${o.gtmPort}
    key: ${o.key.name}
acl:
  - id: gtm-transfers
    address: 127.0.0.1
    key: ${o.key.name}
    action: transfer
template:
  - id: default
    storage: "${o.home}"
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: ${o.zone}
    notify: gtm
    acl: gtm-transfers
`;
}

/** Starts NSD or Knot with the config given, in `home`, and waits until it answers for each zone. */
export async function startServer(
  kind: 'nsd' | 'knot',
  name: string,
  port: number,
  home: string,
  conf: string,
  ready: string[],
): Promise<RunningServer> {
  mkdirSync(home, { recursive: true });
  const file = join(home, `${kind}.conf`);
  writeFileSync(file, conf);
  const child = watchChild(
    spawn(kind === 'nsd' ? 'nsd' : 'knotd', kind === 'nsd' ? ['-d', '-c', file] : ['-c', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const server = { name, port, ...child };
  try {
    for (const z of ready)
      await waitFor(
        async () => /NOERROR/.test(await kdig(port, ['+norec', '+time=1', '+retry=0', z, 'SOA']).catch(() => '')),
        () => `${name} to serve ${z}:\n${child.log().slice(-1500)}`,
        20_000,
      );
  } catch (err) {
    await child.stop();
    throw err;
  }
  return server;
}

/** `gtm zone export --config CONFIG ZONE [--out FILE]` as a user runs it. */
export function gtmZoneExport(config: string, zone: string, out?: string) {
  return run(process.execPath, [
    join(ROOT, 'bin', 'gtm.js'),
    'zone',
    'export',
    '--config',
    config,
    zone,
    ...(out ? ['--out', out] : []),
  ]);
}

/** The records of kdig's answer, one normalised line each. */
export const recordLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).join(' '));
