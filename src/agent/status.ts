// The shape of the agent's GET /status: typed once here, imported by the lab and drills.
import type { AnnouncedPath } from '../bgp/index.js';
import type { NodeHealth, Verdict } from '../health/index.js';
import type { VipState } from '../contract/index.js';
import type { Announce } from './vip-state.js';

export interface AgentStatus {
  pop: string;
  region: string;
  serving: boolean;
  bgp: {
    api: string;
    apiUp: boolean;
    gobgpdPid: number;
    sessions: Record<string, string>;
    bfd: Record<string, string>;
    sessionUp: boolean;
  };
  maintenance: {
    on: boolean;
    file: boolean;
    api: { reason: string; since: number } | null;
    /** An operator's drain of the region, through the control plane (shared store). */
    operator: { reason: string; who: string; expiresAt?: number } | null;
  };
  shuttingDown: boolean;
  announced: AnnouncedPath[];
  vips: {
    prefix: string;
    state: VipState;
    since: string;
    reason: string;
    announce: Announce;
    /** The shared anycast VIP's name (null: this PoP's own VIP). */
    shared: string | null;
    /** Kept announced, drained, by the BGP guard rail although unhealthy. */
    held: boolean;
    verdict: Verdict;
    verdictReason: string;
    flaps: number;
    errorRate: number | null;
    nodes: {
      name: string;
      address: string;
      state: NodeHealth;
      last: { ok: boolean; detail: string; at: number; ms: number } | null;
    }[];
  }[];
}
