// The status page in headless Chromium (Debian's): the live tables render from the API,
// operator text is not interpreted as HTML, and the screenshot shows the status badges.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS } from '../../src/contract/index.js';
import { createLogger } from '../../src/observability/index.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';
import { countColour, decodePng } from '../helpers/png.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'page-token-0123456789abcdef';
process.env.GTM_PAGE_TOKEN = TOKEN;
let control: ControlServer;
let dir: string;

function chromium(args: string[]): Promise<string> {
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${join(dir, `profile-${Math.random()}`)}`,
  ];
  return new Promise((resolve, reject) =>
    execFile('chromium', [...flags, ...args], { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

beforeAll(async () => {
  dir = tempDir();
  const config = parseConfigText(`${readFileSync(EXAMPLE, 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
  api: { listen: 127.0.0.1:0, tokens: [{ name: alice, env: GTM_PAGE_TOKEN }] }
pops:
  dub:
    region: eu-west
    bgp: { asn: 65002, router_id: 10.0.2.2, neighbors: [{ address: 10.0.2.1, asn: 65000 }], next_hop: 10.0.2.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.2.11 }], checks: [{ type: tcp, port: 80 }] }]
`);
  const store = new FileStateStore(join(dir, 'state.json'));
  await store.put(
    KEYS.agent('dub'),
    {
      pop: 'dub',
      region: 'eu-west',
      serving: true,
      sessionUp: true,
      vips: [{ prefix: '198.51.100.20/32', state: 'UP' }],
      at: Date.now(),
    },
    { leaseMs: 600_000 },
  );
  control = await startControl(config, store, createLogger('t', 'silent'));
  const res = await fetch(`http://127.0.0.1:${control.port}/api/v1/regions/ap-southeast/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'window <img src=x onerror=alert(1)>' }),
  });
  expect(res.status).toBe(200);
  const draining = async () =>
    (
      (await (await fetch(`http://127.0.0.1:${control.port}/api/v1/regions`)).json()) as {
        name: string;
        status: string;
      }[]
    ).some((r) => r.name === 'ap-southeast' && r.status === 'draining');
  await waitFor(draining, 'the drain to reach the region view');
});
afterAll(async () => {
  await control?.close();
});

describe('status page in headless Chromium', () => {
  it('renders regions, agents and recent changes from the live API, escaping operator text', async () => {
    const dom = await chromium(['--virtual-time-budget=3000', '--dump-dom', `http://127.0.0.1:${control.port}/`]);
    expect(dom).toMatch(/<tr data-key="eu-west"><td>eu-west<\/td><td><span class="badge up">up<\/span>/);
    expect(dom).toMatch(
      /<tr data-key="ap-southeast"><td>ap-southeast<\/td><td><span class="badge draining">draining<\/span>/,
    );
    expect(dom).toMatch(/<tr data-key="dub"><td>dub<\/td><td>eu-west<\/td><td><span class="badge up">yes<\/span>/);
    expect(dom).toContain('alice drain ap-southeast (applied): window &lt;img src=x onerror=alert(1)&gt;');
    // The override column names each part with its author.
    expect(dom).toContain('draining by alice: window &lt;img src=x onerror=alert(1)&gt;');
    expect(dom).not.toContain('<img src=x');
  });

  it('shows the state as colour in a screenshot', async () => {
    const file = join(dir, 'status.png');
    await chromium([
      '--window-size=1200,800',
      '--virtual-time-budget=3000',
      `--screenshot=${file}`,
      `http://127.0.0.1:${control.port}/`,
    ]);
    const img = decodePng(readFileSync(file));
    expect([img.width, img.height]).toEqual([1200, 800]);
    // Badge backgrounds: green for up (us-east, eu-west, the serving agent), amber for draining.
    expect(countColour(img, [0xd7, 0xf5, 0xdf])).toBeGreaterThan(300);
    expect(countColour(img, [0xff, 0xf1, 0xcc])).toBeGreaterThan(100);
    expect(countColour(img, [0xfd, 0xe0, 0xe0])).toBe(0); // nothing is down
  });
});
