// A pool with a health of its own, end to end: api.example.test's eu-west pool is answered while
// eu-west is up and the pushed signal api-eu is not down. Pushed down through the control API, the
// real DNS server sends a London client's api answers to New York while www stays in eu-west;
// the regions API, the DNS server's metrics and `gtm explain --live` say which name and why.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { createLogger } from '../../src/observability/index.js';
import { kdig, runGtm, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitForValue } from '../helpers/wait.js';

const PUSHER = 'pusher-token-0123456789abcdef';
let dns: RunningDns;
let control: ControlServer;
let base: string;

beforeAll(async () => {
  const dir = tempDir();
  const cfg = testConfig(dir);
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}  api:
    name: api.example.test
    pools:
      - us-east
      - { region: eu-west, health: { all: [agents, { signal: api-eu }] } }
      - ap-southeast
control:
  store: { file: ${join(dir, 'state.json')} }
  signals:
    api-eu: { lease_s: 600 }
  api:
    listen: 127.0.0.1:0
    tokens:
      - { name: pusher, sha256: ${hashToken(PUSHER)}, scopes: [health, read] }
`,
  );
  dns = await startDns(cfg, 2);
  const config = parseConfigText(readFileSync(cfg, 'utf8'));
  control = await startControl(config, new FileStateStore(join(dir, 'state.json')), createLogger('test', 'silent'));
  base = `http://127.0.0.1:${control.port}`;
}, 60_000);
afterAll(async () => {
  await control?.close();
  await dns?.stop();
});

const push = (up: boolean, reason: string) =>
  fetch(`${base}/api/v1/signals/api-eu`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PUSHER}` },
    body: JSON.stringify({ up, reason }),
  });
/** What London is answered for api and for www. */
const london = async () => {
  const ask = async (name: string) => (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', name, 'A'])).trim();
  return `api ${await ask('api.example.test')}, www ${await ask('www.example.test')}`;
};
const londonGets = (answer: string) => waitForValue(`London answered ${answer}`, london, (a) => a === answer, 5000, 50);
const eu = async () =>
  (
    (await (await fetch(`${base}/api/v1/regions`, { headers: { authorization: `Bearer ${PUSHER}` } })).json()) as {
      name: string;
      status: string;
      poolsOut: Record<string, string> | null;
    }[]
  ).find((r) => r.name === 'eu-west');
const poolOutMetric = async () => {
  const url = (/"metrics":"(http:[^"]+)"/.exec(dns.log()) as RegExpExecArray)[1] as string;
  return /^gtm_pool_out\{service="api",region="eu-west"\} 1$/m.test(await (await fetch(url)).text());
};

describe('a pool with a health of its own', () => {
  it('starts unknown (counted as up): London gets eu-west for both names', async () => {
    await londonGets('api 198.51.100.20, www 198.51.100.20');
    expect((await eu())?.poolsOut).toBeNull();
    expect(await poolOutMetric()).toBe(false);
  });

  it('its signal down moves that name alone; every surface says which and why', async () => {
    expect((await push(false, 'api database in eu-west failing over')).status).toBe(200);
    await londonGets('api 198.51.100.10, www 198.51.100.20');
    expect(await eu()).toMatchObject({
      status: 'up',
      poolsOut: { api: 'pool health: all(agents=up, signal api-eu=down)=down' },
    });
    expect(await poolOutMetric()).toBe(true);
    const explained = await runGtm(['explain', '--live', '--api', base, '--client', '198.18.1.1', 'api.example.test']);
    expect(explained.stdout).toContain('pool: eu-west pool health: all(agents=up, signal api-eu=down)=down');
    expect(explained.stdout).toContain('eu-west [up, skipped]');
  });

  it('back up: the name returns to eu-west', async () => {
    await push(true, 'failover done');
    await londonGets('api 198.51.100.20, www 198.51.100.20');
    expect((await eu())?.poolsOut).toBeNull();
    expect(await poolOutMetric()).toBe(false);
  });
});
