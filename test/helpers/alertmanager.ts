// A real Alertmanager (Debian's prometheus-alertmanager) on loopback, routing every alert to one
// webhook at once (no grouping delay, resolved alerts sent too), stopped by PID.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, watchChild } from './dns.js';
import { waitFor } from './wait.js';

export interface RunningAlertmanager {
  url: string;
  /** Posts alerts to Alertmanager's own API (v2), as Prometheus does. */
  alert(a: { labels: Record<string, string>; annotations?: Record<string, string>; resolved?: boolean }): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

export async function startAlertmanager(webhook: { url: string; token: string }): Promise<RunningAlertmanager> {
  const dir = tempDir('gtm-alertmanager-');
  const port = await freePort();
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: gtm
  group_by: [alertname, gtm_signal]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: gtm
    webhook_configs:
      - url: ${webhook.url}
        send_resolved: true
        http_config:
          authorization: { credentials: ${webhook.token} }
`,
  );
  const proc = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const child = watchChild(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true,
    () => `Alertmanager ready: ${child.log()}`,
    15_000,
    100,
  );
  return {
    url,
    async alert(a) {
      const now = new Date().toISOString();
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { labels: a.labels, annotations: a.annotations ?? {}, startsAt: now, ...(a.resolved ? { endsAt: now } : {}) },
        ]),
      });
      if (!res.ok) throw new Error(`Alertmanager refused the alert: ${res.status} ${await res.text()}`);
    },
    log: child.log,
    stop: child.stop,
  };
}
