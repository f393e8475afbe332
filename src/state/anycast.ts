// Pure: who announces each shared anycast VIP, and how, from the agents' heartbeats (for the
// control API, the console and the lab). A PoP whose heartbeat lease ran out is "silent".
import type { AnycastVip, Pop } from '../config/types.js';
import type { AgentReport, VipState } from '../contract/index.js';

export type AnycastAnnounce = 'normal' | 'drained' | 'withdrawn' | 'silent';

export interface AnycastView {
  name: string;
  address: string;
  minAnnouncing: number;
  maxWithdrawnShare: number;
  /** PoPs announcing it normally. */
  announcing: number;
  pops: { pop: string; region: string; state: VipState | null; held: boolean; announce: AnycastAnnounce }[];
}

export function anycastViews(
  config: { anycast: Map<string, AnycastVip>; pops: Pop[] },
  reports: AgentReport[],
): AnycastView[] {
  const byPop = new Map(reports.map((r) => [r.pop, r]));
  return [...config.anycast.values()].map((a) => {
    const prefix = `${a.address}/${a.address.includes(':') ? 128 : 32}`;
    const pops = config.pops
      .filter((p) => p.vips.some((v) => v.shared?.name === a.name))
      .map((p) => {
        const v = byPop.get(p.name)?.vips.find((x) => x.prefix === prefix);
        const held = v?.held ?? false;
        const announce: AnycastAnnounce = !v
          ? 'silent'
          : v.state === 'UP'
            ? 'normal'
            : v.state === 'DRAINING' || held
              ? 'drained'
              : 'withdrawn';
        return { pop: p.name, region: p.region, state: v?.state ?? null, held, announce };
      });
    return {
      name: a.name,
      address: a.address,
      minAnnouncing: a.minAnnouncing,
      maxWithdrawnShare: a.maxWithdrawnShare,
      announcing: pops.filter((p) => p.announce === 'normal').length,
      pops,
    };
  });
}
