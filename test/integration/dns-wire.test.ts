// Every wire rule of the authoritative server, checked with real kdig/dig against the
// real `gtm dns` process (two workers sharing the port), over UDP and TCP.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Double, MmdbWriter } from '../../geodata/mmdb-writer.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  decode,
  dig,
  kdig,
  startDns,
  tcpExchange,
  tempDir,
  testConfig,
  udpExchange,
  type RunningDns,
  UDP_PATHS,
} from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const BIG_TXT = Array.from(
  { length: 10 },
  (_, i) => `      - { name: big, type: TXT, value: "${String(i).repeat(200)}" }\n`,
).join('');
const EXTRA = {
  records: `${BIG_TXT}      - { name: ext, type: CNAME, value: www.example.org. }\n      - { name: a.b.deep, type: A, value: 192.0.2.99 }\n      - { name: deleg, type: NS, value: ns1.deleg }\n      - { name: ns1.deleg, type: A, value: 192.0.2.200 }\n`,
  services: `  geo:
    name: geo.example.test
    ttl: 20
    pools: [us-east, eu-west, ap-southeast]
    policy:
      geo:
        countries: { GB: [eu-west, us-east], SG: [ap-southeast] }
        continents: { EU: [eu-west] }
        default: [us-east]
`,
};

// Every wire rule holds on both UDP paths: the batched addon and Node's dgram.
describe.each(UDP_PATHS)('on the %s UDP path', (io) => {
  let dns: RunningDns;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = tempDir();
    config = testConfig(dir, { ...EXTRA, io });
    dns = await startDns(config, 2);
  });
  afterAll(async () => {
    await dns?.stop();
  });

  const transports = [
    ['udp', []],
    ['tcp', ['+tcp']],
  ] as const;

  describe.each(transports)('over %s', (_name, tx) => {
    it('answers a steered name with AA from the geo-nearest region (ECS)', async () => {
      const out = await kdig(dns.port, [...tx, '+subnet=198.18.4.0/24', 'www.example.test', 'A']);
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(/Flags: qr aa/);
      expect(out).toMatch(/www\.example\.test\.\s+30\s+IN\s+A\s+198\.51\.100\.30/);
      // Scope is the database network the client falls in (/24 in the test database).
      expect(out).toMatch(/CLIENT-SUBNET: 198\.18\.4\.0\/24\/24/);
    });

    it('answers AAAA for steered names', async () => {
      const out = await kdig(dns.port, [...tx, '+subnet=198.18.1.0/24', 'www.example.test', 'AAAA']);
      expect(out).toMatch(/IN\s+AAAA\s+2001:db8:20::20/);
    });

    it('gives NXDOMAIN with the SOA in authority and the negative TTL', async () => {
      const out = await kdig(dns.port, [...tx, 'nope.example.test', 'A']);
      expect(out).toMatch(/status: NXDOMAIN/);
      expect(out).toMatch(/Flags: qr aa/);
      expect(out).toMatch(/AUTHORITY SECTION:\s*\nexample\.test\.\s+60\s+IN\s+SOA/);
    });

    it('gives NODATA (NOERROR, empty answer, SOA) for a missing type and for empty non-terminals', async () => {
      for (const [name, type] of [
        ['mail.example.test', 'AAAA'],
        ['b.deep.example.test', 'A'],
        ['www.example.test', 'MX'],
      ]) {
        const out = await kdig(dns.port, [...tx, name as string, type as string]);
        expect(out).toMatch(/status: NOERROR/);
        expect(out).toMatch(/ANSWER: 0/);
        expect(out).toMatch(/example\.test\.\s+60\s+IN\s+SOA/);
      }
    });

    it('refuses names outside every zone, without AA', async () => {
      const out = await kdig(dns.port, [...tx, 'www.example.org', 'A']);
      expect(out).toMatch(/status: REFUSED/);
      expect(out).not.toMatch(/Flags: qr aa/);
    });

    it('serves SOA and NS at the apex with glue', async () => {
      const soa = await kdig(dns.port, [...tx, 'example.test', 'SOA', '+short']);
      expect(soa.trim()).toBe('ns1.example.test. hostmaster.example.test. 2026112201 3600 600 604800 60');
      const ns = await kdig(dns.port, [...tx, 'example.test', 'NS']);
      expect(ns).toMatch(/IN\s+NS\s+ns1\.example\.test\./);
      expect(ns).toMatch(/ADDITIONAL SECTION:[\s\S]*ns1\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.53/);
    });

    it('serves static MX, TXT and follows CNAME chains inside the zone', async () => {
      expect((await kdig(dns.port, [...tx, 'example.test', 'MX', '+short'])).trim()).toBe('10 mail.example.test.');
      expect((await kdig(dns.port, [...tx, 'example.test', 'TXT', '+short'])).trim()).toBe('"v=spf1 mx -all"');
      const chain = await kdig(dns.port, [...tx, '+subnet=198.18.1.0/24', 'docs.example.test', 'A']);
      expect(chain).toMatch(/docs\.example\.test\.\s+300\s+IN\s+CNAME\s+app\.example\.test\./);
      expect(chain).toMatch(/app\.example\.test\.\s+300\s+IN\s+CNAME\s+www\.example\.test\./);
      expect(chain).toMatch(/www\.example\.test\.\s+30\s+IN\s+A\s+198\.51\.100\.20/);
      const ext = await kdig(dns.port, [...tx, 'ext.example.test', 'A']);
      expect(ext).toMatch(/status: NOERROR/);
      expect(ext).toMatch(/ANSWER: 1/);
    });

    it('answers ANY minimally (RFC 8482)', async () => {
      const out = await kdig(dns.port, [...tx, 'example.test', 'ANY']);
      expect(out).toMatch(/ANSWER: 1/);
      expect(out).toMatch(/HINFO\s+"RFC8482"/);
    });

    it('answers BADVERS for EDNS version 1 and echoes an OPT', async () => {
      // dig, not kdig: it can turn off EDNS version negotiation to see the BADVERS itself.
      const out = await dig(dns.port, [
        ...(tx.length ? ['+tcp'] : []),
        '+edns=1',
        '+noednsnegotiation',
        'www.example.test',
        'A',
      ]);
      expect(out).toMatch(/status: BADVERS/);
      expect(out).toMatch(/OPT PSEUDOSECTION:\s*\n; EDNS: version: 0/);
    });

    it('answers NOTIMP for other opcodes', async () => {
      const out = await dig(dns.port, [...(tx.length ? ['+tcp'] : []), '+opcode=2', 'www.example.test', 'A']);
      expect(out).toMatch(/status: NOTIMP/);
    });

    it('error answers to EDNS queries carry OPT (NOTIFY, malformed ECS): no "retry with +noedns"', async () => {
      const tcp = tx.length ? ['+tcp'] : [];
      const notify = await dig(dns.port, [...tcp, '+opcode=notify', 'example.test', 'SOA']);
      expect(notify).toMatch(/status: NOTIMP/);
      expect(notify).toMatch(/OPT PSEUDOSECTION/);
      expect(notify).not.toMatch(/noedns/);
      const ecs = await dig(dns.port, [...tcp, '+ednsopt=8:0003080001', 'www.example.test', 'A']);
      expect(ecs).toMatch(/status: FORMERR/);
      expect(ecs).toMatch(/OPT PSEUDOSECTION/);
    });

    it('answers below a delegation with a referral: NOERROR, no AA, NS in authority, glue', async () => {
      const out = await kdig(dns.port, [...tx, '+norec', 'x.deleg.example.test', 'A']);
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(/;; Flags: qr;/);
      expect(out).toMatch(
        /AUTHORITY SECTION:\s*\ndeleg\.example\.test\.\s+\d+\s+IN\s+NS\s+ns1\.deleg\.example\.test\./,
      );
      expect(out).toMatch(/ADDITIONAL SECTION:[\s\S]*ns1\.deleg\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.200/);
      const ns = await kdig(dns.port, [...tx, '+norec', 'deleg.example.test', 'NS']);
      expect(ns).toMatch(/;; Flags: qr;/);
      expect(ns).toMatch(/ANSWER: 0; AUTHORITY: 1/);
    });

    it('ends a CNAME chain that reaches NODATA with the SOA, and answers ANY at an alias with the CNAME', async () => {
      const out = await kdig(dns.port, [...tx, 'docs.example.test', 'TXT']);
      expect(out).toMatch(/ANSWER: 2; AUTHORITY: 1/);
      expect(out).toMatch(/AUTHORITY SECTION:\s*\nexample\.test\.\s+\d+\s+IN\s+SOA/);
      const any = await kdig(dns.port, [...tx, 'app.example.test', 'ANY']);
      expect(any).toMatch(/ANSWER: 1/);
      expect(any).toMatch(/app\.example\.test\.\s+\d+\s+IN\s+CNAME\s+www\.example\.test\./);
    });

    it('uses the geo policy: subdivision > country > continent > default', async () => {
      const ask = async (subnet: string) =>
        (await kdig(dns.port, [...tx, '+short', `+subnet=${subnet}`, 'geo.example.test', 'A'])).trim();
      expect(await ask('198.18.1.0/24')).toBe('198.51.100.20'); // GB
      expect(await ask('198.18.4.0/24')).toBe('198.51.100.30'); // SG
      expect(await ask('198.18.5.0/24')).toBe('198.51.100.20'); // DE -> continent EU
      expect(await ask('198.18.7.0/24')).toBe('198.51.100.10'); // JP -> default
    });
  });

  describe('UDP size and truncation', () => {
    it('sets TC when the answer exceeds the client UDP size and serves it in full over TCP', async () => {
      const udp = await kdig(dns.port, ['+bufsize=1232', '+ignore', 'big.example.test', 'TXT']);
      expect(udp).toMatch(/Flags: qr aa tc/);
      expect(udp).toMatch(/ANSWER: 0/);
      const tcp = await kdig(dns.port, ['+tcp', 'big.example.test', 'TXT']);
      expect(tcp).toMatch(/ANSWER: 10/);
      expect(tcp).not.toMatch(/ tc/);
    });

    it('honours a client UDP size below ours and 512 without EDNS', async () => {
      const plain = await dig(dns.port, ['+noedns', '+ignore', 'example.test', 'NS']);
      expect(plain).toMatch(/flags: qr aa/);
      const noEdns = await dig(dns.port, ['+noedns', '+ignore', 'big.example.test', 'TXT']);
      expect(noEdns).toMatch(/flags: qr aa tc/);
      const small = await kdig(dns.port, ['+bufsize=600', '+ignore', 'example.test', 'NS']);
      expect(small).not.toMatch(/ tc/); // fits in 600
    });

    it('dig retries truncated answers over TCP by itself', async () => {
      const out = await dig(dns.port, ['big.example.test', 'TXT']);
      expect(out).toMatch(/Truncated, retrying in TCP mode/);
      expect(out).toMatch(/ANSWER: 10/);
    });
  });

  describe('raw wire rules', () => {
    it('matches names case-insensitively and echoes the question byte-for-byte (0x20)', async () => {
      const q = buildQuery('wWw.ExAmPlE.TeSt', TYPE.A, { id: 0x1234, rd: true });
      const r = (await udpExchange(dns.port, q)) as Buffer;
      expect(r.subarray(12, q.length).equals(q.subarray(12))).toBe(true);
      const d = decode(r);
      expect(d.header.rcode).toBe(0);
      expect(d.answers).toHaveLength(1);
      expect(d.answers[0]?.name).toBe('wWw.ExAmPlE.TeSt');
    });

    it('answers FORMERR for two questions and for a truncated question', async () => {
      const two = buildQuery('www.example.test', TYPE.A, { id: 7 });
      two.writeUInt16BE(2, 4);
      expect(decode((await udpExchange(dns.port, two)) as Buffer).header.rcode).toBe(1);
      const cut = buildQuery('www.example.test', TYPE.A, { id: 8 }).subarray(0, 20);
      const r = (await udpExchange(dns.port, cut)) as Buffer;
      expect(r.readUInt16BE(0)).toBe(8);
      expect(r.readUInt16BE(2) & 0xf).toBe(1);
    });

    it('answers FORMERR for a malformed ECS option (bits set past the source prefix)', async () => {
      const q = buildQuery('www.example.test', TYPE.A, {
        id: 9,
        ecs: { address: Uint8Array.from([198, 18, 4, 0]), sourcePrefix: 24 },
      });
      const q2 = buildQuery('www.example.test', TYPE.A, {
        id: 10,
        ecs: { address: Uint8Array.from([198, 18, 4, 0]), sourcePrefix: 20 },
      });
      q2[q2.length - 1] = 0x0f; // low 4 bits of the third byte lie past /20
      expect(decode((await udpExchange(dns.port, q2)) as Buffer).header.rcode).toBe(1);
      expect(decode((await udpExchange(dns.port, q)) as Buffer).header.rcode).toBe(0);
    });

    it('drops responses (QR set) and runt packets instead of answering them', async () => {
      const resp = buildQuery('www.example.test', TYPE.A, { id: 11 });
      resp.writeUInt16BE(0x8000, 2);
      expect(await udpExchange(dns.port, resp, 300)).toBeUndefined();
      expect(await udpExchange(dns.port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
    });

    it('answers pipelined queries on one TCP connection', async () => {
      const qs = Array.from({ length: 20 }, (_, i) => buildQuery('www.example.test', TYPE.A, { id: 100 + i }));
      const replies = await tcpExchange(dns.port, qs);
      expect(replies.map((r) => r.readUInt16BE(0)).sort()).toEqual(qs.map((_, i) => 100 + i).sort());
    });

    it('echoes ECS scope 0 for answers that do not depend on the client', async () => {
      const out = await kdig(dns.port, ['+subnet=198.18.4.0/24', 'mail.example.test', 'A']);
      expect(out).toMatch(/CLIENT-SUBNET: 198\.18\.4\.0\/24\/0/);
    });
  });

  describe('operations', () => {
    it('reloads on file change, refuses a bad file and keeps serving the old config', async () => {
      const text = readFileSync(config, 'utf8');
      const ask = async () => (await kdig(dns.port, ['+short', 'mail.example.test', 'A'])).trim();
      expect(await ask()).toBe('192.0.2.25');
      // A bad file is refused: the server keeps answering from the previous config.
      writeFileSync(`${config}.tmp`, text.replace('value: 192.0.2.25', 'value: 999.1.1.1'));
      renameSync(`${config}.tmp`, config);
      await dns.waitLog(/new configuration refused/);
      await dns.waitLog(/zones\.example\.test\.records\[\d+\]\.value: not an IPv4 address/);
      expect(await ask()).toBe('192.0.2.25');
      // A good file is applied.
      writeFileSync(`${config}.tmp`, text.replace('value: 192.0.2.25', 'value: 192.0.2.26'));
      renameSync(`${config}.tmp`, config);
      await waitFor(async () => (await ask()) === '192.0.2.26', 'the reload to take effect');
    });

    it('re-reads a geo database updated in place (SIGHUP, as geo.reload_cron does)', async () => {
      const db = /database: (\S+)/.exec(readFileSync(config, 'utf8'))?.[1] as string;
      const original = readFileSync(db);
      const ask = async () =>
        (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
      expect(await ask()).toBe('198.51.100.20'); // London -> eu-west
      const moved = new MmdbWriter('GeoIP2-City', 'moved');
      moved.insert('198.18.1.0/24', {
        country: { iso_code: 'SG' },
        continent: { code: 'AS' },
        location: { latitude: new Double(1.35), longitude: new Double(103.82) },
      });
      writeFileSync(`${db}.new`, moved.toBuffer());
      renameSync(`${db}.new`, db);
      dns.proc.kill('SIGHUP');
      try {
        await waitFor(async () => (await ask()) === '198.51.100.30', 'the reload to take effect');
      } finally {
        writeFileSync(db, original);
        dns.proc.kill('SIGHUP');
      }
      await waitFor(async () => (await ask()) === '198.51.100.20', 'the reload to take effect');
    });

    it('on SIGHUP reloads what changed, and says so when nothing did', async () => {
      const count = (re: RegExp) => (dns.log().match(re) ?? []).length;
      const unchanged = count(/"event":"config\.unchanged"/g);
      dns.proc.kill('SIGHUP');
      await waitFor(() => count(/"event":"config\.unchanged"/g) > unchanged, 'the SIGHUP to be acknowledged');
      await new Promise((r) => setTimeout(r, 500));
      // Nothing was reloaded for it (an earlier test's reload may still log before it).
      const log = dns.log();
      expect(log.slice(log.lastIndexOf('"event":"config.unchanged"'))).not.toMatch(/"event":"config\.reloaded"/);
    });
  });
});
