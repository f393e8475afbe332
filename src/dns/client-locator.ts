// Who an answer is for: the ECS subnet when the service uses it, else the resolver, located by
// the geo data. Resolvers repeat the same few addresses and subnets, so located clients are
// cached, bounded and kept by popularity (HotCache: one-off subnets do not push out busy ones).
import { addressRdata, formatAddress, unmapIPv4 } from '../net/index.js';
import { HotCache, type CacheStats } from '../runtime/index.js';
import type { GeoResolver } from '../geo/index.js';
import type { Client } from '../policy/index.js';
import type { Edns } from '../wire/index.js';

export interface ClientOf {
  client?: Client;
  source: 'ecs' | 'resolver' | 'none';
}

const GEO_CACHE_MAX = 100_000;
const NO_CLIENT: ClientOf = { source: 'none' };

export class ClientLocator {
  private ecsClients = new HotCache<string | number, ClientOf>(GEO_CACHE_MAX);
  private resolverClients = new HotCache<string | number, ClientOf>(GEO_CACHE_MAX);

  constructor(private geo: GeoResolver) {}

  /** A new geo database (or none: the same one) empties the caches. */
  reset(geo?: GeoResolver): void {
    if (geo) this.geo = geo;
    this.ecsClients.clear();
    this.resolverClients.clear();
  }

  /** Both caches' hits and churn together (metrics). */
  get cacheStats(): CacheStats {
    const a = this.ecsClients.stats;
    const b = this.resolverClients.stats;
    return {
      hits: a.hits + b.hits,
      misses: a.misses + b.misses,
      evictions: a.evictions + b.evictions,
      size: a.size + b.size,
    };
  }

  /** The client for a query: `useEcs` when both the server and the service honour ECS. */
  locate(edns: Edns | undefined, remoteAddress: string, useEcs: boolean): ClientOf {
    const ecs = edns?.ecs;
    if (ecs && ecs.sourcePrefix > 0 && useEcs) {
      const a = ecs.address;
      // The address is padded and zero past the prefix: equal keys are equal client addresses.
      const key =
        ecs.family === 1
          ? (((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0
          : formatAddress(a);
      const known = this.ecsClients.get(key);
      if (known) return known;
      const geo = this.geo.lookup(formatAddress(a));
      const address = a.slice();
      return keep(this.ecsClients, key, {
        client: {
          address,
          family: ecs.family === 1 ? 4 : 6,
          location: geo.location,
          geoPrefix: geo.prefixLen,
          ...this.asnOf(address),
        },
        source: 'ecs',
      });
    }
    if (!remoteAddress) return NO_CLIENT;
    const known = this.resolverClients.get(remoteAddress);
    if (known) return known;
    const addr = unmapIPv4(remoteAddress);
    const geo = this.geo.lookup(addr);
    const address = addressRdata(addr);
    return keep(this.resolverClients, remoteAddress, {
      client: {
        address,
        family: addr.includes(':') ? 6 : 4,
        location: geo.location,
        geoPrefix: geo.prefixLen,
        ...this.asnOf(address),
      },
      source: 'resolver',
    });
  }

  /** The client's AS, when fencing rules need it (AS data loaded); looked up once per cached client. */
  private asnOf(address: Uint8Array): Pick<Client, 'asn' | 'asnOrg' | 'asnPrefix'> | undefined {
    const as = this.geo.asnOf(address);
    return as && { asn: as.asn, asnOrg: as.org, asnPrefix: as.prefixLen };
  }
}

function keep(cache: HotCache<string | number, ClientOf>, key: string | number, c: ClientOf): ClientOf {
  cache.set(key, c);
  return c;
}
