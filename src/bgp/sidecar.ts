// Starts and supervises gobgpd for the agent, enforcing the configured death policy.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BgpSettings } from '../config/index.js';

export function renderGobgpdToml(b: BgpSettings): string {
  const lines = ['[global.config]', `  as = ${b.asn}`, `  router-id = "${b.routerId}"`, `  port = ${b.listenPort}`];
  if (b.listenAddresses.length)
    lines.push(`  local-address-list = [${b.listenAddresses.map((a) => `"${a}"`).join(', ')}]`);
  for (const n of b.neighbors) {
    lines.push(
      '',
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      '  [neighbors.timers.config]',
      `    hold-time = ${n.holdTime}`,
      `    keepalive-interval = ${Math.max(1, Math.floor(n.holdTime / 3))}`,
      '    connect-retry = 1',
      '  [neighbors.transport.config]',
      `    passive-mode = ${n.passive}`,
    );
    for (const afi of ['ipv4-unicast', 'ipv6-unicast'])
      lines.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${afi}"`);
  }
  return `${lines.join('\n')}\n`;
}

export interface Sidecar {
  /** gobgpd's own PID (not the wrapper's). */
  pid: Promise<number>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function startGobgpd(b: BgpSettings, stateDir: string, wrapper: string): Sidecar {
  const conf = join(stateDir, 'gobgpd.toml');
  writeFileSync(conf, renderGobgpdToml(b));
  const log = openSync(join(stateDir, 'gobgpd.log'), 'a');
  const args = ['-f', conf, '--api-hosts', b.api, '--pprof-disable', '-p'];
  let child: ChildProcess;
  let pid: Promise<number>;
  let tick: NodeJS.Timeout | undefined;
  if (b.onAgentDeath === 'keep') {
    // Its own session, no pipe to us: it outlives the agent and keeps the paths announced.
    child = spawn(b.gobgpdBinary, args, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    pid = Promise.resolve(child.pid ?? -1);
  } else {
    child = spawn(wrapper, [b.gobgpdBinary, ...args], {
      stdio: ['pipe', 'pipe', log],
      env: { ...process.env, GTM_AGENT_LIVENESS_S: (b.agentLivenessMs / 1000).toFixed(3) },
    });
    // Liveness: a byte a quarter of the timeout apart, from this (the agent's) event loop. A
    // frozen agent (SIGSTOP, a stuck loop) stops ticking, and the watchdog stops gobgpd.
    const stdin = child.stdin;
    stdin?.on('error', () => undefined);
    tick = setInterval(() => stdin?.write('.'), Math.max(100, Math.floor(b.agentLivenessMs / 4)));
    child.once('exit', () => clearInterval(tick));
    pid = new Promise((resolve) => {
      let out = '';
      child.stdout?.on('data', (d) => {
        out += d;
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve(Number(line));
      });
      child.once('exit', () => resolve(-1));
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid,
    exited,
    stop: async () => {
      const p = await pid;
      if (p > 0) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      clearInterval(tick);
      child.stdin?.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    },
  };
}
