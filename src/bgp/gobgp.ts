// GoBGP v3 gRPC client (package apipb, service GobgpApi) built on @grpc/grpc-js with the
// API definitions Debian's golang-github-osrg-gobgp-dev installs. All of GoBGP's API
// shapes live in this module, so a v4 adapter (package api, oneof attributes) can sit
// beside it. Loader options follow measured facts: keepCase is required, or prefix_len is
// silently dropped and GoBGP announces 0.0.0.0/0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../runtime/index.js';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { familyOf, validatePath, type AnnouncedPath, type Origin } from './paths.js';

/**
 * The API definitions the agent speaks, in the repository (gobgp/api): the part of GoBGP's API it
 * uses, pinned to the gobgpd version setup installs. `bgp.proto_dir` may instead name a directory
 * with GoBGP's own gobgp.proto, attribute.proto and capability.proto.
 */
export const DEFAULT_PROTO_DIR = join(packageRoot(), 'gobgp', 'api');
const OWN_PROTO = 'gobgp-agent.proto';
const ANY = 'type.googleapis.com/apipb.';
const ORIGINS: Origin[] = ['igp', 'egp', 'incomplete'];

type Any = { '@type': string; [k: string]: unknown };
interface ApiPath {
  nlri?: Any;
  pattrs?: Any[];
  family?: { afi: string; safi: string };
  neighbor_ip?: string;
  is_withdraw?: boolean;
}

export interface PeerEvent {
  address: string;
  state: string;
  type: string;
}

export class GobgpError extends Error {
  constructor(
    readonly method: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(`gobgp ${method}: ${message}`);
    this.name = 'GobgpError';
  }
}

function family(f: 4 | 6) {
  return { afi: f === 4 ? 'AFI_IP' : 'AFI_IP6', safi: 'SAFI_UNICAST' };
}

function communityToU32(c: string): number {
  const [a, b] = c.split(':').map(Number) as [number, number];
  return ((a << 16) >>> 0) + b;
}

/** Our path in GoBGP's shape; IPv6 goes in MP_REACH_NLRI with its next hop. */
export function toApiPath(p: AnnouncedPath, localAsn: number): ApiPath {
  const problems = validatePath(p);
  if (problems.length) throw new Error(`refusing to announce: ${problems.join('; ')}`);
  const [address, len] = p.prefix.split('/') as [string, string];
  const fam = familyOf(p.prefix);
  const nlri: Any = { '@type': `${ANY}IPAddressPrefix`, prefix: address, prefix_len: Number(len) };
  const pattrs: Any[] = [{ '@type': `${ANY}OriginAttribute`, origin: ORIGINS.indexOf(p.origin) }];
  if (fam === 4) pattrs.push({ '@type': `${ANY}NextHopAttribute`, next_hop: p.nextHop });
  else pattrs.push({ '@type': `${ANY}MpReachNLRIAttribute`, family: family(6), next_hops: [p.nextHop], nlris: [nlri] });
  if (p.med !== undefined) pattrs.push({ '@type': `${ANY}MultiExitDiscAttribute`, med: p.med });
  if (p.communities.length)
    pattrs.push({ '@type': `${ANY}CommunitiesAttribute`, communities: p.communities.map(communityToU32) });
  if (p.largeCommunities.length) {
    pattrs.push({
      '@type': `${ANY}LargeCommunitiesAttribute`,
      communities: p.largeCommunities.map((c) => {
        const [g, l1, l2] = c.split(':').map(Number);
        return { global_admin: g, local_data1: l1, local_data2: l2 };
      }),
    });
  }
  if (p.prepend > 0)
    pattrs.push({
      '@type': `${ANY}AsPathAttribute`,
      segments: [{ type: 'AS_SEQUENCE', numbers: Array(p.prepend).fill(localAsn) }],
    });
  return { family: family(fam), nlri, pattrs };
}

/** GoBGP's path back into ours (for ListPath); undefined for shapes we never announce. */
export function fromApiPath(api: ApiPath): AnnouncedPath | undefined {
  const n = api.nlri;
  if (!n || n['@type'] !== `${ANY}IPAddressPrefix`) return undefined;
  const p: AnnouncedPath = {
    prefix: `${n.prefix}/${n.prefix_len ?? 0}`,
    nextHop: '',
    origin: 'igp',
    communities: [],
    largeCommunities: [],
    prepend: 0,
  };
  for (const a of api.pattrs ?? []) {
    switch (a['@type'].slice(ANY.length)) {
      case 'OriginAttribute':
        p.origin = ORIGINS[Number(a.origin ?? 0)] ?? 'igp';
        break;
      case 'NextHopAttribute':
        p.nextHop = String(a.next_hop ?? '');
        break;
      case 'MpReachNLRIAttribute':
        p.nextHop = String((a.next_hops as string[] | undefined)?.[0] ?? '');
        break;
      case 'MultiExitDiscAttribute':
        p.med = Number(a.med ?? 0);
        break;
      case 'CommunitiesAttribute':
        p.communities = ((a.communities as number[] | undefined) ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`);
        break;
      case 'LargeCommunitiesAttribute':
        p.largeCommunities = (
          (a.communities as { global_admin?: number; local_data1?: number; local_data2?: number }[] | undefined) ?? []
        ).map((c) => `${c.global_admin ?? 0}:${c.local_data1 ?? 0}:${c.local_data2 ?? 0}`);
        break;
      case 'AsPathAttribute':
        p.prepend = ((a.segments as { numbers?: number[] }[] | undefined) ?? []).reduce(
          (n2, s) => n2 + (s.numbers?.length ?? 0),
          0,
        );
        break;
    }
  }
  return p;
}

let cachedDefinition: grpc.GrpcObject | undefined;

function loadApi(protoDir: string): grpc.GrpcObject {
  if (cachedDefinition) return cachedDefinition;
  const files = existsSync(join(protoDir, OWN_PROTO))
    ? [join(protoDir, OWN_PROTO)]
    : ['gobgp.proto', 'attribute.proto', 'capability.proto'].map((f) => join(protoDir, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`GoBGP API definitions not found (${missing.join(', ')}): check bgp.proto_dir`);
  const def = protoLoader.loadSync(files, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    json: true,
    includeDirs: [protoDir],
  });
  cachedDefinition = grpc.loadPackageDefinition(def);
  return cachedDefinition;
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;
type Streaming = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

export class GobgpClient {
  private readonly client: grpc.Client & Record<string, unknown>;

  constructor(
    readonly address: string,
    private readonly localAsn: number,
    protoDir = DEFAULT_PROTO_DIR,
    private readonly timeoutMs = 3000,
  ) {
    const api = loadApi(protoDir) as unknown as {
      apipb: { GobgpApi: new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, unknown> };
    };
    this.client = new api.apipb.GobgpApi(address, grpc.credentials.createInsecure());
  }

  private unary<T>(method: string, req: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const fn = this.client[method] as Unary;
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new GobgpError(method, err.code, err.details || err.message));
        else resolve(res as T);
      });
    });
  }

  private stream<T>(method: string, req: unknown): Promise<T[]> {
    const fn = this.client[method] as Streaming;
    return new Promise((resolve, reject) => {
      const out: T[] = [];
      const s = fn.call(this.client, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs });
      s.on('data', (d) => out.push(d as T));
      s.on('error', (err: grpc.ServiceError) => reject(new GobgpError(method, err.code, err.details || err.message)));
      s.on('end', () => resolve(out));
    });
  }

  /** Whether gobgpd answers within `timeoutMs` (a frozen gobgpd keeps its sockets open). */
  async ping(timeoutMs: number): Promise<boolean> {
    try {
      await this.unary('GetBgp', {}, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  async getBgp(): Promise<{ asn: number; router_id: string }> {
    const r = await this.unary<{ global: { asn: number; router_id: string } }>('GetBgp', {});
    return r.global;
  }

  /** Announces (or replaces) a path; returns GoBGP's uuid as hex. */
  async addPath(p: AnnouncedPath): Promise<string> {
    const r = await this.unary<{ uuid?: Buffer }>('AddPath', {
      table_type: 'GLOBAL',
      path: toApiPath(p, this.localAsn),
    });
    return r.uuid ? Buffer.from(r.uuid).toString('hex') : '';
  }

  /** Withdraws one path, always by prefix and family (never an empty DeletePath: that removes all). */
  async deletePath(p: AnnouncedPath): Promise<void> {
    const api = toApiPath(
      { ...p, nextHop: p.nextHop || (familyOf(p.prefix) === 4 ? '0.0.0.0' : '::1') },
      this.localAsn,
    );
    if (!api.nlri || !api.family) throw new Error('refusing an unqualified DeletePath');
    await this.unary('DeletePath', { table_type: 'GLOBAL', family: api.family, path: { ...api, is_withdraw: true } });
  }

  /** Our own (locally originated) paths for both families. */
  async listLocalPaths(): Promise<AnnouncedPath[]> {
    const out: AnnouncedPath[] = [];
    for (const f of [4, 6] as const) {
      const dests = await this.stream<{ destination: { paths?: ApiPath[] } }>('ListPath', {
        table_type: 'GLOBAL',
        family: family(f),
      });
      for (const d of dests) {
        for (const p of d.destination.paths ?? []) {
          if (p.neighbor_ip && p.neighbor_ip !== '<nil>') continue; // learned from a peer
          const parsed = fromApiPath(p);
          if (parsed) out.push(parsed);
        }
      }
    }
    return out;
  }

  async listPeers(): Promise<PeerEvent[]> {
    const r = await this.stream<{ peer: { conf?: { neighbor_address?: string }; state?: { session_state?: string } } }>(
      'ListPeer',
      {},
    );
    return r.map((x) => ({
      address: x.peer.conf?.neighbor_address ?? '',
      state: x.peer.state?.session_state ?? 'UNKNOWN',
      type: 'LIST',
    }));
  }

  /** Streams peer state changes until cancelled or the connection breaks (then `onEnd`). */
  watchPeers(onEvent: (e: PeerEvent) => void, onEnd: (err?: Error) => void): () => void {
    const fn = this.client.WatchEvent as Streaming;
    const s = fn.call(this.client, { peer: {} }, new grpc.Metadata(), {});
    s.on(
      'data',
      (d: {
        peer?: {
          type?: string;
          peer?: {
            conf?: { neighbor_address?: string };
            state?: { session_state?: string; neighbor_address?: string };
          };
        };
      }) => {
        const pe = d.peer;
        if (!pe) return;
        onEvent({
          address: pe.peer?.state?.neighbor_address ?? pe.peer?.conf?.neighbor_address ?? '',
          state: pe.peer?.state?.session_state ?? 'UNKNOWN',
          type: pe.type ?? 'UNKNOWN',
        });
      },
    );
    let ended = false;
    const end = (err?: Error) => {
      if (!ended) ((ended = true), onEnd(err));
    };
    s.on('error', (err: grpc.ServiceError) =>
      end(
        err.code === grpc.status.CANCELLED
          ? undefined
          : new GobgpError('WatchEvent', err.code, err.details || err.message),
      ),
    );
    s.on('end', () => end());
    return () => s.cancel();
  }

  close(): void {
    this.client.close();
  }
}
