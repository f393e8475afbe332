// Two more validating resolvers in front of `gtm dns`, beside unbound (./unbound.ts): PowerDNS
// Recursor (forwarding to us, ECS from its clients passed on) and Knot Resolver (forwarding; it
// sends no ECS, so it is steered by its own address). Each on a loopback port of its own, with
// the zone's DS as its only trust anchor, run in the foreground and stopped by the test.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kdig, watchChild } from './dns.js';
import type { RunningUnbound } from './unbound.js';
import { waitFor } from './wait.js';

export type RunningResolver = RunningUnbound;

/** "example.test. IN DS 3791 13 2 0EBB..." -> its fields after DS. */
const dsFields = (line: string) => line.trim().split(/\s+/).slice(3).join(' ');

async function started(name: string, proc: ReturnType<typeof spawn>, port: number): Promise<RunningResolver> {
  const { log, stop } = watchChild(proc);
  try {
    await waitFor(
      async () =>
        proc.exitCode === null &&
        (await kdig(port, ['+time=1', '+retry=0', 'example.test', 'SOA']).catch(() => '')).includes('status:'),
      `${name} to answer`,
      15_000,
      100,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${name} did not start: ${(err as Error).message}\n${log()}`);
  }
  return { port, proc, log, stop };
}

export async function startPdnsRecursor(
  dir: string,
  opts: { upstreamPort: number; zone: string; anchors: string[] },
): Promise<RunningResolver> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, 'anchors.lua'),
    opts.anchors.map((a) => `addTA('${opts.zone}', '${dsFields(a)}')`).join('\n'),
  );
  writeFileSync(
    join(dir, 'recursor.conf'),
    [
      'local-address=127.0.0.1',
      `local-port=${port}`,
      'allow-from=127.0.0.0/8',
      // 127.0.0.0/8 is in dont-query by default: our server is there.
      'dont-query=',
      `forward-zones=${opts.zone}=127.0.0.1:${opts.upstreamPort}`,
      'dnssec=validate',
      `lua-config-file=${join(dir, 'anchors.lua')}`,
      `socket-dir=${dir}`,
      'daemon=no',
      'write-pid=no',
      // ECS: the client's subnet is passed on for our zone.
      `edns-subnet-allow-list=${opts.zone}`,
      'use-incoming-edns-subnet=yes',
      'ecs-ipv4-bits=24',
      'threads=1',
      'quiet=yes',
      '',
    ].join('\n'),
  );
  const proc = spawn('pdns_recursor', [`--config-dir=${dir}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  return started('PowerDNS Recursor', proc, port);
}

export async function startKnotResolver(
  dir: string,
  opts: { upstreamPort: number; zone: string; anchors: string[] },
): Promise<RunningResolver> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, 'kresd.conf'),
    [
      `net.listen('127.0.0.1', ${port}, { kind = 'dns' })`,
      // Our zone's DS is the only anchor: the root is not reachable from here.
      "trust_anchors.remove('.')",
      ...opts.anchors.map((a) => `trust_anchors.add('${a.trim()}')`),
      `policy.add(policy.suffix(policy.FORWARD({'127.0.0.1@${opts.upstreamPort}'}), {todname('${opts.zone}.')}))`,
      'cache.size = 10 * MB',
      '',
    ].join('\n'),
  );
  const proc = spawn('kresd', ['-n', '-c', join(dir, 'kresd.conf'), dir], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return started('Knot Resolver', proc, port);
}
