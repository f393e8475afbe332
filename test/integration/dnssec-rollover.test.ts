// Key rollovers under a validating resolver, with every TTL shortened to 1 s and questions asked
// through unbound every 50 ms the whole time: a ZSK pre-publish rollover of the parent zone
// (example.test, KSK + ZSK, anchored in unbound), then a CSK double-DS rollover of a child zone
// served by the same server (geo.example.test, its DS in the parent's config). Each step is what
// an operator does: a `gtm dnssec` command, a config edit for the parent's DS, a SIGHUP.
// Expected: not one SERVFAIL, every answer validated (AD), and the keys end where they should.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTestDatabases } from '../../geodata/build-test-db.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { ROOT, startDns, tempDir, type RunningDns } from '../helpers/dns.js';
import { startUnbound, type RunningUnbound } from '../helpers/unbound.js';
import { waitFor } from '../helpers/wait.js';

const gtm = (args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(dir: string, city: string, childDs: string[]): string {
  const soa =
    '{ mname: ns1.example.test., rname: hostmaster.example.test., serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 1, ttl: 1 }';
  const ds = childDs.map((l) => {
    const f = l.trim().split(/\s+/);
    return `      - { name: geo, type: DS, ttl: 1, value: "${f[3]} ${f[4]} ${f[5]} ${f[6]}" }\n`;
  });
  return `dns:
  listen: 127.0.0.1:5353
  workers: 2
geo:
  database: ${city}
regions:
  us-east: { vip: 198.51.100.10, location: { lat: 40.71, lon: -74.01 } }
  ap-southeast: { vip: 198.51.100.30, location: { lat: 1.35, lon: 103.82 } }
zones:
  example.test:
    soa: ${soa}
    ns: [ns1]
    ns_ttl: 1
    dnssec: { keys: ${join(dir, 'keys-parent')}, dnskey_ttl: 1 }
    records:
      - { name: ns1, type: A, ttl: 1, value: 192.0.2.53 }
      - { name: static, type: A, ttl: 1, value: 192.0.2.80 }
      - { name: geo, type: NS, ttl: 1, value: ns1.example.test. }
${ds.join('')}  geo.example.test:
    soa: ${soa}
    ns: [ns1.example.test.]
    ns_ttl: 1
    dnssec: { keys: ${join(dir, 'keys-child')}, dnskey_ttl: 1 }
    records:
      - { name: static, type: A, ttl: 1, value: 192.0.2.81 }
services:
  www:
    name: www.example.test
    ttl: 1
    pools: [us-east, ap-southeast]
    policy: nearest
  geowww:
    name: www.geo.example.test
    ttl: 1
    pools: [us-east, ap-southeast]
    policy: nearest
`;
}

/** Questions asked through the resolver: the outcome of each (rcode, AD). */
class Asker {
  readonly outcomes: { name: string; rcode: number; ad: boolean; t: number }[] = [];
  private timer?: NodeJS.Timeout;
  private readonly socket = dgram.createSocket('udp4');
  private readonly pending = new Map<number, string>();
  private id = 1;
  timeouts = 0;
  constructor(private readonly port: number) {
    this.socket.on('message', (m) => {
      const name = this.pending.get(m.readUInt16BE(0));
      if (name === undefined) return;
      this.pending.delete(m.readUInt16BE(0));
      const flags = m.readUInt16BE(2);
      this.outcomes.push({ name, rcode: flags & 0xf, ad: (flags & 0x20) !== 0, t: Date.now() });
    });
  }
  start(): void {
    const questions: [string, number, string?][] = [
      ['static.example.test', TYPE.A],
      ['www.example.test', TYPE.A, '198.18.3.0/24'],
      ['nope.example.test', TYPE.A],
      ['static.geo.example.test', TYPE.A],
      ['www.geo.example.test', TYPE.A, '198.18.4.0/24'],
      ['nope.geo.example.test', TYPE.AAAA],
    ];
    this.timer = setInterval(() => {
      for (const id of this.pending.keys()) (this.pending.delete(id), this.timeouts++);
      for (const [name, type, subnet] of questions) {
        const id = this.id++ & 0xffff;
        const [addr, len] = subnet?.split('/') ?? [];
        const ecs = addr
          ? { address: Uint8Array.from(addr.split('.').map(Number)), sourcePrefix: Number(len) }
          : undefined;
        const q = buildQuery(name, type, { id, rd: true, edns: { udpSize: 1232, dnssecOk: true }, ecs });
        this.pending.set(id, name);
        this.socket.send(q, this.port, '127.0.0.1');
      }
    }, 50);
  }
  stop(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

describe('DNSSEC rollovers with a validating resolver asking all along', () => {
  const dir = tempDir('gtm-rollover-');
  let dns: RunningDns | undefined;
  let unbound: RunningUnbound | undefined;
  let asker: Asker | undefined;
  afterAll(async () => {
    asker?.stop();
    await unbound?.stop();
    await dns?.stop();
  });

  it('ZSK pre-publish (parent) and CSK double-DS (child): zero SERVFAIL, every answer validated', async () => {
    const { city } = buildTestDatabases(dir);
    const file = join(dir, 'config.yaml');
    // Keys first: the child's DS goes into the parent's part of the config.
    writeFileSync(file, config(dir, city, []));
    const cfg = ['--config', file];
    gtm(['dnssec', 'keygen', ...cfg, '--zone', 'example.test', '--split']);
    gtm(['dnssec', 'keygen', ...cfg, '--zone', 'geo.example.test']);
    const childDs = () =>
      gtm(['dnssec', 'ds', ...cfg, '--zone', 'geo.example.test'])
        .trim()
        .split('\n');
    const oldChildDs = childDs();
    writeFileSync(file, config(dir, city, oldChildDs));
    const anchor = gtm(['dnssec', 'ds', ...cfg, '--zone', 'example.test'])
      .trim()
      .split('\n');
    dns = await startDns(file, 2);
    unbound = await startUnbound(join(dir, 'unbound'), {
      upstreamPort: dns.port,
      zone: 'example.test',
      anchors: anchor,
    });
    const hup = async () => {
      const before = dns?.log().split('configuration reloaded').length ?? 0;
      dns?.proc.kill('SIGHUP');
      await waitFor(() => (dns?.log().split('configuration reloaded').length ?? 0) > before, 'the reload', 5000);
    };
    asker = new Asker(unbound.port);
    asker.start();
    await sleep(2000);
    expect(asker.outcomes.length).toBeGreaterThan(100);

    // 1. The parent's ZSK, pre-published: in the DNSKEY set for a DNSKEY TTL before it signs.
    expect(gtm(['dnssec', 'rollover', ...cfg, '--zone', 'example.test', '--role', 'zsk', '--margin-s', '1'])).toMatch(
      /ZSK \d+: published now, signs from/,
    );
    await hup();
    await sleep(5000); // switch at +2 s, the old ZSK leaves the DNSKEY set at +4 s

    // 2. The child's CSK, double-DS: publish, DS at the parent, wait its TTL, switch, retire.
    const roll = gtm(['dnssec', 'rollover', ...cfg, '--zone', 'geo.example.test', '--role', 'csk', '--margin-s', '1']);
    const tag = /activate --zone geo\.example\.test --tag (\d+)/.exec(roll)?.[1] as string;
    await hup();
    const bothDs = childDs();
    expect(bothDs).toHaveLength(2);
    writeFileSync(file, config(dir, city, bothDs));
    await hup();
    await sleep(2500); // the parent's DS TTL (1 s) and a margin
    gtm(['dnssec', 'activate', ...cfg, '--zone', 'geo.example.test', '--tag', tag, '--margin-s', '1']);
    await hup();
    await sleep(3000); // the old CSK leaves the DNSKEY set after the longest TTL and the margin
    const newDs = childDs();
    expect(newDs).toHaveLength(1);
    expect(newDs[0]).not.toBe(oldChildDs[0]);
    writeFileSync(file, config(dir, city, newDs));
    await hup();
    await sleep(3000);
    asker.stop();
    const { outcomes, timeouts } = asker;
    asker = undefined;

    const parent = gtm(['dnssec', 'status', ...cfg, '--zone', 'example.test']);
    expect(parent.match(/ZSK tag \d+ .*: published, signing/g)).toHaveLength(1);
    expect(parent.match(/ZSK tag \d+ .*: removed/g)).toHaveLength(1);
    expect(parent.match(/KSK tag \d+ .*: published, signing/g)).toHaveLength(1);
    const child = gtm(['dnssec', 'status', ...cfg, '--zone', 'geo.example.test']);
    expect(child).toMatch(new RegExp(`CSK tag ${tag} .*: published, signing`));
    expect(child).toMatch(/CSK tag \d+ .*: removed/);

    // What the resolver said all along: answers for the names that exist, a validated denial
    // for those that do not, never SERVFAIL, never an unvalidated answer.
    const servfail = outcomes.filter((o) => o.rcode === 2);
    expect(servfail.map((o) => `${o.name} at +${o.t - (outcomes[0]?.t ?? 0)} ms`)).toEqual([]);
    expect(outcomes.filter((o) => !o.ad).map((o) => o.name)).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(1500);
    expect(timeouts).toBeLessThan(outcomes.length / 100);
    console.log(`rollovers: ${outcomes.length} validated answers through unbound, 0 SERVFAIL, ${timeouts} timeouts`);
  }, 60_000);
});
