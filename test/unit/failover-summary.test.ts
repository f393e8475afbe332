// The table `gtm lab drill all` ends with: each drill's failover phases, then per phase the
// median and the worst over the drills that went through it (drills without a phase are left out).
import { describe, expect, it } from 'vitest';
import { formatPhases, summarizePhases } from '../../lab/failover-summary.js';

const drills = [
  { name: 'cluster-down', phases: { detect: 310, decide: 420, dns: 455, bgp: 330, clients: 520 } },
  { name: 'link-cut', phases: { detect: 260, decide: 300, dns: 337, bgp: 92, clients: 410 } },
  { name: 'drain', phases: { detect: 12, dns: 64, bgp: 73 } },
  { name: 'restart-recovery' },
];

describe('failover phases over the drills', () => {
  it('gives each phase its median (the lower middle) and worst, over the drills that had it', () => {
    expect(summarizePhases(drills)).toEqual([
      { phase: 'detect', drills: 3, p50: 260, max: 310 },
      { phase: 'decide', drills: 2, p50: 300, max: 420 },
      { phase: 'dns', drills: 3, p50: 337, max: 455 },
      { phase: 'bgp', drills: 3, p50: 92, max: 330 },
      { phase: 'clients', drills: 2, p50: 410, max: 520 },
    ]);
    expect(summarizePhases([{}])[0]).toEqual({ phase: 'detect', drills: 0 });
  });

  it('prints one row per drill that failed over, a dash for a phase it did not go through, then p50 and max', () => {
    const lines = formatPhases(drills).split('\n');
    expect(lines.slice(1)).toEqual([
      '  drill         detect  decide     dns     bgp clients',
      '  cluster-down     310     420     455     330     520',
      '  link-cut         260     300     337      92     410',
      '  drain             12       -      64      73       -',
      '  p50              260     300     337      92     410',
      '  max              310     420     455     330     520',
    ]);
    expect(formatPhases([{ name: 'restart-recovery' }])).toBe('');
  });
});
