// Differential test: the same seeded stream of queries (names in and out of the zone with
// random case, empty non-terminals, wildcards, a delegation with glue, a signed delegation, every common
// qtype, EDNS on and off, DO, odd UDP sizes, EDNS version 1, unknown and malformed options,
// other opcodes and classes) goes to `gtm dns` and to gdnsd serving the same zone. Every
// difference must fall in a named class of accepted differences (test/helpers/differences.ts,
// each with the RFC that allows it), or the test fails and prints the queries.
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { classify, compare, type Query } from '../helpers/differences.js';
import { decodeMsg, type Msg } from '../helpers/dnsmsg.js';
import { freePort, startDns, tempDir, UDP_PATHS, type RunningDns } from '../helpers/dns.js';
import { startGdnsd, type RunningGdnsd } from '../helpers/gdnsd.js';
import { rng } from '../helpers/rng.js';
import { waitFor } from '../helpers/wait.js';

const SEED = Number(process.env.DIFF_SEED ?? 20261123);
const QUERIES = Number(process.env.DIFF_QUERIES ?? 20_000);

export const DIFF_CONFIG = `
dns: { ecs: true }
regions:
  us-east: { vip: 198.51.100.10, vip6: "2001:db8:10::10", location: { lat: 38.9, lon: -77.04 } }
  eu-west: { vip: 198.51.100.20, vip6: "2001:db8:20::20", location: { lat: 53.35, lon: -6.26 } }
zones:
  example.test:
    soa: { mname: ns1, rname: hostmaster, serial: 2026112301, refresh: 3600, retry: 600, expire: 604800, minimum: 60, ttl: 60 }
    ns: [ns1, ns2]
    ns_ttl: 3600
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: ns2, type: A, value: 192.0.2.54 }
      - { name: ns1, type: AAAA, value: "2001:db8::53" }
      - { name: "@", type: MX, value: 10 mail }
      - { name: "@", type: TXT, value: "v=spf1 mx -all" }
      - { name: "@", type: CAA, value: 0 issue "ca.example" }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: static, type: A, value: 192.0.2.80 }
      - { name: static, type: TXT, value: [one, two] }
      - { name: app, type: CNAME, value: www }
      - { name: docs, type: CNAME, value: app }
      - { name: ext, type: CNAME, value: target.example.org. }
      - { name: _sip._tcp, type: SRV, value: 10 5 5060 sip }
      - { name: sip, type: A, value: 192.0.2.90 }
      - { name: a.b.c.deep, type: TXT, value: deep }
      - { name: ptr, type: PTR, value: host.example.org. }
      - { name: deleg, type: NS, value: ns1.deleg }
      - { name: deleg, type: NS, value: ns2 }
      - { name: ns1.deleg, type: A, value: 192.0.2.200 }
      - { name: signed, type: NS, value: ns1.signed }
      - { name: ns1.signed, type: A, value: 192.0.2.201 }
      - { name: signed, type: DS, value: 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }
      - { name: "*.wild", type: A, value: 192.0.2.70 }
      - { name: "*.wild", type: TXT, value: wild }
      - { name: sub.wild, type: A, value: 192.0.2.71 }
      - { name: a.ent.wild, type: TXT, value: below-an-empty-non-terminal }
      - { name: "*.cn", type: CNAME, value: www }
      - { name: "*.a.b.wild2", type: MX, value: 10 mail }
      - { name: "*.wild3", type: CNAME, value: static }
services:
  www: { name: www.example.test, ttl: 30, pools: [us-east, eu-west], policy: us-east }
  api: { name: api.example.test, ttl: 20, pools: [us-east, eu-west], policy: eu-west }
`;

const NAMES = [
  'example.test',
  'www',
  'api',
  'app',
  'docs',
  'ext',
  'mail',
  'static',
  'ns1',
  'ns2',
  '_sip._tcp',
  '_tcp',
  'sip',
  'deep',
  'c.deep',
  'b.c.deep',
  'a.b.c.deep',
  'x.a.b.c.deep',
  'nope',
  'x.nope',
  'ptr',
  'deleg',
  'x.deleg',
  'ns1.deleg',
  'a.b.deleg',
  'signed',
  'x.signed',
  'ns1.signed',
  // Wildcards (RFC 4592): synthesized at one and two levels below, the wildcard's own name,
  // existing names and an empty non-terminal blocking expansion, wildcard CNAMEs, a deep wildcard.
  'foo.wild',
  'a.b.wild',
  '*.wild',
  'wild',
  'sub.wild',
  'x.sub.wild',
  'ent.wild',
  'b.ent.wild',
  'a.ent.wild',
  'foo.cn',
  'x.y.cn',
  '*.cn',
  'q.a.b.wild2',
  'a.b.wild2',
  'b.wild2',
  'x.b.wild2',
  'z.wild3',
].map((n) => (n === 'example.test' ? n : `${n}.example.test`));
const OUTSIDE = ['example.org', 'org', 'test', '', 'xexample.test', 'target.example.org'];
const QTYPES = [1, 28, 2, 6, 15, 16, 33, 257, 5, 12, 255, 43, 48, 13, 47, 46, 99, 65280, 252, 251, 64, 65];

function encodeName(name: string, r: () => number): Buffer {
  const parts = name === '' ? [] : name.split('.');
  const bufs = parts.map((p) => {
    const cased = [...p].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join('');
    return Buffer.concat([Buffer.from([p.length]), Buffer.from(cased, 'latin1')]);
  });
  return Buffer.concat([...bufs, Buffer.from([0])]);
}

/** One query: the wire bytes and what was asked (for classifying differences). */
function generate(i: number, r: () => number): Query {
  const pick = <T>(l: readonly T[]) => l[Math.floor(r() * l.length)] as T;
  const name = r() < 0.85 ? pick(NAMES) : pick(OUTSIDE);
  const qtype = pick(QTYPES);
  const roll = r();
  const opcode = roll < 0.9 ? 0 : pick([1, 2, 4, 5, 15]);
  const croll = r();
  const qclass = croll < 0.94 ? 1 : croll < 0.97 ? 3 : croll < 0.99 ? 255 : 4;
  const rd = r() < 0.5;
  const cd = r() < 0.1;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(i & 0xffff, 0);
  header.writeUInt16BE((opcode << 11) | (rd ? 0x0100 : 0) | (cd ? 0x0010 : 0), 2);
  header.writeUInt16BE(1, 4);
  const question = Buffer.concat([
    encodeName(name, r),
    Buffer.from([qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff]),
  ]);
  const q: Query = { index: i, name, qtype, qclass, opcode, rd, cd, edns: undefined, wire: Buffer.alloc(0) };
  const parts = [header, question];
  if (r() < 0.6) {
    const udpSize = pick([512, 600, 1232, 1400, 4096, 100]);
    const version = r() < 0.05 ? 1 : 0;
    const dnssecOk = r() < 0.3;
    const o = r();
    let options = Buffer.alloc(0);
    let option: NonNullable<Query['edns']>['option'] = 'none';
    if (o < 0.15) {
      option = 'ecs';
      options = Buffer.from([0, 8, 0, 7, 0, 1, 24, 0, 198, 18, Math.floor(r() * 256)]);
    } else if (o < 0.22) {
      option = 'ecs-malformed';
      options = Buffer.from([0, 8, 0, 7, 0, 9, 24, 0, 198, 18, 1]);
    } else if (o < 0.32) {
      option = 'unknown';
      options = Buffer.from([0xfd, 0xe9, 0, 4, 1, 2, 3, 4]);
    } else if (o < 0.4) {
      option = 'cookie';
      options = Buffer.concat([
        Buffer.from([0, 10, 0, 8]),
        Buffer.from(Array.from({ length: 8 }, () => Math.floor(r() * 256))),
      ]);
    } else if (o < 0.43) {
      option = 'truncated-option';
      options = Buffer.from([0xfd, 0xe9, 0, 9, 1]);
    }
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(udpSize, 3);
    opt[6] = version;
    opt[7] = dnssecOk ? 0x80 : 0;
    opt.writeUInt16BE(options.length, 9);
    parts.push(opt, options);
    header.writeUInt16BE(1, 10);
    q.edns = { udpSize, version, dnssecOk, option };
  }
  q.wire = Buffer.concat(parts);
  return q;
}

/** Sends every query to one server over UDP, a window at a time; a lost reply is asked again once. */
async function exchangeAll(port: number, queries: Query[]): Promise<(Buffer | undefined)[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  sock.setRecvBufferSize(4 << 20);
  const replies: (Buffer | undefined)[] = new Array(queries.length);
  const WINDOW = 200;
  for (let base = 0; base < queries.length; base += WINDOW) {
    const batch = queries.slice(base, base + WINDOW);
    for (let attempt = 0; attempt < 2; attempt++) {
      const missing = batch.filter((q) => replies[q.index] === undefined);
      if (!missing.length) break;
      await new Promise<void>((resolve) => {
        let left = missing.length;
        const byId = new Map(missing.map((q) => [q.index & 0xffff, q]));
        const t = setTimeout(done, attempt === 0 ? 1000 : 2000);
        function done() {
          clearTimeout(t);
          sock.off('message', onMessage);
          resolve();
        }
        function onMessage(m: Buffer) {
          if (m.length < 2) return;
          const q = byId.get(m.readUInt16BE(0));
          if (!q || replies[q.index] !== undefined) return;
          replies[q.index] = m;
          if (--left === 0) done();
        }
        sock.on('message', onMessage);
        for (const q of missing) sock.send(q.wire, port, '127.0.0.1');
      });
    }
  }
  sock.close();
  return replies;
}

let dir: string;
let ref: RunningGdnsd;

beforeAll(async () => {
  dir = tempDir('gtm-diff-');
  const cfg = join(dir, 'gtm.yaml');
  writeFileSync(cfg, DIFF_CONFIG);
  ref = startGdnsd(join(dir, 'gdnsd'), parseConfigText(readFileSync(cfg, 'utf8')), await freePort());
  const probe = generate(0, rng(1));
  await waitFor(
    async () => (await exchangeAll(ref.port, [probe]))[0] !== undefined,
    () => `gdnsd to answer (log: ${ref.log()})`,
    15_000,
    200,
  );
}, 60_000);
afterAll(async () => {
  await ref?.stop();
});

// Both UDP paths of ours (dns.io), each against the same gdnsd.
describe.each(UDP_PATHS)('differential test against gdnsd, ours on the %s UDP path', (io) => {
  let ours: RunningDns;
  beforeAll(async () => {
    const cfg = join(dir, `gtm-${io}.yaml`);
    // miss_budget 0: this test compares answers, not overload shedding. A window of 200 new names
    // at once can keep a worker 90% busy (with a socket per worker the kernel hashes this one client
    // to one worker), and the budget then rightly truncates the rest (TC=1, retried over TCP): seen
    // in CI as 2,534 truncated answers. The budget has tests of its own (test/unit/authority.test.ts).
    writeFileSync(cfg, DIFF_CONFIG.replace('dns: { ecs: true }', `dns: { ecs: true, io: ${io}, miss_budget: 0 }`));
    ours = await startDns(cfg, 2);
  }, 60_000);
  afterAll(async () => {
    await ours?.stop();
  });

  it(`${QUERIES.toLocaleString('en')} generated queries differ only in documented ways (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const queries = Array.from({ length: QUERIES }, (_, i) => generate(i, r));
    const t0 = Date.now();
    const [a, b] = await Promise.all([exchangeAll(ours.port, queries), exchangeAll(ref.port, queries)]);
    const unexplained: string[] = [];
    const classes = new Map<string, number>();
    let identical = 0;
    for (const q of queries) {
      const mine = a[q.index];
      const theirs = b[q.index];
      let m: Msg | undefined;
      let g: Msg | undefined;
      try {
        m = mine ? decodeMsg(mine) : undefined;
        g = theirs ? decodeMsg(theirs) : undefined;
      } catch (err) {
        unexplained.push(`#${q.index} ${show(q)}: undecodable reply (${(err as Error).message})`);
        continue;
      }
      const diffs = compare(m, g);
      if (!diffs.length) {
        identical++;
        continue;
      }
      const c = classify(q, m, g, diffs);
      if (c) for (const k of c) classes.set(k, (classes.get(k) ?? 0) + 1);
      else unexplained.push(`#${q.index} ${show(q)}: ${diffs.join('; ')}`);
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(
      `differential: ${queries.length} queries in ${secs.toFixed(1)} s; identical ${identical}; accepted differences: ` +
        [...classes].map(([k, n]) => `${k} ${n}`).join(', ') +
        `; unexplained ${unexplained.length}`,
    );
    if (unexplained.length) console.log(unexplained.slice(0, 40).join('\n'));
    expect(unexplained).toEqual([]);
    // The stream reached both servers: most queries have a reply from each.
    expect(a.filter(Boolean).length).toBeGreaterThan(QUERIES * 0.9);
    expect(b.filter(Boolean).length).toBeGreaterThan(QUERIES * 0.9);
  }, 240_000);
});

function show(q: Query): string {
  const e = q.edns
    ? ` edns(udp ${q.edns.udpSize}, v${q.edns.version}${q.edns.dnssecOk ? ', DO' : ''}, ${q.edns.option})`
    : '';
  return `${q.name || '.'} type ${q.qtype} class ${q.qclass} opcode ${q.opcode}${q.rd ? ' RD' : ''}${q.cd ? ' CD' : ''}${e}`;
}
