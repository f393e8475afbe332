// unbound (Debian) as the validating resolver in front of `gtm dns`: unprivileged, on a loopback
// port, a stub zone pointing at our server, the zone's DS as its trust anchor, and ECS through
// its subnetcache module (settings measured in ../shared/notes/dns-tools-facts.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kdig } from './dns.js';
import { waitFor } from './wait.js';

export interface RunningUnbound {
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** `anchors`: DS lines in zone-file form ("example.test. IN DS 3791 13 2 0EBB..."). */
export async function startUnbound(
  dir: string,
  opts: { upstreamPort: number; zone: string; anchors: string[] },
): Promise<RunningUnbound> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const anchorFile = join(dir, 'anchors.txt');
  writeFileSync(anchorFile, `${opts.anchors.join('\n')}\n`);
  const conf = join(dir, 'unbound.conf');
  writeFileSync(
    conf,
    `server:
  interface: 127.0.0.1
  port: ${port}
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  so-reuseport: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  local-zone: "test." nodefault
  qname-minimisation: no
  module-config: "subnetcache validator iterator"
  send-client-subnet: 127.0.0.1
  client-subnet-zone: ${opts.zone}
  client-subnet-always-forward: yes
  max-client-subnet-ipv4: 24
  max-client-subnet-ipv6: 56
  trust-anchor-file: "${anchorFile}"
remote-control:
  control-enable: no
stub-zone:
  name: "${opts.zone}"
  stub-addr: 127.0.0.1@${opts.upstreamPort}
`,
  );
  const proc = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  try {
    await waitFor(
      async () =>
        proc.exitCode === null &&
        (await kdig(port, ['+time=1', '+retry=0', 'nonexistent.invalid', 'A']).catch(() => '')).includes('status:'),
      'unbound to answer',
      10_000,
      100,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`unbound did not start: ${(err as Error).message}\n${out}`);
  }
  return {
    port,
    proc,
    log: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
