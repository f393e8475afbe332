// The authoritative answer logic: query bytes in, response bytes out. No sockets here,
// so every wire rule is testable in-process and the same code serves UDP and TCP.
import type { Config, RegionStatus, Service } from '../config/index.js';
import { MAX_CNAME_CHAIN } from '../config/limits.js';
import { addressRdata, formatAddress } from '../net/index.js';
import type { RegionStateSource } from '../state/index.js';
import type { GeoResolver, GeoResult } from '../geo/index.js';
import {
  locationOnly,
  order,
  select,
  type Client,
  type Ordering,
  type PolicyContext,
  type Selection,
} from '../policy/index.js';
import { compileZones, cutOf, findZone, type CompiledZone, type RRset } from './zone.js';
import { RCODE, ResponseWriter, TYPE, parseQuery, type Edns, type Query } from './wire.js';

export interface QueryInfo {
  qname?: string;
  qtype?: number;
  rcode: number;
  policy?: string;
  regions?: string[];
  truncated?: boolean;
  dropped?: string;
}

export interface Decision {
  service: Service;
  client?: Client;
  clientSource: 'ecs' | 'resolver' | 'none';
  ordering: Ordering;
  selection: Selection;
  ecsScope: number;
}

const HINFO_RFC8482 = Buffer.from([7, ...Buffer.from('RFC8482'), 0]);
/** Cache key for clients whose location is unknown. */
const NO_LOCATION = {};
const GEO_CACHE_MAX = 100_000;

export class Authority {
  private zones: CompiledZone[];
  private readonly writer = new ResponseWriter();
  private readonly ctx: PolicyContext;
  /** Orderings per service and geo record (records are shared objects per database). */
  private orderCache = new Map<Service, WeakMap<object, Ordering>>();
  /** Geo lookups per ECS subnet / resolver address: resolvers repeat the same few. */
  private geoCache = new Map<string | number, GeoResult>();
  /** Optional tracer used by `gtm explain`. */
  onDecision?: (d: Decision) => void;

  constructor(
    private config: Config,
    private geo: GeoResolver,
    private readonly state: RegionStateSource,
  ) {
    this.zones = compileZones(config);
    this.ctx = {
      regions: config.regions,
      weightOf: (r) => this.weightOf(r),
      random: Math.random,
    };
  }

  /** Swaps in a new config (and geo database) atomically between two queries. */
  reload(config: Config, geo?: GeoResolver): void {
    const zones = compileZones(config);
    this.config = config;
    this.zones = zones;
    this.ctx.regions = config.regions;
    if (geo) this.geo = geo;
    this.orderCache = new Map();
    this.geoCache = new Map();
  }

  get currentConfig(): Config {
    return this.config;
  }

  statusOf(region: string): RegionStatus {
    return this.state.get(region)?.status ?? this.config.regions.get(region)?.status ?? 'down';
  }

  private weightOf(region: string): number {
    return this.state.get(region)?.weight ?? this.config.regions.get(region)?.weight ?? 0;
  }

  /** Answers one DNS message; `tcp` lifts the UDP size limit. No response means drop. */
  respond(msg: Uint8Array, remoteAddress: string, tcp: boolean): { response?: Buffer; info: QueryInfo } {
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') return { info: { rcode: -1, dropped: parsed.reason } };
    const w = this.writer;
    if (parsed.kind === 'error') {
      const flags = 0x8000 | (parsed.opcode << 11) | (parsed.rd ? 0x0100 : 0) | (parsed.rcode & 0xf);
      w.begin(msg, parsed.id, flags, parsed.questionEnd, undefined);
      // A valid ECS option is echoed with SCOPE 0: nothing in this answer depends on the client.
      const ecs = parsed.edns?.ecs && this.config.dns.ecs ? { ecs: parsed.edns.ecs, scope: 0 } : undefined;
      if (parsed.edns) w.opt(this.config.dns.maxUdpSize, parsed.rcode >> 4, parsed.edns.dnssecOk, ecs);
      return { response: w.finish(), info: { rcode: parsed.rcode } };
    }
    const q = parsed.query;
    const info: QueryInfo = { qname: q.qname, qtype: q.qtype, rcode: RCODE.NOERROR };
    let aa = true;
    let rcode: number = RCODE.NOERROR;
    let ecsScope = 0;
    w.begin(msg, q.id, 0, q.questionEnd, q.qname);

    const zone =
      // QCLASS * (255) asks for any class: ours is IN (RFC 1035 §3.2.5).
      (q.qclass === 1 || q.qclass === 255) && q.qtype !== TYPE.AXFR && q.qtype !== TYPE.IXFR
        ? findZone(this.zones, q.qname)
        : undefined;
    if (!zone) {
      aa = false;
      rcode = RCODE.REFUSED;
    } else {
      let name = q.qname;
      // The answer ends in data of the asked type, or in a CNAME we do not follow (out of
      // zone, too deep): no SOA then. Otherwise it is NODATA or NXDOMAIN, at the end of any
      // chain too, and the SOA goes in authority (RFC 2308 §2.1, §2.2).
      let answered = false;
      for (let depth = 0; ; depth++) {
        // At or below a delegation the child zone answers: a referral (RFC 1034 §4.3.2 step 3b),
        // except for DS at the cut, which is the parent's (ours) to answer (RFC 4034 §5).
        const cut = cutOf(zone, name);
        if (cut && !(q.qtype === TYPE.DS && name === cut.name)) {
          this.referral(zone, cut.name, cut.ns);
          // Not authoritative for the child's data, unless a CNAME of ours led here.
          if (depth === 0) aa = false;
          answered = true;
          break;
        }
        const node = zone.nodes.get(name);
        if (!node) {
          rcode = RCODE.NXDOMAIN;
          break;
        }
        const cname = node.rrsets.get(TYPE.CNAME);
        if (q.qtype === TYPE.ANY && cname) {
          // ANY at an alias is the alias (RFC 8482 §4.1): a HINFO there would be "CNAME and other data".
          this.rrset(1, name, cname);
          answered = true;
          break;
        }
        if (q.qtype === TYPE.ANY) {
          // RFC 8482: answer ANY minimally with one synthesized HINFO.
          w.record(1, name, TYPE.HINFO, zone.zone.soa.ttl, HINFO_RFC8482);
          answered = true;
          break;
        }
        if (cname && q.qtype !== TYPE.CNAME) {
          const target = (cname.targets as string[])[0] as string;
          this.rrset(1, name, cname);
          // Follow the chain while it stays inside this zone.
          if (depth + 1 >= MAX_CNAME_CHAIN || !(target === zone.zone.name || target.endsWith(`.${zone.zone.name}`))) {
            answered = true;
            break;
          }
          name = target;
          continue;
        }
        if (node.service && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA)) {
          const d = this.decide(node.service, q, remoteAddress, q.qtype === TYPE.A ? 4 : 6);
          info.policy = node.service.policy.kind;
          info.regions = d.selection.pools.map((p) => p.region);
          ecsScope = d.ecsScope;
          for (const p of d.selection.pools) {
            const addr = q.qtype === TYPE.A ? p.vip4 : p.vip6;
            if (addr) {
              w.record(1, name, q.qtype, node.service.ttl, addressRdata(addr));
              answered = true;
            }
          }
          break;
        }
        const set = node.rrsets.get(q.qtype);
        if (set) {
          answered = true;
          this.rrset(1, name, set);
          if (set.type === TYPE.NS) this.glue(zone, set.targets as string[]);
        }
        break;
      }
      // NXDOMAIN or NODATA: the SOA goes in authority with the negative TTL (RFC 2308).
      if (!answered || rcode === RCODE.NXDOMAIN) {
        w.composite(2, zone.zone.name, TYPE.SOA, zone.negativeTtl, zone.soa.pre, zone.soa.names, zone.soa.post);
      }
    }

    info.rcode = rcode;
    const flags = 0x8000 | (aa ? 0x0400 : 0) | (q.rd ? 0x0100 : 0) | (q.cd ? 0x0010 : 0) | rcode;
    w.setFlags(flags);
    const edns = q.edns;
    // SOURCE PREFIX-LENGTH 0 (the client asks for no tailoring) is answered with SCOPE 0 (RFC 7871 §7.1.2).
    const ecsEcho =
      edns?.ecs && this.config.dns.ecs
        ? { ecs: edns.ecs, scope: edns.ecs.sourcePrefix === 0 ? 0 : ecsScope }
        : undefined;
    if (edns) w.opt(this.config.dns.maxUdpSize, 0, edns.dnssecOk, ecsEcho);
    if (!tcp) {
      const limit = edns ? Math.min(Math.max(512, edns.udpSize), this.config.dns.maxUdpSize) : 512;
      if (w.length > limit) {
        // Too large for UDP: send header and question with TC so the client retries on TCP.
        w.truncateTo(q.questionEnd);
        w.setFlags(flags | 0x0200);
        if (edns) w.opt(this.config.dns.maxUdpSize, 0, edns.dnssecOk, ecsEcho);
        info.truncated = true;
      }
    }
    return { response: w.finish(), info };
  }

  /** Writes one RRset, compressing the names in its RDATA where the type allows it. */
  private rrset(section: 1 | 2 | 3, owner: string, set: RRset): void {
    const w = this.writer;
    if (set.parts) for (const p of set.parts) w.composite(section, owner, set.type, set.ttl, p.pre, p.names, p.post);
    else for (const rd of set.rdata) w.record(section, owner, set.type, set.ttl, rd);
  }

  /** A referral: the cut's NS set in authority, addresses of its name servers we hold in additional. */
  private referral(zone: CompiledZone, cut: string, ns: RRset): void {
    this.rrset(2, cut, ns);
    this.glue(zone, ns.targets as string[]);
  }

  private glue(zone: CompiledZone, targets: string[]): void {
    for (const t of targets) {
      const n = zone.nodes.get(t);
      if (!n) continue;
      for (const type of [TYPE.A, TYPE.AAAA]) {
        const set = n.rrsets.get(type);
        if (set) for (const rd of set.rdata) this.writer.record(3, t, type, set.ttl, rd);
      }
    }
  }

  /** Runs the service's policy for one client: ordering, health filter, ECS scope. */
  decide(service: Service, q: Pick<Query, 'edns'>, remoteAddress: string, family: 4 | 6): Decision {
    const { client, source } = this.client(service, q.edns, remoteAddress);
    const ordering = this.order(service, client);
    const selection = select(service, ordering.candidates, family, (r) => this.statusOf(r));
    const maxScope = client?.family === 6 ? this.config.dns.maxScope6 : this.config.dns.maxScope4;
    const d: Decision = {
      service,
      client,
      clientSource: source,
      ordering,
      selection,
      ecsScope: Math.min(ordering.scope, maxScope),
    };
    this.onDecision?.(d);
    return d;
  }

  private order(service: Service, client: Client | undefined): Ordering {
    if (!locationOnly(service.policy))
      return order(
        service.policy,
        service.pools.map((p) => p.region),
        client,
        this.ctxFor(service),
      );
    let perService = this.orderCache.get(service);
    if (!perService) {
      perService = new WeakMap();
      this.orderCache.set(service, perService);
    }
    const key = client?.location ?? NO_LOCATION;
    let o = perService.get(key);
    if (!o) {
      o = order(
        service.policy,
        service.pools.map((p) => p.region),
        client,
        this.ctxFor(service),
      );
      perService.set(key, o);
    }
    // The ordering is shared; the scope is the client's own database network.
    return o.scope === 0 || !client || o.scope === client.geoPrefix ? o : { ...o, scope: client.geoPrefix };
  }

  private lookup(key: string | number, ip: () => string): GeoResult {
    let r = this.geoCache.get(key);
    if (!r) {
      if (this.geoCache.size >= GEO_CACHE_MAX) this.geoCache.clear();
      r = this.geo.lookup(ip());
      this.geoCache.set(key, r);
    }
    return r;
  }

  /** Weight order: operator weight for this name, operator weight for the region, pool weight. */
  private ctxFor(service: Service): PolicyContext {
    return {
      ...this.ctx,
      weightOf: (r) =>
        this.state.serviceWeight(service.key, r) ??
        this.state.get(r)?.weight ??
        service.pools.find((p) => p.region === r)?.weight ??
        0,
    };
  }

  private client(
    service: Service,
    edns: Edns | undefined,
    remoteAddress: string,
  ): { client?: Client; source: Decision['clientSource'] } {
    const ecs = edns?.ecs;
    if (ecs && ecs.sourcePrefix > 0 && service.ecs && this.config.dns.ecs) {
      const family = ecs.family === 1 ? 4 : 6;
      const a = ecs.address;
      const key =
        family === 4
          ? (((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0
          : formatAddress(a);
      const geo = this.lookup(key, () => formatAddress(a));
      return {
        client: { address: ecs.address, family, location: geo.location, geoPrefix: geo.prefixLen },
        source: 'ecs',
      };
    }
    const addr =
      remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
    if (!addr) return { source: 'none' };
    const family = addr.includes(':') ? 6 : 4;
    const geo = this.lookup(addr, () => addr);
    return {
      client: { address: addressRdata(addr), family, location: geo.location, geoPrefix: geo.prefixLen },
      source: 'resolver',
    };
  }
}
