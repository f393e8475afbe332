// DNS cookies (RFC 7873, server cookies as RFC 9018 makes them) through the real `gtm dns`, with
// Knot DNS beside it sharing the secret, as two servers of one anycast set would: the server
// cookie Knot gives a client is the one gtm would give (byte for byte, at the same second), gtm
// accepts it, and a client with a valid cookie is proven not spoofed, so response rate limiting
// leaves it alone while the same questions without one are limited.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverCookie } from '../../src/dns/cookies.js';
import { ipv4Bytes } from '../../src/net/index.js';
import { freePort, kdig, run, startDns, tempDir, testConfig, udpExchange, type RunningDns } from '../helpers/dns.js';
import { buildQuery } from '../../src/wire/index.js';
import { startServer, type RunningServer } from '../helpers/secondaries.js';

const SECRET = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
process.env.GTM_TEST_COOKIE_SECRET = SECRET;
let dir: string;
let gtm: RunningDns;
let knot: RunningServer;

const cookieOf = (out: string) => /COOKIE: ([0-9A-Fa-f]+)/.exec(out)?.[1]?.toLowerCase();
const cookies = async () => {
  const url = `http://${(/"metrics":"http:\/\/([^"]+)\/metrics"/.exec(gtm.log()) as RegExpExecArray)[1]}/metrics`;
  const body = await (await fetch(url)).text();
  const n = (r: string) =>
    Number(new RegExp(`^gtm_dns_cookies_total\\{result="${r}"\\} (\\d+)`, 'm').exec(body)?.[1] ?? 0);
  return { valid: n('valid'), fresh: n('new') };
};

beforeAll(async () => {
  dir = tempDir('gtm-cookies-');
  const cfg = testConfig(dir);
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8').replace(
      /^dns:\n/m,
      'dns:\n  cookie_secret_env: GTM_TEST_COOKIE_SECRET\n  rrl: { responses_per_second: 1, window_s: 5, slip: 1 }\n',
    ),
  );
  gtm = await startDns(cfg, 1);
  const port = await freePort();
  const home = join(dir, 'knot');
  const zone = join(dir, 'example.test.zone');
  writeFileSync(
    zone,
    'example.test. 60 IN SOA ns1.example.test. h.example.test. 1 60 60 60 60\nexample.test. 60 IN NS ns1.example.test.\n',
  );
  const conf = `server:\n  listen: 127.0.0.1@${port}\n  rundir: "${home}"\ndatabase:\n  storage: "${home}"\nmod-cookies:\n  - id: shared\n    secret: 0x${SECRET}\ntemplate:\n  - id: default\n    global-module: mod-cookies/shared\nzone:\n  - domain: example.test\n    file: "${zone}"\n`;
  knot = await startServer('knot', 'knot (cookies)', port, home, conf, ['example.test']);
}, 60_000);

afterAll(async () => {
  await knot?.stop();
  await gtm?.stop();
});

describe('DNS cookies', () => {
  it('answers a client cookie with a server cookie (dig calls it good); a malformed option is FORMERR', async () => {
    const dig = await run('dig', ['@127.0.0.1', '-p', String(gtm.port), '+cookie', 'www.example.test', 'A']);
    expect(dig.stdout).toMatch(/; COOKIE: [0-9a-f]{48} \(good\)/);
    // The same question again (a memoised answer): each client still gets its own cookie back.
    for (const sub of ['', '+subnet=198.18.1.0/24']) {
      const again = await run('dig', [
        '@127.0.0.1',
        '-p',
        String(gtm.port),
        '+cookie',
        ...(sub ? [sub] : []),
        'www.example.test',
        'A',
      ]);
      expect(again.stdout).toMatch(/; COOKIE: [0-9a-f]{48} \(good\)/);
      expect(cookieOf(again.stdout)?.slice(0, 16)).not.toBe(cookieOf(dig.stdout)?.slice(0, 16));
    }
    // Version 1, three reserved zero bytes, then a timestamp of now (RFC 9018).
    const server = (cookieOf(dig.stdout) as string).slice(16);
    expect(server.slice(0, 8)).toBe('01000000');
    expect(Math.abs(parseInt(server.slice(8, 16), 16) - Date.now() / 1000)).toBeLessThan(5);
    // A 10-byte COOKIE option (a server cookie of 2 bytes): kdig refuses to send one, so by hand.
    const q = buildQuery('www.example.test', 1, { id: 7 });
    q.writeUInt16BE(1, 10);
    const opt = Buffer.from('0000290200000000000e000a000a00112233445566778899aa', 'hex');
    const bad = (await udpExchange(gtm.port, Buffer.concat([q, opt]))) as Buffer;
    expect(bad.readUInt16BE(2) & 0xf).toBe(1); // FORMERR
  });

  it("makes the very server cookie Knot makes with the same secret, and accepts Knot's", async () => {
    const before = await cookies();
    const fromKnot = cookieOf(await kdig(knot.port, ['+cookie', 'example.test', 'SOA'])) as string;
    expect(fromKnot).toHaveLength(48);
    const client = Buffer.from(fromKnot.slice(0, 16), 'hex');
    const t = parseInt(fromKnot.slice(24, 32), 16);
    const ours = Buffer.from(serverCookie(Buffer.from(SECRET, 'hex'), client, ipv4Bytes('127.0.0.1'), t)).toString(
      'hex',
    );
    expect(ours).toBe(fromKnot.slice(16));
    await kdig(gtm.port, [`+cookie=${fromKnot}`, 'www.example.test', 'A']);
    const accepted = await cookies();
    expect(accepted.valid - before.valid).toBe(1);
    // One with a server cookie of another secret gets a new one (+ignore: a truncated answer from
    // rate limiting is not retried over TCP, which would count a second query).
    await kdig(gtm.port, [
      '+ignore',
      `+cookie=${fromKnot.slice(0, 16)}01000000${fromKnot.slice(24, 32)}0000000000000000`,
      'www.example.test',
      'A',
    ]);
    const after = await cookies();
    expect(after.valid).toBe(accepted.valid);
    expect(after.fresh - accepted.fresh).toBe(1);
  });

  it('leaves a client with a valid cookie out of response rate limiting', async () => {
    const full = cookieOf(await kdig(gtm.port, ['+cookie', 'static.example.test', 'A'])) as string;
    const ask = async (extra: string[]) =>
      await kdig(gtm.port, ['+notcp', '+ignore', ...extra, 'static.example.test', 'A']);
    let withCookie = 0;
    let without = 0;
    for (let i = 0; i < 8; i++) {
      if (/ANSWER: 1/.test(await ask([`+cookie=${full}`]))) withCookie++;
      if (/ANSWER: 1/.test(await ask(['+nocookie']))) without++;
    }
    expect(withCookie).toBe(8);
    expect(without).toBeLessThan(4);
  });
});
