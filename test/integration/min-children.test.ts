// regions.X.min_children, end to end: us-east has three PoPs, each announcing its IPv4 and IPv6
// VIP, and needs two serving each family. Agents' heartbeats go to the shared state file as
// agents write them; the real DNS server answers a New York client A and AAAA, and the control
// plane's API, Prometheus metrics and `gtm explain --live` say which family is out and why.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { createLogger } from '../../src/observability/index.js';
import { KEYS, type AgentReport, type VipState } from '../../src/contract/index.js';
import { kdig, runGtm, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitForValue } from '../helpers/wait.js';

const POPS = ['nyc1', 'nyc2', 'nyc3'];
let dns: RunningDns;
let control: ControlServer;
let store: FileStateStore;
let base: string;

const pop = (name: string, n: number) => `  ${name}:
    region: us-east
    bgp: { asn: 6500${n}, router_id: 10.0.${n}.2, neighbors: [{ address: 10.0.${n}.1, asn: 65000 }], next_hop: 10.0.${n}.2, next_hop6: '2001:db8:ffff::${n}' }
    vips:
      - { address: vip, nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }] }
      - { address: vip6, nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }] }
`;

beforeAll(async () => {
  const dir = tempDir();
  const cfg = testConfig(dir);
  const text = readFileSync(cfg, 'utf8').replace(/(\n {2}us-east:\n)/, '$1    min_children: 2\n');
  writeFileSync(
    cfg,
    `${text}
control:
  store: { file: ${join(dir, 'state.json')} }
  heartbeat_ms: 200
  api:
    listen: 127.0.0.1:0
pops:
${POPS.map((p, i) => pop(p, i + 1)).join('')}`,
  );
  store = new FileStateStore(join(dir, 'state.json'));
  await beat({ nyc1: ['UP', 'UP'], nyc2: ['UP', 'UP'], nyc3: ['UP', 'UP'] });
  dns = await startDns(cfg, 2);
  control = await startControl(parseConfigText(readFileSync(cfg, 'utf8')), store, createLogger('test', 'silent'));
  base = `http://127.0.0.1:${control.port}`;
}, 60_000);
afterAll(async () => {
  await control?.close();
  await dns?.stop();
  await store?.close();
});

/** Each PoP's heartbeat: its IPv4 and IPv6 VIPs' states. */
async function beat(states: Record<string, [VipState, VipState]>) {
  for (const [name, [v4, v6]] of Object.entries(states)) {
    const report: AgentReport = {
      pop: name,
      region: 'us-east',
      serving: true,
      sessionUp: true,
      vips: [
        { prefix: '198.51.100.10/32', state: v4 },
        { prefix: '2001:db8:10::10/128', state: v6 },
      ],
      at: Date.now(),
    };
    await store.put(KEYS.agent(name), report, { leaseMs: 600_000 });
  }
}
const newYork = async () => {
  const ask = async (type: string) =>
    (await kdig(dns.port, ['+short', '+subnet=198.18.3.0/24', 'www.example.test', type])).trim();
  return `${await ask('A')} ${await ask('AAAA')}`;
};
const newYorkGets = (answer: string) =>
  waitForValue(`New York answered ${answer}`, newYork, (a) => a === answer, 5000, 50);
const metric = async (name: string) => {
  const url = (/"metrics":"(http:[^"]+)"/.exec(dns.log()) as RegExpExecArray)[1] as string;
  const body = await (await fetch(url)).text();
  return Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(body)?.[1]);
};
const usEast = async () =>
  (
    (await (await fetch(`${base}/api/v1/regions`)).json()) as { name: string; status: string; familyOut: unknown }[]
  ).find((r) => r.name === 'us-east');

describe('min_children per address family', () => {
  it('three PoPs serving both families: New York gets us-east for A and AAAA', async () => {
    await newYorkGets('198.51.100.10 2001:db8:10::10');
    expect((await usEast())?.familyOut).toBeNull();
  });

  it('two IPv6 VIPs down: AAAA moves to another region, A stays, and every surface says why', async () => {
    await beat({ nyc2: ['UP', 'DOWN'], nyc3: ['UP', 'DOWN'] });
    const [a, aaaa] = (
      await waitForValue('AAAA to move', newYork, (x) => !x.endsWith('2001:db8:10::10'), 5000, 50)
    ).split(' ');
    expect(a).toBe('198.51.100.10');
    expect(aaaa).toMatch(/^2001:db8:(20::20|30::30)$/);
    expect(await metric('gtm_region_family_out{region="us-east",family="ipv6"}')).toBe(1);
    expect(await metric('gtm_region_family_out{region="us-east",family="ipv4"}')).toBe(0);
    const view = await waitForValue('the API to follow', usEast, (r) => r?.familyOut !== null, 5000, 50);
    expect(view).toMatchObject({
      status: 'up',
      familyOut: { ipv6: '1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2' },
    });
    const explained = await runGtm([
      'explain',
      '--live',
      '--api',
      base,
      '--client',
      '198.18.3.1',
      'www.example.test',
      'AAAA',
    ]);
    expect(explained.stdout).toContain('us-east [up, skipped]');
    expect(explained.stdout).toContain('out for IPv6: 1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2');
  });

  it('IPv4 short as well: the region is down for both; back when the PoPs serve again', async () => {
    await beat({ nyc2: ['DOWN', 'DOWN'], nyc3: ['DOWN', 'DOWN'] });
    await waitForValue('A to move', newYork, (x) => !x.startsWith('198.51.100.10 '), 5000, 50);
    expect((await usEast())?.status).toBe('down');
    await beat({ nyc2: ['UP', 'UP'], nyc3: ['UP', 'UP'] });
    await newYorkGets('198.51.100.10 2001:db8:10::10');
    expect(await metric('gtm_region_family_out{region="us-east",family="ipv6"}')).toBe(0);
  });
});
