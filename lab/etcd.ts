// A real etcd (Debian etcd-server) on loopback with its own data directory, stopped by PID:
// for the tests and `npm run bench:control`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts } from './accepts.js';

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

/**
 * `tls`: serve clients over TLS with this certificate; with `clientCa`, clients must present a
 * certificate signed by it.
 */
async function healthy(endpoint: string): Promise<boolean> {
  const r = await fetch(`${endpoint}/health`);
  return r.ok && ((await r.json()) as { health?: string }).health === 'true';
}

export async function startEtcd(
  opts: { tls?: { cert: string; key: string; clientCa?: string } } = {},
): Promise<RunningEtcd> {
  const [client, peer] = [await freeTcpPort(), await freeTcpPort()];
  const dir = mkdtempSync(join(tmpdir(), 'gtm-etcd-'));
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const tls = opts.tls
    ? [
        '--cert-file',
        opts.tls.cert,
        '--key-file',
        opts.tls.key,
        ...(opts.tls.clientCa ? ['--client-cert-auth', '--trusted-ca-file', opts.tls.clientCa] : []),
      ]
    : [];
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
      ...tls,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr?.on('data', (d) => (err += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      // Over TLS (our own CA, perhaps client certificates) the port accepting is the sign.
      if (opts.tls ? await accepts(client) : await healthy(endpoint)) break;
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
