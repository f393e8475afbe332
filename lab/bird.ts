// BIRD 2 in the lab and tests: config rendering for the upstream router and the BFD-only
// helper beside gobgpd. The control-socket client lives in the product (src/bgp/bird-ctl.ts).
export { BirdClient, type BirdRoute } from '../src/bgp/index.js';

export interface BirdPeer {
  name: string;
  neighbor: string;
  asn: number;
  /** Track the peer with BFD (needs a BFD speaker at the neighbor address). */
  bfd?: boolean;
}

export function renderBirdConfig(o: {
  routerId: string;
  asn: number;
  peers: BirdPeer[];
  logFile: string;
  kernel?: boolean;
}): string {
  const peers = o.peers
    .map(
      (p) => `protocol bgp ${p.name} from pop {
  neighbor ${p.neighbor} as ${p.asn};${p.bfd ? '\n  bfd on;' : ''}
}`,
    )
    .join('\n');
  return `router id ${o.routerId};
log "${o.logFile}" all;
protocol device { scan time 1; }
${o.kernel ? 'protocol kernel { ipv4 { export all; }; merge paths on; }\nprotocol kernel { ipv6 { export all; }; merge paths on; }' : ''}
${o.peers.some((p) => p.bfd) ? 'protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; }' : ''}
# BIRD does nothing with GRACEFUL_SHUTDOWN by itself (RFC 8326): make it least preferred.
filter from_pop {
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}
template bgp pop {
  local as ${o.asn};
  hold time 9;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 4;
  ipv4 { import filter from_pop; export none; };
  ipv6 { import filter from_pop; export none; };
}
${peers}
`;
}

/**
 * A BFD-only BIRD to run beside gobgpd (which has no BFD): it answers BFD on the PoP's
 * address so the router's `bfd on` session detects a dead link or frozen host in about
 * interval x multiplier, well before the BGP hold time.
 */
export function renderBfdOnlyConfig(o: {
  routerId: string;
  neighbor: string;
  logFile: string;
  intervalMs?: number;
  multiplier?: number;
}): string {
  return `router id ${o.routerId};
log "${o.logFile}" all;
protocol device { scan time 1; }
protocol bfd {
  interface "*" { interval ${o.intervalMs ?? 100} ms; multiplier ${o.multiplier ?? 3}; };
  neighbor ${o.neighbor};
}
`;
}
