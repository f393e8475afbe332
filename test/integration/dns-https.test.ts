// Steered HTTPS records (RFC 9460) through the real server, read by kdig: a steered name with
// `https` answers HTTPS with its configured parameters and, as address hints, the addresses the
// policy gives that client (the region its A and AAAA answers name), following ECS and region
// state; signed in a signed zone; and transferred with the rendition's addresses as hints.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, writeKey } from '../../src/dnssec/index.js';
import { gtmExplain, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const SINGAPORE = '198.18.4.0/24';
const NEW_YORK = '198.18.3.0/24';
let dir: string;
let config: string;
let gtm: RunningDns | undefined;

const records = (out: string) =>
  out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).slice(3).join(' '));
const ask = async (subnet: string, type: string, extra: string[] = []) =>
  records(
    await kdig((gtm as RunningDns).port, [
      '+norec',
      '+noall',
      '+answer',
      `+subnet=${subnet}`,
      ...extra,
      'www.example.test',
      type,
    ]),
  );

/** The HTTPS answer's hints, and the A and AAAA answers, for one client. */
async function view(subnet: string) {
  const [https] = await ask(subnet, 'HTTPS');
  const a = (await ask(subnet, 'A')).map((r) => r.split(' ')[1]);
  const aaaa = (await ask(subnet, 'AAAA')).map((r) => r.split(' ')[1]);
  return { https, a, aaaa };
}

/** The config, then a reload (SIGHUP) when the server runs, waited for. */
async function writeConfig(o: { apSoutheastDown?: boolean; signed: boolean }) {
  const keys = join(dir, 'keys');
  const zone = o.signed ? `    dnssec: { keys: ${keys} }\n` : '    transfer: { allow: [127.0.0.1] }\n';
  let text = readFileSync(join(dir, 'base.yaml'), 'utf8')
    .replace('    ns: [ns1, ns2]\n', `    ns: [ns1, ns2]\n${zone}`)
    .replace('    policy: nearest\n', '    policy: nearest\n    https: "1 . alpn=h3,h2 port=443"\n');
  if (o.apSoutheastDown) text = text.replace('    country: SG\n', '    country: SG\n    state: down\n');
  writeFileSync(config, text);
  const g = gtm;
  if (!g) return;
  const reloads = () => (g.log().match(/"event":"config\.reloaded"/g) ?? []).length;
  const before = reloads();
  g.proc.kill('SIGHUP');
  await waitFor(() => reloads() > before, 'the reload', 10_000);
}

beforeAll(async () => {
  dir = tempDir('gtm-https-');
  const base = testConfig(dir);
  writeFileSync(join(dir, 'base.yaml'), readFileSync(base, 'utf8'));
  config = base;
  writeKey(join(dir, 'keys'), generateKey('example.test', 'csk', 13, Date.now()));
  await writeConfig({ signed: true });
  gtm = await startDns(config, 2);
}, 30_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('a steered HTTPS record', () => {
  it('gives each client the addresses of the region its A and AAAA answers name, as hints', async () => {
    const sg = await view(SINGAPORE);
    expect(sg.a).toEqual(['198.51.100.30']);
    expect(sg.https).toBe('HTTPS 1 . alpn=h3,h2 port=443 ipv4hint=198.51.100.30 ipv6hint=2001:db8:30::30');
    expect(sg.aaaa).toEqual(['2001:db8:30::30']);
    // gtm explain says where the hints came from.
    const explained = await gtmExplain(config, ['--client', '198.18.4.1', 'www.example.test', 'HTTPS']);
    expect(explained.stdout).toMatch(/^chosen: ap-southeast$/m);
    expect(explained.stdout).toMatch(
      /^https: ipv4hint=198\.51\.100\.30 ipv6hint=2001:db8:30::30 \(the chosen regions' addresses/m,
    );
    const ny = await view(NEW_YORK);
    expect(ny.https).toBe('HTTPS 1 . alpn=h3,h2 port=443 ipv4hint=198.51.100.10 ipv6hint=2001:db8:10::10');
    expect(ny.a).toEqual(['198.51.100.10']);
  });

  it('follows a region going down: the hints move with the A answer', async () => {
    await writeConfig({ apSoutheastDown: true, signed: true });
    const sg = await view(SINGAPORE);
    expect(sg.a).not.toEqual(['198.51.100.30']);
    expect(sg.https).toBe(`HTTPS 1 . alpn=h3,h2 port=443 ipv4hint=${sg.a[0]} ipv6hint=${sg.aaaa[0]}`);
    await writeConfig({ signed: true });
  });

  it('is signed in a signed zone', async () => {
    const out = await ask(SINGAPORE, 'HTTPS', ['+dnssec']);
    // (TTL 5, not 30: a region changed state within dns.unstable_window_s, test above.)
    expect(out.join('\n')).toMatch(/^RRSIG HTTPS 13 3 5 /m);
  });

  it('goes out in a zone transfer with every pool address as hints (what a secondary serves)', async () => {
    await writeConfig({ signed: false }); // (signed zones are not transferred)
    const axfr = records(await kdig((gtm as RunningDns).port, ['+noall', '+answer', 'example.test', 'AXFR'])).filter(
      (r) => r.startsWith('HTTPS'),
    );
    expect(axfr).toEqual([
      'HTTPS 1 . alpn=h3,h2 port=443 ipv4hint=198.51.100.10,198.51.100.20,198.51.100.30 ipv6hint=2001:db8:10::10,2001:db8:20::20,2001:db8:30::30',
    ]);
  });
});
