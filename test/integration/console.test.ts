// The operators' console in Debian's Chromium, driven by playwright-core (no browser download):
// a real `gtm dns` and `gtm control` share a state file with an agent's report in it. The test
// reads the live tables, enters the token once, drains a region (the guard rail refuses first,
// then it is forced on purpose), sees DNS move with kdig and the audit entry appear, undrains,
// asks the explain form, and saves screenshots at a desktop and a phone width that must not be
// blank. Operator text is never interpreted as HTML.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfigFile } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS } from '../../src/contract/index.js';
import { createLogger } from '../../src/observability/index.js';
import { freePort, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { countColour, decodePng } from '../helpers/png.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'console-token-0123456789abcdef';
process.env.GTM_CONSOLE_TOKEN = TOKEN;
const LONDON = '198.18.1.0/24';
let dir: string;
let control: ControlServer;
let dns: RunningDns;
let browser: Browser;
let page: Page;

const london = async () => (await kdig(dns.port, ['+short', `+subnet=${LONDON}`, 'www.example.test', 'A'])).trim();
const row = (table: string, key: string) => page.locator(`#${table} tr[data-key="${key}"]`);

beforeAll(async () => {
  dir = tempDir('gtm-console-');
  const file = testConfig(dir);
  // DNS metrics on a port of their own: the console's traffic figures come from there.
  const text = readFileSync(file, 'utf8').replace('metrics: 127.0.0.1:0', `metrics: 127.0.0.1:${await freePort()}`);
  writeFileSync(
    file,
    `${text}
control:
  store: { file: ${join(dir, 'state.json')} }
  max_regions_out: 0.5
  signals: { db-eu: { lease_s: 600 }, cdn-eu: {} }
  api: { listen: 127.0.0.1:0, tokens: [{ name: alice, env: GTM_CONSOLE_TOKEN }] }
pops:
  dub:
    region: eu-west
    bgp: { asn: 65002, router_id: 10.0.2.2, neighbors: [{ address: 10.0.2.1, asn: 65000 }], next_hop: 10.0.2.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.2.11 }], checks: [{ type: tcp, port: 80 }] }]
`,
  );
  const store = new FileStateStore(join(dir, 'state.json'));
  await store.put(
    KEYS.agent('dub'),
    {
      pop: 'dub',
      region: 'eu-west',
      serving: true,
      sessionUp: true,
      vips: [{ prefix: '198.51.100.20/32', state: 'UP' }],
      peers: [{ address: '10.0.2.1', bgp: 'ESTABLISHED', bfd: 'Up' }],
      at: Date.now(),
    },
    { leaseMs: 600_000 },
  );
  dns = await startDns(file);
  control = await startControl(loadConfigFile(file), store, createLogger('t', 'silent'));
  // One region drained before the browser opens, with a reason that looks like HTML.
  const res = await fetch(`http://127.0.0.1:${control.port}/api/v1/regions/ap-southeast/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'window <img src=x onerror=alert(1)>' }),
  });
  expect(res.status).toBe(200);
  // A pushed health signal, its reason looking like HTML too.
  const pushed = await fetch(`http://127.0.0.1:${control.port}/api/v1/signals/db-eu`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ up: false, reason: 'failover <img src=x onerror=alert(2)>' }),
  });
  expect(pushed.status).toBe(200);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', () => {
    throw new Error('a dialog opened: operator text was run as code');
  });
  await page.goto(`http://127.0.0.1:${control.port}/`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await control?.close();
  await dns?.stop();
});

describe('operator console in Chromium', () => {
  it('shows regions with the signal that decided them, agents with BGP/BFD, and empty states that say why', async () => {
    await row('regions', 'ap-southeast').getByText('draining', { exact: true }).waitFor();
    await expect(row('regions', 'ap-southeast').textContent()).resolves.toContain('override');
    await expect(row('regions', 'ap-southeast').textContent()).resolves.toContain(
      'draining by alice: window <img src=x onerror=alert(1)>',
    );
    expect(await page.locator('#regions img').count()).toBe(0);
    await expect(row('regions', 'eu-west').textContent()).resolves.toMatch(/^eu-westuphealth/);
    await expect(row('agents', 'dub').textContent()).resolves.toContain('10.0.2.1 ESTABLISHED / BFD Up');
    await row('signals', 'db-eu').getByText('down', { exact: true }).waitFor();
    await expect(row('signals', 'db-eu').textContent()).resolves.toContain(
      'alicefailover <img src=x onerror=alert(2)>',
    );
    await expect(row('signals', 'cdn-eu').textContent()).resolves.toBe('cdn-euunknownnever set');
    expect(await page.locator('#signals img').count()).toBe(0);
    await expect(page.locator('#service-weights td.empty').textContent()).resolves.toMatch(
      /No per-name weights are set/,
    );
    await expect(page.locator('#anycast td.empty').textContent()).resolves.toMatch(/No shared anycast VIPs/);
  });

  it('shows answers per second per region from the DNS metrics', async () => {
    const end = Date.now() + 4000;
    while (Date.now() < end) await london();
    await row('traffic', 'eu-west').waitFor({ timeout: 5000 });
    const qps = Number(await row('traffic', 'eu-west').locator('td').nth(1).textContent());
    expect(qps).toBeGreaterThan(0);
  });

  it('drains with a reason (the guard rail refuses, then forced), DNS moves, the audit shows it; undrain restores', async () => {
    expect(await london()).toBe('198.51.100.20');
    await page.fill('#token', TOKEN);
    await page.click('#use-token');
    // The token is kept for the tab and sent in a header: never in a URL.
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate(() => sessionStorage.getItem('gtm-token'))).toBe(TOKEN);
    await page.selectOption('#act-region', 'eu-west');
    await page.selectOption('#act-kind', 'drain');
    await page.fill('#act-reason', 'console drill: fibre work');
    await page.click('#act-go');
    // ap-southeast is out already: eu-west too would be 2 of 3 (max 50%).
    await page
      .locator('#message.error')
      .getByText(/Refused \(409\).*guard rail/)
      .waitFor();
    expect(await page.isVisible('#act-force')).toBe(true);
    expect(await london()).toBe('198.51.100.20');
    await page.check('#act-force');
    await page.click('#act-go');
    await page.locator('#message.ok').getByText('drain eu-west: done').waitFor();
    await waitFor(async () => (await london()) === '198.51.100.10', 'DNS to move London to us-east', 3000);
    await page.locator('#audit tr', { hasText: 'console drill: fibre work' }).first().waitFor();
    await expect(row('regions', 'eu-west').textContent()).resolves.toContain('draining');
    await page.screenshot({ path: join(dir, 'console-1280.png'), fullPage: false });

    await page.fill('#audit-q', 'fibre');
    await waitFor(
      async () =>
        (await page.locator('#audit tbody tr').count()) >= 1 &&
        (await page.locator('#audit tbody tr', { hasNotText: 'fibre' }).count()) === 0,
      'the audit filter to keep only the fibre entries',
      3000,
    );
    await page.fill('#audit-q', 'no such change');
    await page
      .locator('#audit td.empty')
      .getByText(/No change matches/)
      .waitFor();
    await page.fill('#audit-q', '');

    await page.selectOption('#act-kind', 'undrain');
    await page.fill('#act-reason', 'fibre work done');
    await page.click('#act-go');
    await page.locator('#message.ok').getByText('undrain eu-west: done').waitFor();
    await waitFor(async () => (await london()) === '198.51.100.20', 'DNS to bring London back to eu-west', 3000);
  });

  it("charts the last drill's timeline (one row per source, clients green or red) and audits that it ran", async () => {
    await page
      .locator('#drill p.meta')
      .getByText(/No drill recorded/)
      .waitFor();
    const post = async (body: unknown) => {
      const r = await fetch(`http://127.0.0.1:${control.port}/api/v1/drills`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await r.text();
      return r.status;
    };
    const drill = {
      name: 'cluster-down',
      description: "eu-west's LB cluster dies <b>",
      passed: true,
      startedAt: Date.now() - 5000,
      timeline: [
        { ms: 0, what: 'failure injected', lane: 'drill' },
        { ms: 450, what: 'router: path withdrawn', lane: 'router' },
        { ms: 600, what: 'client gb: answer 198.51.100.20, error timeout', lane: 'clients', ok: false },
        { ms: 900, what: 'region.state eu-west up -> down', lane: 'events' },
        { ms: 1100, what: 'client gb: answer 198.51.100.10, ok served by us-east', lane: 'clients', ok: true },
        { ms: 4000, what: 'failure repaired', lane: 'drill' },
      ],
      expectations: [{ text: 'DNS moves within 2 s', ok: true, detail: 'moved at +900 ms' }],
      phases: { detect: 310, decide: 900, bgp: 450, clients: 1100 },
    };
    // A record the chart could not draw is refused whole.
    expect(await post({ ...drill, timeline: [{ ms: 0, what: 'x', lane: 'somewhere' }] })).toBe(400);
    expect(await post({ ...drill, name: '../etc' })).toBe(400);
    expect(await post({ ...drill, phases: { detect: -5 } })).toBe(400);
    expect(await post({ ...drill, phases: { guess: 5 } })).toBe(400);
    expect(await post(drill)).toBe(201);
    await page.locator('#drill svg').waitFor({ timeout: 5000 });
    expect(await page.locator('#drill svg circle').count()).toBe(6);
    expect(await page.locator('#drill svg circle[fill="#d14343"]').count()).toBe(1); // the client's error
    expect(await page.locator('#drill svg circle[data-lane="router"] title').textContent()).toBe(
      '+450 ms  router: path withdrawn',
    );
    await expect(page.locator('#drill').textContent()).resolves.toContain("eu-west's LB cluster dies <b>");
    await expect(page.locator('#drill .drill-phases').textContent()).resolves.toBe(
      'Failover: agent detected +310 ms, DNS decided +900 ms, router path gone +450 ms, client served elsewhere +1100 ms',
    );
    expect(await page.locator('#drill b').count()).toBe(0);
    await page.locator('#drill .ok').getByText('PASSED').waitFor();
    await page.locator('#audit tr', { hasText: 'cluster-down' }).first().waitFor();
    await page.locator('#drill').screenshot({ path: join(dir, 'drill.png') });
    const chart = decodePng(readFileSync(join(dir, 'drill.png')));
    expect(countColour(chart, [0xd1, 0x43, 0x43])).toBeGreaterThan(20);
    expect(countColour(chart, [0x2f, 0x9e, 0x55])).toBeGreaterThan(20);
  });

  it('shares one reading of the DNS metrics a second between every console tab', async () => {
    const get = async () =>
      ((await (await fetch(`http://127.0.0.1:${control.port}/api/v1/traffic`)).json()) as { at: number }).at;
    const [a, b, c] = await Promise.all([get(), get(), get()]);
    expect(new Set([a, b, c]).size).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await get()).toBeGreaterThan(a);
  });

  it('explains a live answer from the form', async () => {
    await page.fill('#ex-name', 'www.example.test');
    await page.fill('#ex-client', '127.0.0.1');
    await page.fill('#ex-ecs', LONDON);
    await page.click('#explain button');
    await waitFor(async () => ((await page.textContent('#explained')) ?? '') !== '', 'the explanation', 5000);
    expect(await page.textContent('#explained')).toMatch(/answer: www\.example\.test \d+ A 198\.51\.100\.20/);
  });

  it('is usable at desktop and phone widths (screenshots not blank, no page-wide sideways scroll)', async () => {
    const desktop = decodePng(readFileSync(join(dir, 'console-1280.png')));
    expect([desktop.width, desktop.height]).toEqual([1280, 900]);
    // Badges: green for up, amber for draining.
    expect(countColour(desktop, [0xd7, 0xf5, 0xdf])).toBeGreaterThan(300);
    expect(countColour(desktop, [0xff, 0xf1, 0xcc])).toBeGreaterThan(100);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const file = join(dir, 'console-390.png');
    await page.screenshot({ path: file });
    const phone = decodePng(readFileSync(file));
    expect([phone.width, phone.height]).toEqual([390, 844]);
    expect(countColour(phone, [0xf6, 0xf7, 0xf9])).toBeLessThan(390 * 844 * 0.9); // not just background
    expect(countColour(phone, [0xff, 0xff, 0xff])).toBeGreaterThan(1000); // panels are drawn
  });

  it('is never framed by another site, and a write without the token is refused', async () => {
    const res = await fetch(`http://127.0.0.1:${control.port}/`);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const write = await fetch(`http://127.0.0.1:${control.port}/api/v1/regions/eu-west/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ reason: 'cross-site' }),
    });
    expect(write.status).toBe(401);
  });

  it("counts how old the agents' reports are as the control plane reads them (gtm_state_report_age_seconds)", async () => {
    const body = await (await fetch(`http://127.0.0.1:${control.port}/metrics`)).text();
    expect(Number(body.match(/^gtm_state_report_age_seconds_count (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(1);
  });
});
