// Capacity-aware answers through the real server and the shared state, read by kdig: eu-west's
// agent reports its LBs at 95% of capacity (heartbeats in the file store, as agents write them);
// `gtm dns` sheds a growing share of eu-west's clients (16 /24s in Paris and Madrid) to New York,
// up to max_shed, each subnet on one side; the load back at 30%, every subnet returns to Dublin.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../src/state/index.js';
import { kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';
import { beatAll, sharedStateYaml } from '../helpers/shared-state.js';

let gtm: RunningDns;
let store: FileStateStore;
const DUBLIN = '198.51.100.20';
const NEW_YORK = '198.51.100.10';
// Paris 198.18.16.0/21 and Madrid 198.18.24.0/21: nearest Dublin, then New York.
const SUBNETS = Array.from({ length: 16 }, (_, i) => `198.18.${16 + i}.0/24`);

const answers = async () =>
  Promise.all(
    SUBNETS.map(async (s) =>
      (await kdig(gtm.port, ['+short', '+norec', `+subnet=${s}`, 'www.example.test', 'A'])).trim(),
    ),
  );

/** Heartbeats as agents send them, every 200 ms, until `until` holds (merges follow them). */
async function heartbeatUntil(euLoad: number, until: (a: string[]) => boolean): Promise<string[]> {
  let last: string[] = [];
  await waitFor(
    async () => {
      await beatAll(store, (region) => ({ load: region === 'eu-west' ? euLoad : 0.2 }));
      last = await answers();
      return until(last);
    },
    () => `answers ${last.join(' ')} at eu-west load ${euLoad}`,
    20_000,
    200,
  );
  return last;
}

beforeAll(async () => {
  const dir = tempDir('gtm-capacity-');
  const config = testConfig(dir);
  const statePath = join(dir, 'state.json');
  writeFileSync(
    config,
    `${readFileSync(config, 'utf8').replace(
      '  eu-west:\n',
      '  eu-west:\n    capacity: { shed_above: 0.8, release_below: 0.5, max_shed: 0.5, rate_per_s: 0.25 }\n',
    )}${sharedStateYaml(statePath)}`,
  );
  store = new FileStateStore(statePath);
  await heartbeatUntil(0.3, () => true).catch(() => undefined);
  gtm = await startDns(config, 2);
}, 60_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('capacity-aware answers', () => {
  it('answers every Paris and Madrid subnet Dublin while eu-west has room', async () => {
    const a = await heartbeatUntil(0.3, (x) => x.every((ip) => ip === DUBLIN));
    expect(a.every((ip) => ip === DUBLIN)).toBe(true);
  });

  it('sheds a share of them to New York as the load passes the threshold, never past max_shed', async () => {
    // 16 subnets at a 50% share: all on one side has a chance of 2 in 65,536.
    const shed = await heartbeatUntil(0.95, (x) => x.filter((ip) => ip === NEW_YORK).length >= 4);
    const moved = shed.filter((ip) => ip === NEW_YORK).length;
    expect(moved).toBeGreaterThanOrEqual(4);
    expect(moved).toBeLessThan(16);
    expect(shed.every((ip) => ip === DUBLIN || ip === NEW_YORK)).toBe(true);
    // Held at the ceiling: more heartbeats at 95% never move all of them.
    for (let i = 0; i < 5; i++) {
      const again = await heartbeatUntil(0.95, () => true);
      expect(again.filter((ip) => ip === NEW_YORK).length).toBeLessThan(16);
    }
  });

  it('returns every subnet to Dublin once the load falls below release_below', async () => {
    const back = await heartbeatUntil(0.3, (x) => x.every((ip) => ip === DUBLIN));
    expect(back.every((ip) => ip === DUBLIN)).toBe(true);
  });
});
