// The lab's Prometheus (Debian's `prometheus`, never its system service): its own config, data
// directory and port in the DNS node's namespace, scraping every component of the lab with the
// rules the repository ships, so the dashboard and the alerts can be tried on a live failover.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PLAN } from './address-plan.js';
import { DNS_IP, ROOT, type Lab } from './model.js';
import { daemon } from './processes.js';
import { fetchIn } from './netns.js';

/** Where the lab's Prometheus answers (inside the DNS node's namespace). */
export const PROMETHEUS = { host: DNS_IP, port: 9090 };
/** The agents' and probes' metrics-only listeners (the agents' API stays on loopback). */
export const AGENT_METRICS_PORT = 9181;
export const PROBE_METRICS_PORT = 9182;

/** Every target the lab's Prometheus scrapes, by job (the series name their PoP or point themselves). */
export function labTargets(lab: Pick<Lab, 'pops' | 'clients'>): { job: string; target: string }[] {
  return [
    { job: 'gtm-dns', target: `${DNS_IP}:9153` },
    { job: 'gtm-control', target: '127.0.0.1:9190' },
    ...lab.pops.map((p) => ({ job: 'gtm-agent', target: `${PLAN.pop(p.n)}:${AGENT_METRICS_PORT}` })),
    ...lab.clients.map((c) => ({ job: 'gtm-probe', target: `${c.address}:${PROBE_METRICS_PORT}` })),
  ];
}

export function renderPrometheusConfig(lab: Pick<Lab, 'pops' | 'clients'>, rules: string[]): string {
  const jobs = new Map<string, string[]>();
  for (const t of labTargets(lab)) jobs.set(t.job, [...(jobs.get(t.job) ?? []), `'${t.target}'`]);
  // A failover takes about a second: scrape often enough to see it, rarely enough to stay light.
  return `global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
${rules.map((r) => `  - ${r}`).join('\n')}
scrape_configs:
${[...jobs].map(([job, targets]) => `  - job_name: ${job}\n    static_configs: [{ targets: [${targets.join(', ')}] }]`).join('\n')}
`;
}

export const prometheusAvailable = () => spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

/** Starts the lab's Prometheus with the shipped rules and waits until it answers. */
export async function startPrometheus(lab: Lab, ns: string): Promise<void> {
  const dir = join(lab.dir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const shipped = join(ROOT, 'deploy', 'prometheus');
  const rules = readdirSync(shipped).filter((f) => f.endsWith('.rules.yml'));
  for (const r of rules) copyFileSync(join(shipped, r), join(dir, r));
  writeFileSync(join(dir, 'prometheus.yml'), renderPrometheusConfig(lab, rules));
  daemon(lab, 'prometheus', ns, 'prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${PROMETHEUS.host}:${PROMETHEUS.port}`,
    // A lab lives for minutes: keep a day at most.
    '--storage.tsdb.retention.time=1d',
    '--log.level=warn',
  ]);
  const end = Date.now() + 20_000;
  while (!ready(ns)) {
    if (Date.now() > end) throw new Error(`Prometheus did not start; see ${join(lab.dir, 'logs', 'prometheus.log')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function ready(ns: string): boolean {
  try {
    return fetchIn(ns, `http://${PROMETHEUS.host}:${PROMETHEUS.port}/-/ready`).status === 200;
  } catch {
    return false;
  }
}

/** Asks the lab's Prometheus (HTTP API, from inside the DNS node's namespace). */
export function queryPrometheus(
  ns: string,
  promql: string,
): { metric: Record<string, string>; value: [number, string] }[] {
  const r = fetchIn(
    ns,
    `http://${PROMETHEUS.host}:${PROMETHEUS.port}/api/v1/query?query=${encodeURIComponent(promql)}`,
  );
  const body = JSON.parse(r.body) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error ?? r.status}`);
  return body.data?.result ?? [];
}
