// Every process started in every order: the DNS server (`gtm dns`), the control plane
// (`gtm control`) and the PoPs' agents (their heartbeat publishers; us-east's LB cluster is dead,
// so its agent reports DOWN). Whatever the order, DNS never answers as if everything were down
// (London and Singapore always get their own region) and, once us-east's agent has said so,
// never hands out us-east again; the control plane never shows a healthy region down.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { Heartbeat } from '../../src/agent/heartbeat.js';
import { parseConfigText } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { freePort, kdig, ROOT, startDns, tempDir, testConfig, watchChild, type RunningDns } from '../helpers/dns.js';
import { heartbeat, POPS, popYaml } from '../helpers/shared-state.js';

const TOKEN = 'reader-token-0123456789abcdef';
const VIPS: Record<string, string> = {
  'us-east': '198.51.100.10',
  'eu-west': '198.51.100.20',
  'ap-southeast': '198.51.100.30',
};
const CLIENTS = { london: '198.18.1.0/24', newYork: '198.18.3.0/24', singapore: '198.18.4.0/24' } as const;
type Kind = 'dns' | 'control' | 'agents';
const ORDERS: Kind[][] = [
  ['dns', 'control', 'agents'],
  ['dns', 'agents', 'control'],
  ['control', 'dns', 'agents'],
  ['control', 'agents', 'dns'],
  ['agents', 'dns', 'control'],
  ['agents', 'control', 'dns'],
];

const running: { stop: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

/** A fresh deployment: a config with the three PoPs and a control API, an empty state file. */
async function deployment() {
  const dir = tempDir();
  const cfg = testConfig(dir);
  const apiPort = await freePort();
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}control:
  store: { file: ${join(dir, 'state.json')} }
  heartbeat_ms: 200
  lease_ms: 1500
  api:
    listen: 127.0.0.1:${apiPort}
    tokens: [{ name: reader, sha256: ${hashToken(TOKEN)}, scopes: [read] }]
pops:
${POPS.map(([p, r], i) => popYaml(p, r, i + 1)).join('')}`,
  );
  return { cfg, api: `http://127.0.0.1:${apiPort}`, config: parseConfigText(readFileSync(cfg, 'utf8')) };
}

interface Sample {
  t: number;
  client: keyof typeof CLIENTS;
  region: string | undefined;
}

describe('every process started in every order', () => {
  for (const order of ORDERS) {
    it(`${order.join(', then ')}: never everything down, never a region its agent said is down`, async () => {
      const { cfg, api, config } = await deployment();
      let dns: RunningDns | undefined;
      let nycReportedAt: number | undefined;
      const samples: Sample[] = [];
      const controlViews: { t: number; down: string[] }[] = [];
      const start: Record<Kind, () => Promise<void>> = {
        dns: async () => {
          dns = await startDns(cfg, 1);
          running.push(dns);
        },
        control: async () => {
          const proc: ChildProcess = spawn(
            process.execPath,
            [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', cfg],
            {
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          running.push(watchChild(proc));
        },
        agents: async () => {
          for (const [pop, region] of POPS) {
            const up = region !== 'us-east'; // us-east's LB cluster is dead: its agent says DOWN
            const agent = new Heartbeat(
              pop,
              config.control,
              () => heartbeat(pop, region, up),
              createLogger('agent', 'silent'),
            );
            await agent.start();
            if (!up) nycReportedAt = Date.now();
            running.push(agent);
          }
        },
      };
      // Whatever has started is watched every 50 ms: DNS answers and the control plane's view.
      let done = false;
      const watching = (async () => {
        while (!done) {
          if (dns)
            for (const [client, subnet] of Object.entries(CLIENTS)) {
              const a = (await kdig(dns.port, ['+short', `+subnet=${subnet}`, 'www.example.test', 'A'])).trim();
              const region = Object.keys(VIPS).find((r) => VIPS[r] === a);
              samples.push({ t: Date.now(), client: client as keyof typeof CLIENTS, region });
            }
          const res = await fetch(`${api}/api/v1/regions`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(
            () => undefined,
          );
          if (res?.ok) {
            const regions = (await res.json()) as { name: string; status: string }[];
            controlViews.push({ t: Date.now(), down: regions.filter((r) => r.status !== 'up').map((r) => r.name) });
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      for (const kind of order) {
        await start[kind]();
        await new Promise((r) => setTimeout(r, 500));
      }
      // Until every process has seen every other: DNS and the control plane both have us-east down.
      const end = Date.now() + 10_000;
      const settled = () =>
        samples.at(-1)?.region !== undefined &&
        samples.filter((s) => s.client === 'newYork').at(-1)?.region !== 'us-east' &&
        controlViews.at(-1)?.down.join() === 'us-east';
      while (!settled() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      done = true;
      await watching;

      const line = (s: Sample) => `+${s.t - (nycReportedAt ?? 0)} ms ${s.client}: ${s.region ?? 'no answer'}`;
      // London and Singapore: always their own region (nothing ever treated as all down).
      const strayed = samples.filter(
        (s) =>
          (s.client === 'london' && s.region !== 'eu-west') ||
          (s.client === 'singapore' && s.region !== 'ap-southeast'),
      );
      expect(strayed.map(line)).toEqual([]);
      // New York: once DNS has moved it off us-east (its agent said DOWN), never back to it; and it
      // moved within 1 s of the agent's first report, or before DNS's first answer.
      const ny = samples.filter((s) => s.client === 'newYork');
      const movedAt = ny.findIndex((s) => s.region !== 'us-east');
      expect(movedAt, 'New York was moved off us-east').toBeGreaterThanOrEqual(0);
      expect(
        ny
          .slice(movedAt)
          .filter((s) => s.region === 'us-east')
          .map(line),
      ).toEqual([]);
      const moved = ny[movedAt] as Sample;
      if (movedAt > 0) expect(moved.t - (nycReportedAt as number)).toBeLessThan(1000);
      // The control plane: never a healthy region down.
      expect(controlViews.filter((v) => v.down.some((r) => r !== 'us-east'))).toEqual([]);
      expect(controlViews.length).toBeGreaterThan(0);
    }, 40_000);
  }
});
