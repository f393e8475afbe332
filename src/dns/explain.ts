// `gtm explain`: why does this client get this answer? It sends a real query through the
// same Authority the server uses and reports the traced decision and the decoded answer.
import dns2 from 'dns2';
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { formatAddress, parseCidr, prefixMatch } from '../net/index.js';
import { matchFence } from '../policy/index.js';
import type { RegionStateSource } from '../state/index.js';
import { storeLostText } from '../state/store-lost.js';
import type { GeoResolver } from '../geo/index.js';
import { Authority, type Decision } from './authority.js';
import { RCODE_NAME, TYPE, TYPE_NAME, buildQuery } from '../wire/index.js';

export interface ExplainRequest {
  name: string;
  type: string;
  client: string;
  ecs?: string;
}

/** A one-off explanation (the CLI); a long-lived process keeps an Explainer. */
export function explain(config: Config, geo: GeoResolver, state: RegionStateSource, req: ExplainRequest): string[] {
  return new Explainer(config, geo, state).explain(req);
}

/**
 * Explains answers with one Authority made once (its zones compiled once, one subscription to
 * the region state), however many questions it is asked: the control plane's live explain.
 */
export class Explainer {
  private readonly authority: Authority;
  constructor(
    config: Config,
    private readonly geo: GeoResolver,
    state: RegionStateSource,
  ) {
    this.authority = new Authority(config, geo, state);
  }

  explain(req: ExplainRequest): string[] {
    return explainWith(this.authority, this.geo, req);
  }
}

function explainWith(authority: Authority, geo: GeoResolver, req: ExplainRequest): string[] {
  if (!isIP(req.client)) throw new Error(`--client ${req.client}: not an IP address`);
  const qtype = TYPE[req.type.toUpperCase() as keyof typeof TYPE];
  if (qtype === undefined) throw new Error(`unknown query type ${req.type}`);
  let ecs: { address: Uint8Array; sourcePrefix: number } | undefined;
  if (req.ecs) {
    const net = parseCidr(req.ecs.includes('/') ? req.ecs : `${req.ecs}/${isIP(req.ecs) === 6 ? 56 : 24}`);
    if (!net) throw new Error(`--ecs ${req.ecs}: not a subnet (e.g. 198.51.100.0/24)`);
    ecs = { address: net.bytes, sourcePrefix: net.prefix };
  }
  let decision: Decision | undefined;
  authority.onDecision = (d) => (decision = d);
  const query = buildQuery(req.name, qtype, { id: 1, edns: { udpSize: 4096 }, ecs });
  const { response, info } = authority.respond(query, req.client, true);
  const out: string[] = [
    `query: ${req.name} ${TYPE_NAME[qtype]} from ${req.client}${ecs ? ` with ECS ${req.ecs}` : ''}`,
  ];
  // Said before anything else: with `servfail` no steering runs at all.
  const lost = authority.storeLost();
  if (lost) out.push(`store: ${storeLostText(lost)}`);
  if (decision) {
    out.push(...describeDecision(decision, authority));
    if (qtype === TYPE.HTTPS && decision.service.https) {
      const hint = (f: 'vip4' | 'vip6') => decision?.selection.pools.flatMap((p) => p[f] ?? []).join(',') || '(none)';
      out.push(
        `https: ipv4hint=${hint('vip4')} ipv6hint=${hint('vip6')} (the chosen regions' addresses, as for A and AAAA)`,
      );
    }
    // CC BY data: its results are shown with the credit its licence asks for.
    if (decision.client?.location && geo.attribution) out.push(`geo data: ${geo.attribution}`);
    if (decision.client?.asn !== undefined && geo.asnAttribution) out.push(`asn data: ${geo.asnAttribution}`);
  } else out.push('steering: none (static data or no steered name here)');
  out.push(`rcode: ${RCODE_NAME[info.rcode] ?? info.rcode}`);
  if (response) {
    const packet = dns2.Packet.parse(response) as unknown as {
      answers: { name: string; type: number; ttl: number; address?: string; domain?: string; data?: unknown }[];
      authorities: { name: string; type: number; ttl: number }[];
    };
    for (const a of packet.answers)
      out.push(
        `answer: ${a.name} ${a.ttl} ${TYPE_NAME[a.type] ?? a.type} ${a.address ?? a.domain ?? JSON.stringify(a.data ?? '')}`,
      );
    for (const a of packet.authorities) out.push(`authority: ${a.name} ${a.ttl} ${TYPE_NAME[a.type] ?? a.type}`);
  }
  return out;
}

/** The database network that holds the address, e.g. 128.32.0.0/16. */
function networkOf(address: Uint8Array, prefix: number): string {
  const masked = Uint8Array.from(address, (b, i) =>
    i * 8 >= prefix ? 0 : i * 8 + 8 <= prefix ? b : b & (0xff << (8 - (prefix - i * 8))),
  );
  return `${formatAddress(masked)}/${prefix}`;
}

/** Which fence rule the client matched, and by what (its network or its AS). */
function fenceLine(d: Decision): string {
  const c = d.client;
  const as = c?.asn === undefined ? 'AS unknown' : `AS${c.asn}${c.asnOrg ? ` (${c.asnOrg})` : ''}`;
  const { rule, scope } = matchFence(d.service.fence, c);
  if (!c) return 'no client address; no rule applies';
  if (!rule) return `no rule matches ${formatAddress(c.address)} (${as}); the answer holds for its /${scope}`;
  const by =
    c.asn !== undefined && rule.asns.has(c.asn)
      ? `its ${as}`
      : `its network ${rule.networks
          .filter((n) => n.family === c.family && prefixMatch(c.address, n.bytes, n.prefix))
          .map((n) => `${formatAddress(n.bytes)}/${n.prefix}`)
          .join(', ')}`;
  const what = rule.pin ? `pins ${rule.pin.join(', ')}` : `excludes ${rule.exclude?.join(', ')}`;
  return `rule ${rule.index} matches by ${by}: ${what}`;
}

function describeDecision(d: Decision, authority: Authority): string[] {
  const loc = d.client?.location;
  const lines = [
    `service: ${d.service.key} (${d.service.name}), policy ${d.service.policy.kind}, ttl ${d.service.ttl}`,
  ];
  if (!d.client) lines.push('client: unknown');
  else {
    const where = loc
      ? [
          loc.city && `city ${loc.city}`,
          loc.subdivision && `subdivision ${loc.subdivision}`,
          loc.country && `country ${loc.country}`,
          loc.continent && `continent ${loc.continent}`,
          loc.lat !== undefined && `at ${loc.lat},${loc.lon}${loc.coarse ? ' (country centre)' : ''}`,
        ]
          .filter(Boolean)
          .join(', ')
      : 'not in the geo database';
    lines.push(
      `client (from ${d.clientSource}): ${where}; database network ${networkOf(d.client.address, d.client.geoPrefix)}`,
    );
  }
  if (d.service.fence.length) lines.push(`fence: ${fenceLine(d)}`);
  lines.push(`rule: ${d.ordering.rule}`);
  lines.push(
    `candidates: ${d.selection.health.map((h, i) => `${i + 1}. ${h.region} [${authority.statusOf(h.region)}${h.status === 'up' ? '' : ', skipped'}]`).join('  ')}`,
  );
  for (const h of d.selection.health) {
    const health = authority.healthOf(h.region);
    if (health) lines.push(`health: ${h.region} ${health}`);
    const pool = authority.poolOutOf(h.region, d.service.key);
    if (pool) lines.push(`pool: ${h.region} ${pool}`);
    const damping = authority.dampingOf(h.region);
    if (damping) lines.push(`damping: ${h.region} ${damping}`);
  }
  if (d.selection.failOpen !== 'none')
    lines.push(
      `fail-open: no candidate is up; answering ${d.selection.failOpen === 'last-resort' ? 'the last resort' : 'every candidate'}`,
    );
  const chosen = d.selection.pools.map((p) => (p.cname ? `${p.region} (alias: CNAME ${p.cname})` : p.region));
  lines.push(`chosen: ${chosen.join(', ') || '(none with an address of this family)'}`);
  lines.push(`ecs scope: /${d.ecsScope}${d.clientSource === 'ecs' ? '' : ' (only sent when the query carries ECS)'}`);
  if (d.shed)
    lines.push(
      `capacity: ${d.shed.region} sheds ${Math.round(d.shed.share * 100)}% of its answers under load; this client's subnet ${{ moved: `is shed to ${d.shed.to}`, kept: 'stays', nowhere: 'stays (no other healthy candidate)' }[d.shed.outcome]}`,
    );
  if (d.ttlReason) lines.push(`ttl: ${d.ttl} instead of ${d.service.ttl} (${d.ttlReason})`);
  return lines;
}
