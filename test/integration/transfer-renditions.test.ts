// What secondaries serve for a steered name (`transfer_as`), with real secondaries: NSD and Knot
// DNS take example.test from `gtm dns`. `www` (healthy) goes out as the pools of the regions up:
// when eu-west's agent reports DOWN through the shared state, the primary makes the zone again
// with a new serial, NOTIFYs, and both secondaries serve the new set within seconds; back up, the
// whole set returns. `mail-gw` (last_resort) goes out as its last-resort region only.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type AgentReport, type VipState } from '../../src/contract/index.js';
import { freePort, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import {
  gtmZoneExport,
  knotConf,
  nsdConf,
  recordLines,
  startServer,
  type RunningServer,
} from '../helpers/secondaries.js';
import { waitFor } from '../helpers/wait.js';
import { popYaml } from '../helpers/shared-state.js';

let dir: string;
let config: string;
let gtm: RunningDns;
let store: FileStateStore;
const secondaries: RunningServer[] = [];
const ports = { nsd: 0, knot: 0 };

const report = (pop: string, region: string, state: VipState): AgentReport => ({
  pop,
  region,
  serving: state === 'UP',
  sessionUp: true,
  vips: [{ prefix: 'v/32', state }],
  at: Date.now(),
});
const pop = popYaml;
const addresses = async (port: number, name: string) =>
  recordLines(await kdig(port, ['+norec', '+noall', '+answer', name, 'A']))
    .map((l) => l.split(' ').at(-1))
    .sort();
const serial = async (port: number) =>
  Number((await kdig(port, ['+short', '+norec', 'example.test', 'SOA'])).split(' ')[2]);

beforeAll(async () => {
  dir = tempDir('gtm-renditions-');
  config = testConfig(dir);
  ports.nsd = await freePort();
  ports.knot = await freePort();
  const statePath = join(dir, 'state.json');
  writeFileSync(
    config,
    `${readFileSync(config, 'utf8')
      .replace(
        /^  example\.test:\n/m,
        `  example.test:\n    transfer: { allow: [127.0.0.1], notify: ['127.0.0.1:${ports.nsd}', '127.0.0.1:${ports.knot}'] }\n`,
      )
      .replace(/serial: \d+/, 'serial: auto')
      .replace('    policy: nearest\n', '    policy: nearest\n    transfer_as: healthy\n')}  mail-gw:
    name: gw.example.test
    pools: [us-east, eu-west]
    last_resort: [us-east]
    transfer_as: last_resort
control:
  store: { file: ${statePath} }
  lease_ms: 60000
  heartbeat_ms: 200
  max_regions_out: 0.7
pops:
${pop('nyc', 'us-east', 1)}${pop('dub', 'eu-west', 2)}${pop('sin', 'ap-southeast', 3)}`,
  );
  store = new FileStateStore(statePath);
  for (const [p, r] of [
    ['nyc', 'us-east'],
    ['dub', 'eu-west'],
    ['sin', 'ap-southeast'],
  ] as const)
    await store.put(KEYS.agent(p), report(p, r, 'UP'), { leaseMs: 600_000 });
  gtm = await startDns(config, 2);
  const home = (k: string) => join(dir, k);
  secondaries.push(
    await startServer(
      'nsd',
      'nsd',
      ports.nsd,
      home('nsd'),
      nsdConf({ port: ports.nsd, home: home('nsd'), zones: [{ name: 'example.test', primary: { port: gtm.port } }] }),
      ['example.test'],
    ),
    await startServer(
      'knot',
      'knot',
      ports.knot,
      home('knot'),
      knotConf({
        port: ports.knot,
        home: home('knot'),
        gtmPort: gtm.port,
        key: { name: 'unused', secret: Buffer.alloc(32).toString('base64') },
        zones: [{ domain: 'example.test' }],
      }),
      ['example.test'],
    ),
  );
}, 60_000);

afterAll(async () => {
  for (const s of secondaries) await s.stop();
  await gtm?.stop();
  await store?.close();
});

describe('transfer renditions with NSD and Knot as secondaries', () => {
  const all = ['198.51.100.10', '198.51.100.20', '198.51.100.30'];

  it('serve every healthy pool, and only the last-resort region for a last_resort name', async () => {
    for (const s of secondaries) {
      expect(await addresses(s.port, 'www.example.test'), s.name).toEqual(all);
      expect(await addresses(s.port, 'gw.example.test'), s.name).toEqual(['198.51.100.10']);
    }
    // With no live state, the export writes every pool for a healthy rendition (fail-safe).
    const exported = (await gtmZoneExport(config, 'example.test')).stdout;
    expect(exported).toContain('; steered: www.example.test (nearest; a secondary serves healthy)');
    expect(recordLines(exported).filter((l) => l.startsWith('gw.example.test.'))).toEqual([
      'gw.example.test. 30 IN A 198.51.100.10',
      'gw.example.test. 30 IN AAAA 2001:db8:10::10',
    ]);
  });

  it('follow a region going down and coming back: new serial, NOTIFY, new set within seconds', async () => {
    const first = await serial(gtm.port);
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west', 'DOWN'), { leaseMs: 600_000 });
    for (const s of secondaries)
      await waitFor(
        async () => (await addresses(s.port, 'www.example.test')).join() === '198.51.100.10,198.51.100.30',
        () => `${s.name} to serve the healthy set without eu-west:\n${s.log().slice(-1500)}`,
        10_000,
      );
    const second = await serial(gtm.port);
    expect(second).toBeGreaterThan(first);
    for (const s of secondaries) expect(await serial(s.port), s.name).toBe(second);
    await gtm.waitLog(
      new RegExp(`"event":"zone.notify","zone":"example.test",.*"serial":${second},"outcome":"acknowledged"`),
    );

    await store.put(KEYS.agent('dub'), report('dub', 'eu-west', 'UP'), { leaseMs: 600_000 });
    for (const s of secondaries)
      await waitFor(
        async () => (await addresses(s.port, 'www.example.test')).join() === all.join(),
        () => `${s.name} to serve every pool again:\n${s.log().slice(-1500)}`,
        10_000,
      );
    expect(await serial(gtm.port)).toBeGreaterThan(second);
  }, 40_000);
});
