// Outside-in health with nothing but vantage points: three regions without any PoP agent, each a
// real HTTP server on its own loopback address, checked by two real `gtm probe` processes. The
// real `gtm dns` stops answering a region its server is gone from, and answers it again when it
// is back; a killed probe's lease runs out and the vantage signal falls silent (fail open), never
// "down"; `gtm explain --live` shows the quorum through the control API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { liveExplain } from '../../src/cli/explain.js';
import { parseConfigText } from '../../src/config/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type VantageReport } from '../../src/contract/index.js';
import { dig, freePort, ROOT, startDns, tempDir, watchChild, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const VIPS = { 'us-east': '127.0.0.31', 'eu-west': '127.0.0.32', 'ap-southeast': '127.0.0.33' } as const;

function configText(dir: string, checkPort: number, apiPort: number): string {
  const regions = Object.entries(VIPS)
    .map(([r, vip], i) => `  ${r}:\n    vip: ${vip}\n    location: { lat: ${10 * i}, lon: ${20 * i} }\n`)
    .join('');
  return `dns:
  listen: 127.0.0.1:5353
  workers: 1
regions:
${regions}zones:
  example.test:
    soa: { mname: ns1, rname: hostmaster, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60, ttl: 3600 }
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
services:
  www:
    name: www.example.test
    ttl: 5
    pools: [us-east, eu-west, ap-southeast]
    answers: 3
    policy: { all-healthy: {} }
control:
  store: { file: ${join(dir, 'state.json')} }
  lease_ms: 1500
  heartbeat_ms: 250
  api: { listen: 127.0.0.1:${apiPort}, audit_log: ${join(dir, 'audit.jsonl')} }
  vantage:
    quorum: 1
    min_reports: 2
    interval_ms: 200
    rise: 2
    fall: 2
    lease_ms: 1000
    check: { type: http, port: ${checkPort}, path: /healthz, timeout_ms: 150 }
`;
}

function site(address: string, port: number): Promise<Server> {
  const s = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('ok'));
  return new Promise((resolve) => s.listen(port, address, () => resolve(s)));
}

const close = (s: Server) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())));

describe('vantage probes decide for regions without agents', () => {
  const dir = tempDir('gtm-vantage-');
  const children: ChildProcess[] = [];
  let dns: RunningDns | undefined;
  let stopControl: (() => Promise<void>) | undefined;
  const servers = new Map<string, Server>();
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await dns?.stop();
    await stopControl?.();
    for (const s of servers.values()) await close(s);
  });

  it('down when no vantage point reaches it, back when it is reachable, silent when the points are gone', async () => {
    const checkPort = await freePort();
    const apiPort = await freePort();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, configText(dir, checkPort, apiPort));
    for (const [r, vip] of Object.entries(VIPS)) servers.set(r, await site(vip, checkPort));

    const probe = (name: string) => {
      const p = spawn(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'probe', '--config', file, '--name', name], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout?.on('data', (d) => (out += d));
      p.stderr?.on('data', (d) => (out += d));
      children.push(p);
      return { p, out: () => out };
    };
    const a = probe('vp-a');
    const b = probe('vp-b');
    dns = await startDns(file, 1);
    const port = dns.port;
    const answers = async () =>
      (await dig(port, ['www.example.test', 'A', '+short'])).trim().split('\n').filter(Boolean).sort();
    const store = new FileStateStore(join(dir, 'state.json'));
    const reports = async () => (await store.list<VantageReport>(KEYS.vantages)).map((e) => e.value);

    await waitFor(
      async () => (await reports()).filter((r) => r.targets.length === 3).length === 2,
      'both vantage points to report every region',
      10_000,
    );
    expect(await answers()).toEqual(Object.values(VIPS).sort());

    // The EU site stops answering: both points lose it, the quorum is not met, DNS drops it.
    await close(servers.get('eu-west') as Server);
    await waitFor(
      async () => !(await answers()).includes(VIPS['eu-west']),
      'DNS to stop answering eu-west',
      10_000,
      100,
    );
    expect(await answers()).toEqual([VIPS['us-east'], VIPS['ap-southeast']].sort());
    await waitFor(
      () => /"event":"vantage.target".*"region":"eu-west","reachable":false/.test(a.out()),
      'vp-a to log it',
    );

    // explain --live through the control API shows the verdict and who could not reach it.
    // A real `gtm control` in its own process (loading the geo data for the first explain would
    // otherwise stall this process, and with it the sites the probes check).
    const controlProc = spawn(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const control = watchChild(controlProc);
    stopControl = control.stop;
    await waitFor(() => control.log().includes('control API listening'), 'gtm control to listen', 10_000);
    const api = `http://127.0.0.1:${apiPort}`;
    await waitFor(
      async () =>
        /eu-west: down .*decided by vantage/.test(
          (await liveExplain(api, { name: 'www.example.test', type: 'A', client: '192.0.2.1' })).text,
        ),
      'the live explain to show eu-west down by vantage',
      5000,
      // Within explain's per-client rate (5 per second).
      250,
    );
    const live = await liveExplain(api, { name: 'www.example.test', type: 'A', client: '192.0.2.1' });
    expect(live.ok).toBe(true);
    expect(live.text).toMatch(/eu-west: down .*decided by vantage/);
    expect(live.text).toMatch(
      /vantage: unreachable \(0 reach it, quorum 1, 2 opinions needed\); cannot reach: vp-a, vp-b|cannot reach: vp-b, vp-a/,
    );
    expect(live.text).toMatch(/us-east: up .*decided by vantage/);
    expect(live.text).toMatch(/agents: none reporting/);
    expect(live.text).not.toMatch(/steering: none/); // www is steered

    // Back: the site answers again, rise passes, DNS answers it again.
    servers.set('eu-west', await site(VIPS['eu-west'], checkPort));
    await waitFor(async () => (await answers()).includes(VIPS['eu-west']), 'DNS to answer eu-west again', 10_000, 100);

    // A vantage point killed without a goodbye: its lease runs out, one opinion is below
    // min_reports, and a region whose site is gone then keeps its configured status (fail open).
    b.p.kill('SIGKILL');
    await close(servers.get('ap-southeast') as Server);
    await waitFor(async () => (await reports()).length === 1, "the killed point's report to expire", 5000, 100);
    await new Promise((r) => setTimeout(r, 1000)); // several rounds of the remaining point
    expect(await answers()).toContain(VIPS['ap-southeast']);
    const after = await liveExplain(api, { name: 'www.example.test', type: 'A', client: '192.0.2.1' });
    expect(after.text).toMatch(/ap-southeast: up .*decided by config/);
    expect(after.text).toMatch(/vantage: no-opinion/);
    a.p.kill('SIGTERM');
    await waitFor(() => a.p.exitCode !== null, 'gtm probe to stop on SIGTERM');
    // A stopped point takes its report out: nothing stale left behind.
    expect(await reports()).toEqual([]);
  }, 60_000);
});

describe('vantage config', () => {
  const base = (dir: string, vantage: string) => configText(dir, 8080, 9190).replace(/  vantage:[\s\S]*$/, vantage);
  it('defaults, a per-region check, and each mistake refused by path', () => {
    const dir = tempDir('gtm-vantage-cfg-');
    const ok = parseConfigText(
      base(dir, '  vantage: {}\n').replace(
        '    vip: 127.0.0.32\n',
        '    vip: 127.0.0.32\n    check: { type: tcp, port: 443 }\n',
      ),
    );
    expect(ok.control?.vantage).toMatchObject({ quorum: 1, minReports: 2, intervalMs: 1000, rise: 2, fall: 2 });
    expect(ok.control?.vantage?.check).toMatchObject({ type: 'http', port: 80, path: '/' });
    expect(ok.regions.get('eu-west')?.check).toEqual({ type: 'tcp', port: 443, timeoutMs: 1000 });
    expect(() =>
      parseConfigText(
        base(
          dir,
          '  vantage: { quorum: 3, min_reports: 2, interval_ms: 1000, lease_ms: 1500, check: { type: smtp }, colour: red }\n',
        ),
      ),
    ).toThrow(
      /control\.vantage\.colour: unknown key[\s\S]*control\.vantage\.min_reports: must be at least quorum \(3\)[\s\S]*control\.vantage\.lease_ms: must be at least twice interval_ms[\s\S]*control\.vantage\.check\.type: must be http/,
    );
  });
});
