// Calculated health over pushed signals, end to end: eu-west is up while its agents say so and
// the signal db-eu is not down. The signal is pushed through the control API (scope `health`)
// and by a real Alertmanager's webhook; the real DNS server moves a London client accordingly;
// a value whose lease runs out reads as unknown (counted as up here), never as its last value;
// explain --live prints the expression step by step, and every push is audited.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { createLogger } from '../../src/observability/index.js';
import { kdig, runGtm, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startAlertmanager, type RunningAlertmanager } from '../helpers/alertmanager.js';
import { waitForValue } from '../helpers/wait.js';

const PUSHER = 'pusher-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
let dns: RunningDns;
let control: ControlServer;
let alertmanager: RunningAlertmanager;
let base: string;
let auditPath: string;

beforeAll(async () => {
  const dir = tempDir();
  const cfg = testConfig(dir);
  auditPath = join(dir, 'audit.jsonl');
  const text = readFileSync(cfg, 'utf8').replace(
    /(\n {2}eu-west:\n)/,
    '$1    health: { all: [agents, { signal: db-eu }] }\n',
  );
  writeFileSync(
    cfg,
    `${text}
control:
  store: { file: ${join(dir, 'state.json')} }
  signals:
    db-eu: { lease_s: 600 }
  api:
    listen: 127.0.0.1:0
    audit_log: ${auditPath}
    tokens:
      - { name: pusher, sha256: ${hashToken(PUSHER)}, scopes: [health] }
      - { name: viewer, sha256: ${hashToken(VIEWER)}, scopes: [read] }
`,
  );
  dns = await startDns(cfg, 2);
  const config = parseConfigText(readFileSync(cfg, 'utf8'));
  control = await startControl(config, new FileStateStore(join(dir, 'state.json')), createLogger('test', 'silent'));
  base = `http://127.0.0.1:${control.port}`;
  alertmanager = await startAlertmanager({ url: `${base}/api/v1/alertmanager`, token: PUSHER });
}, 60_000);
afterAll(async () => {
  await alertmanager?.stop();
  await control?.close();
  await dns?.stop();
});

const call = async (method: string, path: string, body?: unknown, token = PUSHER) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const london = async () => (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
const londonBecomes = (addr: string, timeoutMs = 5000) =>
  waitForValue(`London answered ${addr}`, london, (a) => a === addr, timeoutMs, 50);
const signals = async () => (await call('GET', '/api/v1/signals')).body as unknown as Record<string, unknown>[];

describe('calculated health over pushed signals', () => {
  it('starts unknown (counted as up), and follows the API: down moves London to New York, up brings it back', async () => {
    expect(await signals()).toEqual([{ name: 'db-eu', value: 'unknown', leaseS: 600 }]);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^gtm_health_signal\{signal="db-eu"\} -1$/m);
    await londonBecomes('198.51.100.20');
    expect((await call('PUT', '/api/v1/signals/db-eu', { up: false, reason: 'drill' }, VIEWER)).status).toBe(403);
    expect((await call('PUT', '/api/v1/signals/nope', { up: false, reason: 'drill' })).status).toBe(404);
    expect((await call('PUT', '/api/v1/signals/db-eu', { up: 'no', reason: 'drill' })).status).toBe(400);
    const set = await call('PUT', '/api/v1/signals/db-eu', { up: false, reason: 'primary database failing over' });
    expect(set.status).toBe(200);
    await londonBecomes('198.51.100.10');
    expect(await signals()).toMatchObject([{ name: 'db-eu', value: 'down', who: 'pusher' }]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gtm_health_signal\{signal="db-eu"\} 0$/m);
    const explained = await runGtm(['explain', '--live', '--api', base, '--client', '198.18.1.1', 'www.example.test']);
    expect(explained.stdout).toContain('health: eu-west calculated: all(agents=up, signal db-eu=down)=down');
    await call('PUT', '/api/v1/signals/db-eu', { up: true, reason: 'failover done' });
    await londonBecomes('198.51.100.20');
  });

  it('a value past its lease reads as unknown, not as its last value', async () => {
    await call('PUT', '/api/v1/signals/db-eu', { up: false, reason: 'short', lease_s: 2 });
    await londonBecomes('198.51.100.10');
    // Unknown counts as up for this region (the default): back in DNS once the lease runs out.
    await londonBecomes('198.51.100.20', 6000);
    expect(await signals()).toMatchObject([{ name: 'db-eu', value: 'unknown', reason: 'short' }]);
  });

  it("a real Alertmanager's firing alert takes the region out; resolved brings it back; audited", async () => {
    await alertmanager.alert({
      labels: { alertname: 'DbEuDown', gtm_signal: 'db-eu', severity: 'page' },
      annotations: { summary: 'replication stopped' },
    });
    await londonBecomes('198.51.100.10', 15_000);
    expect(await signals()).toMatchObject([
      { value: 'down', who: 'pusher', reason: 'alert DbEuDown firing: replication stopped' },
    ]);
    await alertmanager.alert({
      labels: { alertname: 'DbEuDown', gtm_signal: 'db-eu', severity: 'page' },
      resolved: true,
    });
    await londonBecomes('198.51.100.20', 15_000);
    // An alert naming no signal is acknowledged (Alertmanager would resend it) and set nothing.
    const r = await call('POST', '/api/v1/alertmanager', {
      version: '4',
      alerts: [{ status: 'firing', labels: { alertname: 'Unrelated' } }],
    });
    expect(r.body).toEqual({ applied: [], ignored: [{ alert: 'Unrelated', why: 'no gtm_signal label' }] });
    const audit = readFileSync(auditPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; target: string; outcome: string; why: string });
    const pushes = audit.filter((e) => e.target === 'db-eu' && e.outcome === 'applied');
    expect(pushes.map((e) => e.action)).toEqual(['signal', 'signal', 'signal', 'alertmanager', 'alertmanager']);
    expect(pushes.at(-1)?.why).toBe('alert DbEuDown resolved');
  }, 40_000);
});
