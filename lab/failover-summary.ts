// The failover phases of each drill (ms from the fault), and the table `gtm lab drill all` ends
// with: per phase, the median and the worst over the drills that went through it. Pure.

import { FAILOVER_PHASES as PHASES, type FailoverPhases } from '../src/contract/index.js';

export type { FailoverPhases };

/** The median of sorted numbers (the lower middle for an even count: a figure that was measured). */
const median = (sorted: number[]) => sorted[Math.floor((sorted.length - 1) / 2)] as number;

/** Per phase: how many drills went through it, the median and the worst (ms). */
export function summarizePhases(drills: { phases?: FailoverPhases }[]) {
  return PHASES.map((phase) => {
    const ms = drills.flatMap((d) => (d.phases?.[phase] === undefined ? [] : [d.phases[phase] as number]));
    ms.sort((a, b) => a - b);
    return ms.length ? { phase, drills: ms.length, p50: median(ms), max: ms.at(-1) as number } : { phase, drills: 0 };
  });
}

/** The table: one row per drill with its phases, then the median and worst of each phase. */
export function formatPhases(drills: { name: string; phases?: FailoverPhases }[]): string {
  const withPhases = drills.filter((d) => d.phases && PHASES.some((p) => d.phases?.[p] !== undefined));
  if (!withPhases.length) return '';
  const cell = (v: number | undefined) => (v === undefined ? '-' : `${v}`).padStart(8);
  const width = Math.max(10, ...withPhases.map((d) => d.name.length));
  const lines = [
    'failover, ms from the fault (detect: agent; decide: DNS server; dns: client answered elsewhere; bgp: router; clients: served elsewhere)',
    `  ${'drill'.padEnd(width)}${PHASES.map((p) => p.padStart(8)).join('')}`,
    ...withPhases.map((d) => `  ${d.name.padEnd(width)}${PHASES.map((p) => cell(d.phases?.[p])).join('')}`),
  ];
  const s = summarizePhases(withPhases);
  lines.push(`  ${'p50'.padEnd(width)}${s.map((x) => cell('p50' in x ? x.p50 : undefined)).join('')}`);
  lines.push(`  ${'max'.padEnd(width)}${s.map((x) => cell('max' in x ? x.max : undefined)).join('')}`);
  return lines.join('\n');
}
