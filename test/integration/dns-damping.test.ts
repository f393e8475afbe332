// Flap damping through the real server and the shared state, read by kdig: eu-west's agent
// reports UP and DOWN in turn every 400 ms (heartbeats in the file store, as agents write them);
// the London client's answer changes a few times, then stays on New York while eu-west flaps,
// and once the flapping stops it returns to Dublin when the penalty has decayed.
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

const london = async () =>
  (await kdig(gtm.port, ['+short', '+norec', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
const beat = (euUp: boolean) => beatAll(store, (region) => ({ up: region !== 'eu-west' || euUp }));

beforeAll(async () => {
  const dir = tempDir('gtm-damping-');
  const config = testConfig(dir);
  const statePath = join(dir, 'state.json');
  writeFileSync(
    config,
    `${readFileSync(config, 'utf8')}${sharedStateYaml(statePath, ['max_regions_out: 0.7', 'flap_damping: { half_life_s: 2, max_suppress_s: 8 }'])}`,
  );
  store = new FileStateStore(statePath);
  await beat(true);
  gtm = await startDns(config, 2);
  await waitFor(async () => (await london()) === DUBLIN, 'London answered Dublin at start', 10_000);
}, 60_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('flap damping', () => {
  it('keeps a flapping region out after a few changes, and lets it back once still', async () => {
    const seen: string[] = [];
    // Twelve flips, 400 ms apart: undamped, the answer would change twelve times.
    for (let i = 0; i < 12; i++) {
      await beat(i % 2 === 1);
      await new Promise((r) => setTimeout(r, 400));
      seen.push(await london());
    }
    const changes = seen.filter((a, i) => a !== (i === 0 ? DUBLIN : seen[i - 1])).length;
    expect(changes).toBeLessThanOrEqual(4);
    // The last flips say UP, yet eu-west is held out: New York answers.
    expect(seen.slice(-4)).toEqual([NEW_YORK, NEW_YORK, NEW_YORK, NEW_YORK]);
    expect(gtm.log()).toMatch(/held out by flap damping/);
    // Still, and UP: back once the penalty decays below reuse (within max_suppress_s).
    await waitFor(
      async () => {
        await beat(true);
        return (await london()) === DUBLIN;
      },
      'London answered Dublin again',
      15_000,
      300,
    );
  }, 40_000);
});
