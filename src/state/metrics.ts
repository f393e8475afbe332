// Region state as Prometheus sees it, read from a process's own view when scraped: the DNS
// primary's (what it answers from) and the control plane's (what operators act on) export the
// same families, told apart by Prometheus' job label.
import { Gauge, type Registry } from '../observability/index.js';
import type { FlapDamping } from '../config/index.js';
import { decayed } from './damping.js';
import { REGION_SOURCES, REGION_STATUSES, VANTAGE_VERDICTS, type RegionView } from '../contract/index.js';

/** Registers the region-state families; `regions` lists the configured regions, `view` reads one. */
// long: a list of gauge declarations, each a few lines over the same collector
export function regionStateMetrics(
  registry: Registry,
  regions: () => Iterable<string>,
  view: (region: string) => RegionView | undefined,
  /** The flap damping rule, to decay the penalty to the scrape's time. */
  damping: () => FlapDamping | undefined = () => undefined,
): void {
  /** prom-client calls `collect` on the gauge itself (as `this`) when it is scraped. */
  const each = (set: (g: Gauge, region: string, v: RegionView) => void) =>
    function (this: Gauge) {
      this.reset();
      for (const region of regions()) {
        const v = view(region);
        if (v) set(this, region, v);
      }
    };
  new Gauge({
    name: 'gtm_region_status',
    help: '1 for the status a region has now (up, down, draining)',
    labelNames: ['region', 'status'],
    registers: [registry],
    collect: each((g, region, v) => {
      for (const s of REGION_STATUSES) g.set({ region, status: s }, s === v.status ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_source',
    help: '1 for the signal that decided a region status (override, health, vantage, config)',
    labelNames: ['region', 'source'],
    registers: [registry],
    collect: each((g, region, v) => {
      for (const s of REGION_SOURCES) g.set({ region, source: s }, s === (v.source ?? 'config') ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_guardrail_held',
    help: '1 while the guard rail keeps a region in DNS although its health says out',
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      g.set({ region }, v.held ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_unknown',
    help: '1 while no agent of a region has ever reported: its status is control.unknown (up by default)',
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      g.set({ region }, v.unknown ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_family_out',
    help: '1 while an up region is out for one address family alone: fewer PoPs serve a VIP of it than regions.X.min_children',
    labelNames: ['region', 'family'],
    registers: [registry],
    collect: each((g, region, v) => {
      for (const family of ['ipv4', 'ipv6'] as const) g.set({ region, family }, v.familyOut?.[family] ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_pool_out',
    help: "1 while a steered name skips an up region because its pool's own health (services.X.pools[].health) does not hold",
    labelNames: ['service', 'region'],
    registers: [registry],
    // Only pools out have a series: a pool back in is none (absent reads as 0 in alert rules).
    collect: each((g, region, v) => {
      for (const service of Object.keys(v.poolsOut ?? {})) g.set({ service, region }, 1);
    }),
  });
  new Gauge({
    name: 'gtm_region_since_seconds',
    help: 'When a region got its status (Unix time)',
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      g.set({ region }, v.since / 1000);
    }),
  });
  new Gauge({
    name: 'gtm_region_vantage_verdict',
    help: '1 for what the vantage points together say of a region (reachable, unreachable, no-opinion)',
    labelNames: ['region', 'verdict'],
    registers: [registry],
    collect: each((g, region, v) => {
      if (!v.vantage) return;
      for (const s of VANTAGE_VERDICTS) g.set({ region, verdict: s }, s === v.vantage.verdict ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_flap_penalty',
    help: "A region's flap-damping penalty now (control.flap_damping; it decays with the half-life)",
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      const rule = damping();
      if (v.damping && rule) g.set({ region }, Math.round(decayed(v.damping, Date.now(), rule)));
    }),
  });
  new Gauge({
    name: 'gtm_region_damped',
    help: '1 while flap damping holds a region out of DNS (or in, with hold: in) whatever its health says',
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      g.set({ region }, v.damping?.heldAs ? 1 : 0);
    }),
  });
  new Gauge({
    name: 'gtm_region_load_ratio',
    help: "A region's LB load as a share of capacity (1: full), the mean of its PoPs that report one",
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      if (v.load !== undefined) g.set({ region }, v.load);
    }),
  });
  new Gauge({
    name: 'gtm_region_shed_ratio',
    help: "The share of a region's DNS answers given to the next region under load (regions.X.capacity)",
    labelNames: ['region'],
    registers: [registry],
    collect: each((g, region, v) => {
      g.set({ region }, v.shed ?? 0);
    }),
  });
}
