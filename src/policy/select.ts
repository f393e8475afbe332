// The health filter and the fail-open rule, applied to a policy's ordering.
import type { Pool, RegionStatus, Service } from '../config/types.js';

export interface Selection {
  pools: Pool[];
  /** Health of each candidate, in candidate order (for explain). */
  health: { region: string; status: RegionStatus }[];
  failOpen: 'none' | 'last-resort' | 'all-candidates';
}

/**
 * Filters candidates by health and takes `answers` of them (0 = all healthy). If no
 * candidate is up the answer fails open: to the service's last resort, else to every
 * candidate. It is never empty while some pool has an address of the asked family.
 */
export function select(
  service: Service,
  candidates: string[],
  family: 4 | 6,
  statusOf: (region: string) => RegionStatus,
): Selection {
  const usable = (r: string): Pool | undefined => {
    const p = service.pools.find((x) => x.region === r);
    return p && (family === 4 ? p.vip4 : p.vip6) ? p : undefined;
  };
  const health = candidates.map((region) => ({ region, status: statusOf(region) }));
  const up = health
    .filter((h) => h.status === 'up')
    .map((h) => usable(h.region))
    .filter((p): p is Pool => p !== undefined);
  const take = (list: Pool[]) => (service.answers === 0 ? list : list.slice(0, service.answers));
  if (up.length) return { pools: take(up), health, failOpen: 'none' };
  const resort = service.lastResort.map(usable).filter((p): p is Pool => p !== undefined);
  if (resort.length) return { pools: take(resort), health, failOpen: 'last-resort' };
  const all = candidates.map(usable).filter((p): p is Pool => p !== undefined);
  return { pools: take(all), health, failOpen: 'all-candidates' };
}
