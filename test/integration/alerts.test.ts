// Alerts to webhooks, against a local HTTP receiver: the documented bodies, a receiver that is
// down and comes back, repeats dropped, a receiver that never comes back (dead-letter log), and
// the whole path from an operator's change in the control API to a delivered alert.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertSender, alertBody, startAlerts, type Alert } from '../../src/alerts/index.js';
import { hashToken } from '../../src/auth/index.js';
import { parseConfigText, type AlertDestination } from '../../src/config/index.js';
import { startControl } from '../../src/control/index.js';
import { createLogger } from '../../src/observability/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { emit } from '../../src/contract/index.js';
import { freePort, tempDir, testConfig } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function receiver(port: number, status = 200): Promise<{ got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(status).end();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ got, server })));
}

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));
const log = createLogger('test-alerts', 'silent');
const down: Alert = {
  event: 'region.state',
  payload: { region: 'us-east', from: 'up', to: 'down', reason: 'not serving: us-east', source: 'health' },
  at: Date.parse('2026-11-24T00:00:00Z'),
};
const dest = (url: string, more: Partial<AlertDestination> = {}): AlertDestination => ({
  name: 'hook',
  url,
  format: 'json',
  events: ['region.state', 'guardrail.held'],
  ...more,
});

/**
 * `gtm control` in-process with one alert destination (YAML `destination`) pointing at a local
 * receiver, a token for `who`, and extra `control:` lines; `put` changes a region's override.
 */
async function controlWithAlerts(who: string, destination: (url: string) => string, extra = '') {
  const port = await freePort();
  const { got, server } = await receiver(port);
  servers.push(server);
  const dir = tempDir();
  const cfg = testConfig(dir);
  const token = 'alert-test-token-0123456789';
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
${extra}  api:
    listen: 127.0.0.1:0
    audit_log: ${join(dir, 'audit.jsonl')}
    tokens: [{ name: ${who}, sha256: ${hashToken(token)} }]
  alerts:
    - ${destination(`http://127.0.0.1:${port}/hook`)}
`,
  );
  const config = parseConfigText(readFileSync(cfg, 'utf8'));
  const control = await startControl(config, new FileStateStore(join(dir, 'state.json')), log);
  const put = (region: string, body: object) =>
    fetch(`http://127.0.0.1:${control.port}/api/v1/regions/${region}/override`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  return { got, control, put };
}

describe('alert bodies', () => {
  it('generic JSON, Slack and PagerDuty Events v2 (a region back up resolves its incident)', () => {
    expect(alertBody(dest('http://x'), down)).toEqual({
      event: 'region.state',
      at: '2026-11-24T00:00:00.000Z',
      summary: 'region us-east up -> down (not serving: us-east)',
      region: 'us-east',
      from: 'up',
      to: 'down',
      reason: 'not serving: us-east',
      source: 'health',
    });
    expect(alertBody(dest('http://x', { format: 'slack' }), down)).toEqual({
      text: 'gtm: region us-east up -> down (not serving: us-east)',
    });
    const pd = alertBody(dest('http://x', { format: 'pagerduty' }), down, 'rk') as Record<string, unknown>;
    expect(pd).toMatchObject({ routing_key: 'rk', event_action: 'trigger', dedup_key: 'gtm-region-us-east' });
    const up = { ...down, payload: { ...down.payload, from: 'down', to: 'up' } } as Alert;
    expect(alertBody(dest('http://x', { format: 'pagerduty' }), up, 'rk')).toMatchObject({
      event_action: 'resolve',
      dedup_key: 'gtm-region-us-east',
    });
  });
});

describe('delivery', () => {
  it('retries until a receiver that was down comes back, sends the secret as a bearer token, drops repeats', async () => {
    const port = await freePort();
    const sender = new AlertSender([dest(`http://127.0.0.1:${port}/hook`, { secretEnv: 'GTM_TEST_HOOK' })], {
      deadLetter: join(tempDir(), 'dead.jsonl'),
      log,
      retryBaseMs: 100,
      env: { GTM_TEST_HOOK: 's3cret' },
    });
    sender.send(down);
    sender.send({ ...down, at: down.at + 1000 }); // the same event a second later: dropped
    await new Promise((r) => setTimeout(r, 250)); // two attempts fail meanwhile
    const { got, server } = await receiver(port);
    servers.push(server);
    await waitFor(() => got.length === 1, 'the alert to arrive after the receiver came back', 5000);
    expect(got[0]?.headers.authorization).toBe('Bearer s3cret');
    expect(got[0]?.body).toMatchObject({ event: 'region.state', region: 'us-east', to: 'down' });
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toHaveLength(1);
    await sender.close();
  });

  it('a repeat is dropped, but a region that goes down, back up and down again alerts each time', async () => {
    const port = await freePort();
    const { got, server } = await receiver(port);
    servers.push(server);
    const sender = new AlertSender([dest(`http://127.0.0.1:${port}/hook`)], {
      deadLetter: join(tempDir(), 'd.jsonl'),
      log,
    });
    const up: Alert = { ...down, payload: { ...down.payload, from: 'down', to: 'up', reason: 'serving' } };
    sender.send(down);
    sender.send({ ...down, at: down.at + 500 }); // repeat: dropped
    sender.send({ ...up, at: down.at + 1000 });
    sender.send({ ...down, at: down.at + 2000 }); // down again: a new alert
    await waitFor(() => got.length === 3, 'three alerts', 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map((g) => g.body.to).sort()).toEqual(['down', 'down', 'up']); // posts run concurrently
    await sender.close();
  });

  it('writes what it could not deliver to the dead-letter log, after its attempts', async () => {
    const port = await freePort(); // nobody listens
    const dead = join(tempDir(), 'dead.jsonl');
    const sender = new AlertSender([dest(`http://127.0.0.1:${port}/`)], {
      deadLetter: dead,
      log,
      retryBaseMs: 50,
      attempts: 3,
    });
    sender.send(down);
    await waitFor(() => existsSync(dead), 'the dead-letter line', 5000);
    const line = JSON.parse(readFileSync(dead, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ destination: 'hook', attempts: 3, event: 'region.state' });
    expect(statSync(dead).mode & 0o777).toBe(0o600);
    await sender.close();
  });

  it('keeps the dead-letter log private and webhook secrets out of it (hardening round 3, item 11)', async () => {
    const port = await freePort(); // nobody listens
    const dead = join(tempDir(), 'dead.jsonl');
    writeFileSync(dead, '', { mode: 0o644 }); // left readable by an earlier version or by hand
    const secretPath = '/services/T0000/B0000/very-secret-token';
    const sender = new AlertSender([dest(`http://user:pw@127.0.0.1:${port}${secretPath}?token=also-secret`)], {
      deadLetter: dead,
      log,
      retryBaseMs: 20,
      attempts: 2,
    });
    sender.send(down);
    await waitFor(() => readFileSync(dead, 'utf8').length > 0, 'the dead-letter line', 5000);
    await sender.close();
    const text = readFileSync(dead, 'utf8');
    for (const secret of ['very-secret-token', 'also-secret', 'T0000', 'pw@']) expect(text).not.toContain(secret);
    expect(JSON.parse(text.trim())).toMatchObject({ url: `http://127.0.0.1:${port}/[redacted]` });
    expect(statSync(dead).mode & 0o777).toBe(0o600);
  });

  it('an operator taking a region down through the control API reaches the webhook', async () => {
    const { got, control, put } = await controlWithAlerts(
      'alice',
      (url) => `{ name: ops, url: "${url}", format: slack, events: [region.state] }`,
    );
    const r = await put('eu-west', { status: 'down', reason: 'alert path test' });
    expect(r.status).toBe(200);
    await waitFor(
      () => got.some((g) => String(g.body.text).includes('region eu-west up -> down')),
      'the Slack-format alert for eu-west',
      5000,
    );
    await control.close();
  });

  it('a forced override and its coming expiry each reach the webhook, with who, why and when', async () => {
    const { got, control, put } = await controlWithAlerts(
      'carol',
      (url) => `{ name: ops, url: "${url}", events: [override.forced, override.expiring] }`,
      '  expiry_warning_s: 1\n',
    );
    // Not forced, and set for less than the warning window: neither is worth an alert.
    expect((await put('ap-southeast', { weight: 2, reason: 'quiet', expires_in_s: 1 })).status).toBe(200);
    const t0 = Date.now();
    expect((await put('eu-west', { status: 'down', reason: 'fibre cut', force: true, expires_in_s: 3 })).status).toBe(
      200,
    );
    await waitFor(() => got.some((g) => g.body.event === 'override.forced'), 'the forced-override alert', 5000);
    await waitFor(() => got.some((g) => g.body.event === 'override.expiring'), 'the expiring-override alert', 6000);
    const forced = got.find((g) => g.body.event === 'override.forced')?.body;
    expect(forced).toMatchObject({ region: 'eu-west', status: 'down', who: 'carol', reason: 'fibre cut' });
    expect(String(forced?.summary)).toMatch(
      /^region eu-west forced down by carol until .* \(fibre cut\); the guard rail/,
    );
    const expiring = got.find((g) => g.body.event === 'override.expiring')?.body;
    expect(expiring).toMatchObject({ region: 'eu-west', who: 'carol' });
    // Announced when the last second began, not before.
    expect(Date.parse(String(expiring?.at)) - t0).toBeGreaterThanOrEqual(1800);
    await new Promise((r) => setTimeout(r, 300));
    expect(got.filter((g) => String(g.body.region) === 'ap-southeast')).toEqual([]);
    expect(got.filter((g) => g.body.event === 'override.expiring')).toHaveLength(1);
    await control.close();
  });

  it("a PoP's BGP session lost and back: two PagerDuty events on one incident, no alert for the steps between", async () => {
    const port = await freePort();
    const { got, server } = await receiver(port);
    servers.push(server);
    const alerts = startAlerts(
      [dest(`http://127.0.0.1:${port}/`, { format: 'pagerduty', secretEnv: 'GTM_TEST_PD', events: ['bgp.session'] })],
      'pop nyc1',
      { deadLetter: join(tempDir(), 'dead.jsonl'), log, env: { GTM_TEST_PD: 'routing-key' } },
    );
    const session = (from: string | undefined, to: string) =>
      emit(log, 'bgp.session', { peer: '10.0.1.1', from, to }, 'bgp session state');
    session('ESTABLISHED', 'IDLE');
    session('IDLE', 'CONNECT');
    session('CONNECT', 'OPENSENT');
    session('OPENSENT', 'ESTABLISHED');
    emit(log, 'region.state', { region: 'us-east', from: 'up', to: 'down' }, 'not for this destination');
    await waitFor(() => got.length === 2, 'the lost and restored events', 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(got.map((g) => g.body.event_action)).toEqual(['trigger', 'resolve']);
    expect(new Set(got.map((g) => g.body.dedup_key))).toEqual(new Set(['gtm-bgp-pop nyc1-10.0.1.1']));
    expect((got[0]?.body.payload as { summary: string }).summary).toBe(
      'gtm: pop nyc1: BGP session with 10.0.1.1 ESTABLISHED -> IDLE',
    );
    expect(got[0]?.body.routing_key).toBe('routing-key');
    await alerts.stop();
  });

  it('refuses bad alert config by path', () => {
    const dir = tempDir();
    const text = `${readFileSync(testConfig(dir), 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
  alerts:
    - { url: "ftp://x", format: teams, events: [everything] }
    - { url: "https://events.pagerduty.com/v2/enqueue", format: pagerduty }
`;
    expect(() => parseConfigText(text)).toThrow(
      /control\.alerts\[0\]\.url[\s\S]*control\.alerts\[0\]\.format[\s\S]*control\.alerts\[0\]\.events\[0\][\s\S]*control\.alerts\[1\]: pagerduty needs secret_env/,
    );
  });
});
