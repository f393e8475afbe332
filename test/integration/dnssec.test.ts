// DNSSEC proven by validators we did not write: keys made by `gtm dnssec keygen`, the DS from
// `gtm dnssec ds` as the only trust anchor, and then delv (BIND) validating each kind of answer
// straight from `gtm dns`, and unbound (with ECS through its subnetcache) setting AD on them for
// its clients, over UDP and TCP. A server signing with the wrong key makes unbound SERVFAIL.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kdig, ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startUnbound, type RunningUnbound } from '../helpers/unbound.js';

const gtm = (args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], { encoding: 'utf8' });

/** The example config, signed with the keys in `keys` (and the given signing algorithm). */
function signedConfig(dir: string, keys: string, algorithm = 'ecdsap256sha256'): string {
  // x.ent.example.test makes ent.example.test an empty non-terminal.
  // big: two TXT records that fit 512 bytes unsigned but not with their signature.
  const txt = (c: string) => `      - { name: big, type: TXT, value: "${c.repeat(200)}" }\n`;
  const file = testConfig(dir, {
    records: `      - { name: x.ent, type: A, value: 192.0.2.99 }\n${txt('a')}${txt('b')}`,
  });
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      '    ns: [ns1, ns2]\n',
      `    ns: [ns1, ns2]\n    dnssec: { keys: ${keys}, algorithm: ${algorithm} }\n`,
    ),
  );
  return file;
}

/** delv's trust-anchors clause for DS lines. */
const anchorConf = (ds: string[]) =>
  `trust-anchors {\n${ds
    .map((l) => l.trim().split(/\s+/))
    .map((f) => `  ${f[0]} static-ds ${f[3]} ${f[4]} ${f[5]} "${f[6]}";`)
    .join('\n')}\n};\n`;

const flagsOf = (out: string) => /;; Flags: ([^;]*);/.exec(out)?.[1]?.trim().split(/\s+/) ?? [];
const statusOf = (out: string) => /status: (\w+)/.exec(out)?.[1];

describe.each([
  ['ecdsap256sha256', 13],
  ['ed25519', 15],
])('DNSSEC with %s, checked by delv and unbound', (algorithm, number) => {
  const dir = tempDir('gtm-dnssec-');
  const keys = join(dir, 'keys');
  let dns: RunningDns;
  let unbound: RunningUnbound;
  let ds: string[];
  let anchors: string;
  beforeAll(async () => {
    const config = signedConfig(dir, keys, algorithm);
    expect(gtm(['dnssec', 'keygen', '--config', config, '--zone', 'example.test'])).toMatch(/CSK, tag \d+, mode 0600/);
    ds = gtm(['dnssec', 'ds', '--config', config, '--zone', 'example.test']).trim().split('\n');
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatch(new RegExp(`^example\\.test\\. IN DS \\d+ ${number} 2 [0-9A-F]{64}$`));
    anchors = join(dir, 'anchors.conf');
    writeFileSync(anchors, anchorConf(ds));
    dns = await startDns(config, 2);
    unbound = await startUnbound(join(dir, 'unbound'), { upstreamPort: dns.port, zone: 'example.test', anchors: ds });
  }, 30_000);
  afterAll(async () => {
    await unbound?.stop();
    await dns?.stop();
  });

  const delv = async (name: string, type: string, extra: string[] = []) =>
    (
      await run('delv', [
        '@127.0.0.1',
        '-p',
        String(dns.port),
        '-a',
        anchors,
        '+root=example.test',
        ...extra,
        name,
        type,
      ])
    ).stdout;

  it.each([
    ['static data', 'static.example.test', 'A', /static\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/],
    ['a steered name', 'www.example.test', 'A', /www\.example\.test\.\s+30\s+IN\s+A\s+198\.51\.100\./],
    ['a CNAME chain into a steered name', 'app.example.test', 'A', /www\.example\.test\.\s+30\s+IN\s+A/],
    ['the DNSKEY set', 'example.test', 'DNSKEY', /DNSKEY\s+257 3 /],
    ['CDS for the parent', 'example.test', 'CDS', /CDS\s+\d+ /],
  ])('delv fully validates %s, over UDP and TCP', async (_what, name, type, expected) => {
    for (const extra of [[], ['+tcp']]) {
      const out = await delv(name, type, extra);
      expect(out, out).toMatch(/; fully validated/);
      expect(out).toMatch(expected);
    }
  });

  it.each([
    ['a name that does not exist (compact denial)', 'nope.example.test', 'A'],
    ['a type the name does not have', 'static.example.test', 'AAAA'],
    ['an empty non-terminal', 'ent.example.test', 'A'],
    ['a type the apex does not have', 'example.test', 'AAAA'],
  ])('delv validates the denial of %s', async (_what, name, type) => {
    const out = await delv(name, type);
    expect(out, out).toMatch(/negative response, fully validated/);
  });

  it('unbound sets AD on static, steered (per ECS subnet), NXDOMAIN and NODATA answers, UDP and TCP', async () => {
    const ask = (args: string[]) => kdig(unbound.port, ['+dnssec', ...args]);
    for (const transport of [[], ['+tcp']]) {
      const stat = await ask([...transport, 'static.example.test', 'A']);
      expect(flagsOf(stat), stat).toContain('ad');
      // The steered name through unbound's subnet cache: two clients, two regions, both validated.
      const ny = await ask([...transport, '+subnet=198.18.3.0/24', 'www.example.test', 'A']);
      const sg = await ask([...transport, '+subnet=198.18.4.0/24', 'www.example.test', 'A']);
      expect(flagsOf(ny), ny).toContain('ad');
      expect(flagsOf(sg), sg).toContain('ad');
      expect(ny).toMatch(/198\.51\.100\.10/);
      expect(sg).toMatch(/198\.51\.100\.30/);
      const nx = await ask([...transport, 'nope.example.test', 'A']);
      expect(flagsOf(nx), nx).toContain('ad');
      expect(['NOERROR', 'NXDOMAIN']).toContain(statusOf(nx));
      const nodata = await ask([...transport, 'static.example.test', 'AAAA']);
      expect(flagsOf(nodata), nodata).toContain('ad');
      expect(statusOf(nodata)).toBe('NOERROR');
    }
  });

  it('a key file made readable by others is refused on reload; the server keeps signing with its keys', async () => {
    const file = join(keys, readdirSync(keys)[0] as string);
    chmodSync(file, 0o644);
    try {
      dns.proc.kill('SIGHUP');
      await dns.waitLog(/"event":"config.refused".*readable by others \(mode 644\)/);
      expect(await delv('static.example.test', 'A')).toMatch(/; fully validated/);
    } finally {
      chmodSync(file, 0o600);
    }
  });

  it('compact denial on the wire: NOERROR, one NSEC at the name with NXNAME, nothing to walk', async () => {
    const out = await kdig(dns.port, ['+dnssec', 'nope.example.test', 'A']);
    expect(statusOf(out)).toBe('NOERROR');
    expect(out).toMatch(
      /nope\.example\.test\.\s+60\s+IN\s+NSEC\s+\\000\.nope\.example\.test\. RRSIG NSEC (NXNAME|TYPE128)/,
    );
    // Without DO the same question is a plain NXDOMAIN.
    expect(statusOf(await kdig(dns.port, ['nope.example.test', 'A']))).toBe('NXDOMAIN');
    // Asking for the NXNAME meta-type itself is a format error (RFC 9824 §3.5).
    expect(statusOf(await kdig(dns.port, ['nope.example.test', 'TYPE128']))).toBe('FORMERR');
  });

  it('signed answers obey the UDP size: TC at 512 bytes, whole over TCP; the DNSKEY set fits 1232', async () => {
    const plain = await kdig(dns.port, ['+bufsize=512', '+ignore', 'big.example.test', 'TXT']);
    expect(flagsOf(plain)).not.toContain('tc'); // fits unsigned ...
    const small = await kdig(dns.port, ['+dnssec', '+bufsize=512', '+ignore', 'big.example.test', 'TXT']);
    expect(flagsOf(small)).toContain('tc'); // ... not with its signature
    const whole = await kdig(dns.port, ['+dnssec', '+tcp', 'big.example.test', 'TXT']);
    expect(statusOf(whole)).toBe('NOERROR');
    expect(whole).toMatch(/RRSIG\s+TXT/);
    expect(Number(/Received (\d+) B/.exec(whole)?.[1])).toBeGreaterThan(512);
    const keys = await kdig(dns.port, ['+dnssec', 'example.test', 'DNSKEY']);
    expect(flagsOf(keys)).not.toContain('tc');
    expect(Number(/Received (\d+) B/.exec(keys)?.[1])).toBeLessThan(1232);
  });
});

describe('a validator really validates', () => {
  it('a server signing with a key the anchor does not know is SERVFAIL at unbound', async () => {
    const dir = tempDir('gtm-dnssec-bad-');
    const good = signedConfig(join(dir, 'a'), join(dir, 'a', 'keys'));
    gtm(['dnssec', 'keygen', '--config', good, '--zone', 'example.test']);
    const anchor = gtm(['dnssec', 'ds', '--config', good, '--zone', 'example.test']).trim().split('\n');
    const wrong = signedConfig(join(dir, 'b'), join(dir, 'b', 'keys'));
    gtm(['dnssec', 'keygen', '--config', wrong, '--zone', 'example.test']);
    const dns = await startDns(wrong, 1);
    const unbound = await startUnbound(join(dir, 'unbound'), {
      upstreamPort: dns.port,
      zone: 'example.test',
      anchors: anchor,
    });
    try {
      const out = await kdig(unbound.port, ['+dnssec', 'static.example.test', 'A']);
      expect(statusOf(out), out).toBe('SERVFAIL');
    } finally {
      await unbound.stop();
      await dns.stop();
    }
  }, 30_000);
});
