// Pure: the paths gobgpd should hold for the VIPs' announce modes (normal, drain, none).
import type { AnnouncedPath } from '../bgp/paths.js';
import type { BgpSettings } from '../config/types.js';
import type { Announce } from './vip-state.js';

export function desiredPaths(b: BgpSettings, vips: { prefix: string; announce: Announce }[]): AnnouncedPath[] {
  const out: AnnouncedPath[] = [];
  for (const v of vips) {
    if (v.announce === 'none') continue;
    const six = v.prefix.includes(':');
    const drain = v.announce === 'drain';
    out.push({
      prefix: v.prefix,
      nextHop: (six ? b.nextHop6 : b.nextHop) as string,
      origin: b.origin,
      med: drain ? (b.drain.med ?? b.med) : b.med,
      // GRACEFUL_SHUTDOWN and friends while draining (RFC 8326), on top of the usual ones.
      communities: drain ? [...new Set([...b.communities, ...b.drain.communities])] : b.communities,
      largeCommunities: b.largeCommunities,
      prepend: drain ? b.drain.prepend : 0,
    });
  }
  return out;
}
