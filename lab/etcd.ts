// A real etcd (Debian etcd-server) on loopback with its own data directory, stopped by PID:
// for the tests and `npm run bench:control`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningEtcd {
  endpoint: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export async function startEtcd(): Promise<RunningEtcd> {
  const [client, peer] = [await freeTcpPort(), await freeTcpPort()];
  const dir = mkdtempSync(join(tmpdir(), 'gtm-etcd-'));
  const endpoint = `http://127.0.0.1:${client}`;
  const proc = spawn(
    'etcd',
    [
      '--name',
      'test',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `test=http://127.0.0.1:${peer}`,
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr?.on('data', (d) => (err += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/health`);
      if (r.ok && ((await r.json()) as { health?: string }).health === 'true') break;
    } catch {
      /* not yet */
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`etcd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
