// A vantage point's own logic with a scripted prober and a recording store: which regions it
// checks, rise/fall per address, "reachable" only when every VIP of the region answers, and no
// report for a target it has no verdict on yet.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import type { StateStore } from '../../src/state/index.js';
import type { VantageReport } from '../../src/contract/index.js';
import { VantagePoint, vantageTargets } from '../../src/vantage/index.js';
import { readFileSync } from 'node:fs';
import { EXAMPLE } from '../helpers/dns.js';

const config = parseConfigText(
  `${readFileSync(EXAMPLE, 'utf8')}
control:
  store: { file: /tmp/unused.json }
  vantage: { rise: 2, fall: 2, interval_ms: 100, lease_ms: 1000 }
`,
);

function recorder() {
  const puts: VantageReport[] = [];
  const store = {
    put: async (_k: string, v: VantageReport) => void puts.push(v),
    delete: async () => undefined,
  } as unknown as StateStore;
  return { puts, store };
}

describe('vantage point', () => {
  it('checks every region but its own, every VIP of each', () => {
    const t = vantageTargets(config, 'us-east');
    expect(t.map((x) => x.region)).toEqual(['eu-west', 'ap-southeast']);
    expect(t[0]?.addresses).toEqual(['198.51.100.20', '2001:db8:20::20']);
    expect(vantageTargets(config).map((x) => x.region)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('rise/fall per address; a region is reachable only when all its VIPs are', async () => {
    const failing = new Set<string>();
    const { puts, store } = recorder();
    const vp = new VantagePoint(
      'lon',
      undefined,
      vantageTargets(config),
      config.control!.vantage!,
      store,
      createLogger('test-vantage', 'silent'),
      async (address) => ({ ok: !failing.has(address), detail: failing.has(address) ? 'timeout' : 'ok', ms: 1 }),
    );
    await vp.probeAll();
    expect(puts.at(-1)?.targets).toEqual([]); // one success is not yet "up" (rise 2)
    await vp.probeAll();
    expect(puts.at(-1)?.targets.map((t) => [t.region, t.reachable])).toEqual([
      ['us-east', true],
      ['eu-west', true],
      ['ap-southeast', true],
    ]);
    failing.add('2001:db8:20::20'); // eu-west's IPv6 VIP only
    await vp.probeAll();
    expect(puts.at(-1)?.targets.find((t) => t.region === 'eu-west')?.reachable).toBe(true); // fall 2
    await vp.probeAll();
    const eu = puts.at(-1)?.targets.find((t) => t.region === 'eu-west');
    expect(eu).toEqual({ region: 'eu-west', reachable: false, detail: '2001:db8:20::20: timeout' });
    expect(
      puts
        .at(-1)
        ?.targets.filter((t) => t.reachable)
        .map((t) => t.region),
    ).toEqual(['us-east', 'ap-southeast']);
    expect(puts.at(-1)?.point).toBe('lon');
  });
});
