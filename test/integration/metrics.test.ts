// Every /metrics endpoint is valid Prometheus exposition, as Prometheus' own tools see it: the
// DNS server (primary and workers summed, each family once), the control plane and a stand-alone
// vantage probe pass `promtool check metrics`, and a real Prometheus (Debian's) scrapes all three
// with `up == 1`. The agents' endpoints are scraped the same way in the lab (test/drills).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  freePort,
  ROOT,
  startDns,
  tempDir,
  testConfig,
  udpExchange,
  watchChild,
  type RunningDns,
} from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const dir = tempDir('gtm-metrics-');
let dns: RunningDns;
const children: { stop: () => Promise<void> }[] = [];
const targets: Record<string, string> = {};

/** The families an exposition declares (# TYPE lines), with how often each appears. */
const families = (body: string) => {
  const out = new Map<string, number>();
  for (const m of body.matchAll(/^# TYPE (\S+) /gm)) out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + 1);
  return out;
};
const promtool = (body: string) => spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
const scrape = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();

/** Starts a real `gtm` command and waits for the log line that says its metrics listen. */
async function startGtm(args: string[]): Promise<string> {
  const proc: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = watchChild(proc);
  children.push(child);
  await waitFor(
    () => /listening/.test(child.log()),
    () => `gtm ${args[0]} to listen:\n${child.log()}`,
    15_000,
  );
  return child.log();
}

beforeAll(async () => {
  const file = testConfig(dir);
  const [controlPort, probePort] = [await freePort(), await freePort()];
  writeFileSync(
    file,
    `${readFileSync(file, 'utf8')}control:
  store: { file: ${join(dir, 'state.json')} }
  api: { listen: 127.0.0.1:${controlPort}, audit_log: ${join(dir, 'audit.jsonl')} }
  vantage: { interval_ms: 500, check: { type: tcp, port: 9, timeout_ms: 100 } }
`,
  );
  dns = await startDns(file, 2);
  targets.dns = (/"metrics":"http:\/\/([^"]+)\/metrics"/.exec(dns.log()) as RegExpExecArray)[1] as string;
  await startGtm(['control', '--config', file]);
  targets.control = `127.0.0.1:${controlPort}`;
  await startGtm(['probe', '--config', file, '--name', 'ci', '--metrics', `127.0.0.1:${probePort}`]);
  targets.probe = `127.0.0.1:${probePort}`;
}, 60_000);

afterAll(async () => {
  for (const c of children) await c.stop();
  await dns?.stop();
});

describe('metrics endpoints', () => {
  it('gtm dns: one exposition, each family once, the workers summed, valid for promtool', async () => {
    for (let i = 0; i < 50; i++) await udpExchange(dns.port, buildQuery('www.example.test', TYPE.A, { id: i }));
    const url = `http://${targets.dns}/metrics`;
    // Answers per steered name: the 50 queries, all for the `www` service (workers report in batches).
    const www = (text: string) =>
      [...text.matchAll(/^gtm_dns_queries_total\{[^}]*service="www"[^}]*\} (\d+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    await waitFor(async () => www(await scrape(url)) === 50, 'the workers to report all 50 answers for www', 5000, 200);
    const body = await scrape(url);
    const twice = [...families(body)].filter(([, n]) => n > 1).map(([f]) => f);
    expect(twice).toEqual([]);
    for (const f of ['gtm_dns_queries_total', 'gtm_dns_truncated_total', 'gtm_dns_reloads_total', 'gtm_region_status'])
      expect(families(body).get(f), f).toBe(1);
    const check = promtool(body);
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
  });

  it('the shipped rules pass promtool (check and their unit tests) and name only families gtm exposes', async () => {
    const dirOf = join(ROOT, 'deploy', 'prometheus');
    const ruleFiles = readdirSync(dirOf).filter((f) => f.endsWith('.rules.yml'));
    expect(ruleFiles.length).toBeGreaterThanOrEqual(2);
    // Families exposed by the processes this test runs, and the agent's (it needs BGP: the lab
    // scrapes it), read from its metric declarations...
    const exposed = new Set([
      ...families(await scrape(`http://${targets.dns}/metrics`)).keys(),
      ...families(await scrape(`http://${targets.control}/metrics`)).keys(),
      ...families(await scrape(`http://${targets.probe}/metrics`)).keys(),
      ...[
        ...readFileSync(join(ROOT, 'src', 'agent', 'metrics.ts'), 'utf8').matchAll(/name: '(gtm_agent_[a-z_]+)'/g),
      ].map((m) => m[1] as string),
      // and the alert deliveries' (gtm control exposes them once alerts are configured).
      ...[
        ...readFileSync(join(ROOT, 'src', 'alerts', 'index.ts'), 'utf8').matchAll(/name: '(gtm_alerts_[a-z_]+)'/g),
      ].map((m) => m[1] as string),
    ]);
    for (const rules of ruleFiles) {
      const check = spawnSync('promtool', ['check', 'rules', rules], { cwd: dirOf, encoding: 'utf8' });
      expect(check.status, `${rules}: ${check.stdout}${check.stderr}`).toBe(0);
      const tests = rules.replace(/\.rules\.yml$/, '.test.yml');
      const unit = spawnSync('promtool', ['test', 'rules', tests], { cwd: dirOf, encoding: 'utf8' });
      expect(unit.status, `${tests}: ${unit.stdout}${unit.stderr}`).toBe(0);
      // Metric names only (recorded series are named level:metric:operation).
      const text = readFileSync(join(dirOf, rules), 'utf8');
      const named = new Set([...text.matchAll(/(?<![:\w])(gtm_[a-z_]+)(?![:\w])/g)].map((m) => m[1] as string));
      // (a histogram's series by their family's name).
      expect(
        [...named].filter((f) => !exposed.has(f) && !exposed.has(f.replace(/_(bucket|sum|count)$/, ''))),
        rules,
      ).toEqual([]);
    }
    // The Grafana dashboard: provisioning-ready (its data source a variable) and naming only
    // families gtm exposes (a histogram's series by their family's name).
    const dashboard = readFileSync(join(ROOT, 'deploy', 'grafana', 'gtm-dashboard.json'), 'utf8');
    const parsed = JSON.parse(dashboard) as {
      templating: { list: { name: string; type: string }[] };
      panels: { datasource: { uid: string }; targets: { expr: string }[] }[];
    };
    expect(parsed.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    expect(parsed.panels.filter((p) => p.datasource.uid !== '${datasource}')).toEqual([]);
    const used = new Set(
      parsed.panels
        .flatMap((p) => p.targets.map((t) => t.expr))
        .flatMap((e) => [...e.matchAll(/(?<![:\w])(gtm_[a-z_]+)(?![:\w])/g)].map((m) => m[1] as string))
        .map((f) => f.replace(/_(bucket|sum|count)$/, '')),
    );
    expect([...used].filter((f) => !exposed.has(f))).toEqual([]);
  });

  it('gtm control and gtm probe: valid for promtool, with the region and vantage families', async () => {
    const control = await scrape(`http://${targets.control}/metrics`);
    expect(families(control).get('gtm_region_status')).toBe(1);
    const probeUrl = `http://${targets.probe}/metrics`;
    await waitFor(async () => /^gtm_vantage_reachable\{/m.test(await scrape(probeUrl)), 'a vantage round', 5000, 200);
    const probe = await scrape(probeUrl);
    for (const [name, body] of [
      ['control', control],
      ['probe', probe],
    ] as const) {
      const check = promtool(body);
      expect(check.status, `${name}: ${check.stdout}${check.stderr}`).toBe(0);
    }
  });

  it('a real Prometheus scrapes all three: up == 1 for each', async () => {
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
${Object.entries(targets)
  .map(([job, t]) => `  - job_name: ${job}\n    static_configs: [{ targets: ['${t}'] }]`)
  .join('\n')}
`,
    );
    const proc = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const prometheus = watchChild(proc);
    children.push(prometheus);
    let last: Record<string, string> = {};
    const up = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`).catch(() => undefined);
      if (!r?.ok) return (last = {});
      const data = (await r.json()) as { data: { result: { metric: { job: string }; value: [number, string] }[] } };
      return (last = Object.fromEntries(data.data.result.map((x) => [x.metric.job, x.value[1]])));
    };
    await waitFor(
      async () => Object.values(await up()).filter((v) => v === '1').length === 3,
      () => `every target up: ${JSON.stringify(last)}\n${prometheus.log().slice(-2000)}`,
      30_000,
      500,
    );
    expect(await up()).toEqual({ dns: '1', control: '1', probe: '1' });
  }, 60_000);
});
