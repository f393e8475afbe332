// BIRD 2 as the upstream router: config rendering and a control-socket client (the birdc
// protocol) so tests poll routes without spawning birdc each time.
import net from 'node:net';

export interface BirdPeer {
  name: string;
  neighbor: string;
  asn: number;
  /** Track the peer with BFD (needs a BFD speaker at the neighbor address). */
  bfd?: boolean;
}

export function renderBirdConfig(o: { routerId: string; asn: number; peers: BirdPeer[]; logFile: string; kernel?: boolean }): string {
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
export function renderBfdOnlyConfig(o: { routerId: string; neighbor: string; logFile: string; intervalMs?: number; multiplier?: number }): string {
  return `router id ${o.routerId};
log "${o.logFile}" all;
protocol device { scan time 1; }
protocol bfd {
  interface "*" { interval ${o.intervalMs ?? 100} ms; multiplier ${o.multiplier ?? 3}; };
  neighbor ${o.neighbor};
}
`;
}

export interface BirdRoute {
  prefix: string;
  protocol: string;
  best: boolean;
  nextHop?: string;
  localPref?: number;
  med?: number;
  asPath: number[];
  communities: string[];
}

export class BirdClient {
  private constructor(private readonly sock: net.Socket) {}
  private buf = '';
  private pending?: { lines: string[]; resolve: (l: string[]) => void; reject: (e: Error) => void };

  static connect(path: string, timeoutMs = 5000): Promise<BirdClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(path);
      const client = new BirdClient(sock);
      const t = setTimeout(() => (sock.destroy(), reject(new Error(`bird socket ${path}: no greeting`))), timeoutMs);
      sock.setEncoding('utf8');
      sock.on('error', (err) => {
        clearTimeout(t);
        client.pending?.reject(err);
        reject(err);
      });
      // The greeting ("0001 BIRD 2.0.12 ready.") is the first reply.
      client.pending = {
        lines: [],
        resolve: () => {
          clearTimeout(t);
          resolve(client);
        },
        reject,
      };
      sock.on('data', (d: string) => client.onData(d));
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const p = this.pending;
      if (!p) continue;
      p.lines.push(line);
      // A reply ends with a line "DDDD text" (code, space); "DDDD-" or " " continue it.
      if (/^\d{4} /.test(line)) {
        this.pending = undefined;
        if (/^[89]\d{3} /.test(line)) p.reject(new Error(`bird: ${line.slice(5)}`));
        else p.resolve(p.lines);
      }
    }
  }

  command(cmd: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.pending = { lines: [], resolve, reject };
      this.sock.write(`${cmd}\n`);
    });
  }

  /** All routes BIRD holds for a prefix, best first as BIRD lists them. */
  async routes(prefix: string): Promise<BirdRoute[]> {
    let lines: string[];
    try {
      lines = await this.command(`show route for ${prefix} all`);
    } catch (err) {
      if ((err as Error).message.includes('Network not found')) return [];
      throw err;
    }
    const routes: BirdRoute[] = [];
    let cur: BirdRoute | undefined;
    for (const raw of lines) {
      const line = raw.replace(/^\d{4}[- ]/, '').replace(/^ /, '');
      const head = /unicast \[(\S+)[^\]]*\]\s*(\*)?/.exec(line);
      if (head) {
        cur = { prefix, protocol: head[1] as string, best: head[2] === '*', asPath: [], communities: [] };
        routes.push(cur);
        continue;
      }
      if (!cur) continue;
      let m: RegExpExecArray | null;
      if ((m = /BGP\.next_hop: (\S+)/.exec(line))) cur.nextHop = m[1];
      else if ((m = /BGP\.local_pref: (\d+)/.exec(line))) cur.localPref = Number(m[1]);
      else if ((m = /BGP\.med: (\d+)/.exec(line))) cur.med = Number(m[1]);
      else if ((m = /BGP\.as_path: ?(.*)$/.exec(line))) cur.asPath = (m[1] as string).trim().split(/\s+/).filter(Boolean).map(Number);
      else if ((m = /BGP\.community: (.*)$/.exec(line))) cur.communities = [...(m[1] as string).matchAll(/\((\d+),(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}`);
    }
    return routes;
  }

  /** BGP protocol states by name ("Established", "Active", ...). */
  async protocols(): Promise<Record<string, string>> {
    const lines = await this.command('show protocols');
    const out: Record<string, string> = {};
    for (const raw of lines) {
      const cols = raw.replace(/^\d{4}[- ]/, '').trim().split(/\s+/);
      if (cols[1] === 'BGP') out[cols[0] as string] = cols[5] ?? cols[3] ?? '';
    }
    return out;
  }

  close(): void {
    this.sock.destroy();
  }
}
