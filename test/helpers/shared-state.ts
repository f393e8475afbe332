// A DNS server fed by the shared state, as tests write it: three PoPs (nyc, dub, sin) for the
// example's regions, a file store, and heartbeats as agents send them.
import type { AgentReport } from '../../src/contract/index.js';
import { KEYS } from '../../src/contract/index.js';
import type { FileStateStore } from '../../src/state/index.js';

/** One PoP of a config, its agent never started (the test writes its heartbeats). */
export const popYaml = (name: string, region: string, n: number) => `  ${name}:
    region: ${region}
    bgp: { asn: 6500${n}, router_id: 10.0.${n}.2, neighbors: [{ address: 10.0.${n}.1, asn: 65000 }], next_hop: 10.0.${n}.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }] }]
`;

export const POPS = [
  ['nyc', 'us-east'],
  ['dub', 'eu-west'],
  ['sin', 'ap-southeast'],
] as const;

/** `control:` with a file store (and `extra` lines under it), and `pops:` for the three regions. */
export function sharedStateYaml(statePath: string, extra: string[] = []): string {
  return `control:
  store: { file: ${statePath} }
  lease_ms: 60000
  heartbeat_ms: 200
${extra.map((l) => `  ${l}\n`).join('')}pops:
${POPS.map(([p, r], i) => popYaml(p, r, i + 1)).join('')}`;
}

/** A heartbeat: serving with its VIP UP (or DOWN), with a load when given. */
export const heartbeat = (pop: string, region: string, up = true, load?: number): AgentReport => ({
  pop,
  region,
  serving: up,
  sessionUp: true,
  vips: [{ prefix: 'v/32', state: up ? 'UP' : 'DOWN' }],
  ...(load === undefined ? {} : { load }),
  at: Date.now(),
});

/** Every PoP's heartbeat at once; `of` says each region's (up, load). */
export async function beatAll(
  store: FileStateStore,
  of: (region: string) => { up?: boolean; load?: number } = () => ({}),
): Promise<void> {
  for (const [pop, region] of POPS) {
    const { up = true, load } = of(region);
    await store.put(KEYS.agent(pop), heartbeat(pop, region, up, load), { leaseMs: 600_000 });
  }
}
