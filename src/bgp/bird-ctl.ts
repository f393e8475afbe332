// A client for BIRD's control socket (the birdc protocol: "DDDD-" continuation lines, a
// final "DDDD " line). The agent reads BFD session states from the BFD-only BIRD beside
// gobgpd; the lab, tests and benchmarks read routes from the upstream router.
import net from 'node:net';

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
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
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
      sock.on('close', () => {
        client.closed = true;
        client.pending?.reject(new Error('bird socket closed'));
        client.pending = undefined;
      });
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

  /** One command at a time: the protocol has no request ids, so calls are queued. */
  command(cmd: string): Promise<string[]> {
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        if (this.closed) return reject(new Error('bird socket closed'));
        this.pending = { lines: [], resolve, reject };
        this.sock.write(`${cmd}\n`);
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** BFD sessions by neighbor address: "Up", "Down", "Init", "AdminDown". */
  async bfdSessions(): Promise<Record<string, string>> {
    return parseBfdSessions(await this.command('show bfd sessions'));
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
      else if ((m = /BGP\.as_path: ?(.*)$/.exec(line)))
        cur.asPath = (m[1] as string).trim().split(/\s+/).filter(Boolean).map(Number);
      else if ((m = /BGP\.community: (.*)$/.exec(line)))
        cur.communities = [...(m[1] as string).matchAll(/\((\d+),(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}`);
    }
    return routes;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Parses `show bfd sessions`: "IP  Interface  State  Since  Interval  Timeout" rows. */
export function parseBfdSessions(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of lines) {
    const cols = raw
      .replace(/^\d{4}[- ]/, '')
      .trim()
      .split(/\s+/);
    if (cols.length >= 3 && net.isIP(cols[0] as string) && /^(Up|Down|Init|AdminDown)$/.test(cols[2] as string))
      out[cols[0] as string] = cols[2] as string;
  }
  return out;
}
