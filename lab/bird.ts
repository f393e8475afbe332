// BIRD 2 in the lab and tests: config rendering for the upstream router and the BFD-only
// helper beside gobgpd. The control-socket client lives in the product (src/bgp/bird-ctl.ts).
export { BirdClient, type BirdRoute } from '../src/bgp/index.js';

export interface BirdPeer {
  name: string;
  neighbor: string;
  asn: number;
  /** Track the peer with BFD (needs a BFD speaker at the neighbor address). */
  bfd?: boolean;
  /** Accept only these host routes (the PoP's VIPs) from it, at most twice as many (import limit). */
  prefixes?: string[];
}

/** A PoP's import filter for one family: its own VIPs only, GRACEFUL_SHUTDOWN made least preferred. */
function peerFilter(p: BirdPeer, six: boolean): string {
  const mine = (p.prefixes ?? []).filter((x) => x.includes(':') === six);
  const test = mine.length ? `if net !~ [ ${mine.join(', ')} ] then reject;` : 'reject;';
  return `filter from_${p.name}_${six ? 'v6' : 'v4'} {
  ${test}
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}`;
}

function peerChannels(p: BirdPeer): string {
  if (!p.prefixes) return '';
  const limit = Math.max(4, p.prefixes.length * 2);
  return `
  ipv4 { import filter from_${p.name}_v4; import limit ${limit} action block; export none; };
  ipv6 { import filter from_${p.name}_v6; import limit ${limit} action block; export none; };`;
}

export function renderBirdConfig(o: {
  routerId: string;
  asn: number;
  peers: BirdPeer[];
  logFile: string;
  kernel?: boolean;
}): string {
  const filters = o.peers
    .filter((p) => p.prefixes)
    .flatMap((p) => [peerFilter(p, false), peerFilter(p, true)])
    .join('\n');
  const peers = o.peers
    .map(
      (p) => `protocol bgp ${p.name} from pop {
  neighbor ${p.neighbor} as ${p.asn};${p.bfd ? '\n  bfd on;' : ''}${peerChannels(p)}
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
${filters ? `${filters}\n` : ''}template bgp pop {
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
