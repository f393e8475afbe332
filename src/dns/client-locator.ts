// Who an answer is for: the ECS subnet when the service uses it, else the resolver, located by
// the geo data. Resolvers repeat the same few addresses and subnets, so located clients are
// cached (bounded: full, the cache starts over).
import { addressRdata, formatAddress } from '../net/index.js';
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
  private ecsClients = new Map<string | number, ClientOf>();
  private resolverClients = new Map<string | number, ClientOf>();

  constructor(private geo: GeoResolver) {}

  /** A new geo database (or none: the same one) empties the caches. */
  reset(geo?: GeoResolver): void {
    if (geo) this.geo = geo;
    this.ecsClients = new Map();
    this.resolverClients = new Map();
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
      return keep(this.ecsClients, key, {
        client: {
          address: a.slice(),
          family: ecs.family === 1 ? 4 : 6,
          location: geo.location,
          geoPrefix: geo.prefixLen,
        },
        source: 'ecs',
      });
    }
    if (!remoteAddress) return NO_CLIENT;
    const known = this.resolverClients.get(remoteAddress);
    if (known) return known;
    const addr =
      remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
    const geo = this.geo.lookup(addr);
    return keep(this.resolverClients, remoteAddress, {
      client: {
        address: addressRdata(addr),
        family: addr.includes(':') ? 6 : 4,
        location: geo.location,
        geoPrefix: geo.prefixLen,
      },
      source: 'resolver',
    });
  }
}

function keep(cache: Map<string | number, ClientOf>, key: string | number, c: ClientOf): ClientOf {
  if (cache.size >= GEO_CACHE_MAX) cache.clear();
  cache.set(key, c);
  return c;
}
