// Network-namespace plumbing for the lab and the interop tests. Every namespace and
// process is created here by name or PID and removed by that same name or PID.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function nsExists(name: string): boolean {
  return ip('netns', 'list')
    .split('\n')
    .some((l) => l.split(' ')[0] === name);
}

export function addNs(name: string): void {
  if (nsExists(name)) ip('netns', 'del', name);
  ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
}

export function delNs(name: string): void {
  if (nsExists(name)) ip('netns', 'del', name);
}

/** The interface in a namespace that holds an IPv4 address (a lab link, on either engine). */
export function ifaceWithAddress(ns: string, address: string): string {
  for (const line of ip('-n', ns, '-o', '-4', 'addr', 'show').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3]?.split('/')[0] === address) return (f[1] as string).split('@')[0] as string;
  }
  throw new Error(`no interface with ${address} in ${ns}`);
}

/** A veth pair created directly inside the two namespaces (nothing touches the host). */
export function link(nsA: string, ifA: string, addrsA: string[], nsB: string, ifB: string, addrsB: string[]): void {
  ip('-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
  for (const a of addrsA) ip('-n', nsA, 'addr', 'add', a, 'dev', ifA, ...(a.includes(':') ? ['nodad'] : []));
  for (const b of addrsB) ip('-n', nsB, 'addr', 'add', b, 'dev', ifB, ...(b.includes(':') ? ['nodad'] : []));
  ip('-n', nsA, 'link', 'set', ifA, 'up');
  ip('-n', nsB, 'link', 'set', ifB, 'up');
}

export function addAddress(ns: string, dev: string, addr: string): void {
  ip('-n', ns, 'addr', 'add', addr, 'dev', dev, ...(addr.includes(':') ? ['nodad'] : []));
}

/** Runs a command inside a namespace; `ip netns exec` execs it, so the PID is the command's. */
export function spawnIn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export function execIn(ns: string, cmd: string, args: string[], timeoutMs = 10_000): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** curl's arguments for one request, printing the body then the status on its own last line. */
function curlArgs(url: string, method: string, body: unknown, headers: Record<string, string>, maxTimeS = 5): string[] {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '--max-time', String(maxTimeS)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  // The body goes on curl's stdin: an argument is limited to 128 KiB (a drill's timeline is not).
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
  return [...args, url];
}

function curlResult(out: string): { status: number; body: string } {
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)) || 0, body: out.slice(0, cut) };
}

/** GET a URL from inside a namespace (the agents' APIs live there). */
export function fetchIn(
  ns: string,
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): { status: number; body: string } {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'curl', ...curlArgs(url, method, body, headers)], {
    encoding: 'utf8',
    timeout: 10_000,
    input: body === undefined ? '' : JSON.stringify(body),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return curlResult(out);
}

/** fetchIn without blocking: several can run at once (a fault that must hit many places together). */
export function fetchInAsync(
  ns: string,
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
  maxTimeS = 5,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const args = ['netns', 'exec', ns, 'curl', ...curlArgs(url, method, body, headers, maxTimeS)];
    const child = execFile('ip', args, { encoding: 'utf8', timeout: 10_000 }, (_err, out) => resolve(curlResult(out)));
    // curl may be gone before it reads its stdin (a GET reads none; a namespace that is not
    // there fails at once): the pipe then breaks, and the outcome is the exit's, not an error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(body === undefined ? '' : JSON.stringify(body));
  });
}

export function killPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!pid || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export function waitExit(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      killPid(child.pid, 'SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
