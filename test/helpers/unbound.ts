// unbound (Debian) as the validating resolver in front of `gtm dns`: unprivileged, on a loopback
// port, a stub zone pointing at our server, the zone's DS as its trust anchor, and ECS through
// its subnetcache module (settings measured in ../shared/notes/dns-tools-facts.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kdig, run, watchChild } from './dns.js';
import { waitFor } from './wait.js';

export interface RunningUnbound {
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * `anchors`: DS lines in zone-file form ("example.test. IN DS 3791 13 2 0EBB..."). By default on
 * 127.0.0.1 and a free port; `netns` runs it inside a namespace the caller made, on `address:port`.
 */
export async function startUnbound(
  dir: string,
  opts: {
    upstreamPort: number;
    zone: string;
    anchors: string[];
    netns?: { name: string; address: string; port: number };
  },
): Promise<RunningUnbound> {
  mkdirSync(dir, { recursive: true });
  const port = opts.netns?.port ?? (await freePort());
  const address = opts.netns?.address ?? '127.0.0.1';
  const anchorFile = join(dir, 'anchors.txt');
  writeFileSync(anchorFile, `${opts.anchors.join('\n')}\n`);
  const conf = join(dir, 'unbound.conf');
  writeFileSync(
    conf,
    `server:
  interface: ${address}
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
  const cmd = ['unbound', '-d', '-c', conf];
  const proc = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns.name, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const probe = opts.netns
    ? async () =>
        (
          await run('ip', [
            'netns',
            'exec',
            opts.netns?.name ?? '',
            'kdig',
            `@${address}`,
            '+time=1',
            '+retry=0',
            'nonexistent.invalid',
          ])
        ).stdout
    : () => kdig(port, ['+time=1', '+retry=0', 'nonexistent.invalid', 'A']).catch(() => '');
  const { log, stop } = watchChild(proc);
  try {
    await waitFor(
      async () => proc.exitCode === null && (await probe()).includes('status:'),
      'unbound to answer',
      10_000,
      100,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`unbound did not start: ${(err as Error).message}\n${log()}`);
  }
  return { port, proc, log, stop };
}
