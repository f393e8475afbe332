// Shedding a loaded region's answers (src/state/capacity.ts sets the share): of the clients whose
// first healthy candidate is a region shedding share s, those whose subnet hashes below s are
// answered the next healthy candidate instead. The hash is of the client's subnet, so a subnet
// stays on one side while the share holds, and as the share grows only more subnets move. Pure.
import { FNV_OFFSET, subnetHash } from '../runtime/index.js';
import type { RegionStatus } from '../contract/index.js';
import type { Client } from './types.js';

/** The subnets hashed (IPv4 /24, IPv6 /56, as ECS usually carries and as sticky hashes). */
export const SHED_PREFIX = { 4: 24, 6: 56 } as const;

/** A client subnet's place in [0, 1): below a region's shed share, it is moved. */
export function shedDraw(client: Client): number {
  // Not sticky's start: the two choices stay independent.
  return subnetHash(client.address, SHED_PREFIX[client.family], FNV_OFFSET ^ 0x5bd1e995) / 2 ** 32;
}

export interface Shed {
  candidates: string[];
  /** The region this client was moved from, and its share (explain). */
  from?: { region: string; share: number; outcome: 'kept' | 'nowhere' | 'moved'; to?: string };
  /** Bits of the client address the outcome depends on. */
  scope: number;
}

/**
 * The candidates for this client after shedding: when the first healthy one sheds a share and the
 * client's subnet falls in it, that region goes after the next healthy one.
 */
export function applyShed(
  candidates: readonly string[],
  client: Client | undefined,
  statusOf: (region: string) => RegionStatus,
  shedOf: (region: string) => number,
): Shed | undefined {
  if (!client) return undefined;
  const first = candidates.findIndex((r) => statusOf(r) === 'up');
  if (first < 0) return undefined;
  const region = candidates[first] as string;
  const share = shedOf(region);
  if (!(share > 0)) return undefined;
  const scope = SHED_PREFIX[client.family];
  if (shedDraw(client) >= share)
    return { candidates: [...candidates], from: { region, share, outcome: 'kept' }, scope };
  const next = candidates.findIndex((r, i) => i > first && statusOf(r) === 'up');
  if (next < 0) return { candidates: [...candidates], from: { region, share, outcome: 'nowhere' }, scope };
  const out = candidates.filter((_, i) => i !== first);
  out.splice(next, 0, region); // after the next healthy one (its index moved down by one)
  return { candidates: out, from: { region, share, outcome: 'moved', to: candidates[next] as string }, scope };
}
