// The chaos soak: the lab under a stream of faults for N minutes while users resolve and fetch
// and an operator writes through the API, then three invariants:
//   1. no answer names a region whose service was taken away, beyond the detection window;
//   2. no acknowledged API write is lost (the last one per region is what the store holds, and
//      each has its `applied` audit record);
//   3. no process or memory leak (the same processes at the end, no role's memory run away).
// Bounded: it stops on its own after --minutes, repairs every fault it made and takes the lab down.
//   npm run soak -- --minutes 30 [--store etcd|file] [--seed N]
import { type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { down, up } from './lab.js';
import { fetchInAsync, ip, killPid, spawnIn } from './netns.js';
import { DNS_IP, EXAMPLE_CONFIG, PREFIX, ROOT, type Lab } from './model.js';
import { FAULTS, type Fault } from './soak-faults.js';

/** An answer naming a region this long after its service was taken away is a violation. */
const DETECTION_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  client: string;
  t: number;
  answer: string | null;
  ok: boolean;
}
interface Injected {
  fault: string;
  region: string;
  from: number;
  to: number;
  breaks: boolean;
}
interface Write {
  region: string;
  reason: string;
  weight: number;
  t: number;
  status: number;
  outcome?: string;
}

/** A small seeded generator: a run can be repeated. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Users in every client place, resolving and fetching every 200 ms, in rounds of at most 10 min. */
function startClients(lab: Lab, until: number, samples: Sample[]): { stop(): void } {
  const procs = new Set<ChildProcess>();
  let stopped = false;
  const round = (c: Lab['clients'][number]) => {
    const left = until - Date.now();
    if (stopped || left <= 0) return;
    const p = spawnIn(c.ns, process.execPath, [
      join(ROOT, 'dist', 'lab', 'client.js'),
      DNS_IP,
      'www.example.test',
      c.subnet,
      '200',
      String(Math.min(left, 590_000)),
    ]);
    procs.add(p);
    let buf = '';
    p.stdout?.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const e = JSON.parse(line) as { event: string; t: number; answer: string | null; ok: boolean };
          if (e.event === 'fetch') samples.push({ client: c.name, t: e.t, answer: e.answer, ok: e.ok });
        } catch {
          /* a summary line */
        }
      }
    });
    p.on('exit', () => (procs.delete(p), round(c)));
  };
  for (const c of lab.clients) round(c);
  return {
    stop() {
      stopped = true;
      for (const p of procs) killPid(p.pid, 'SIGTERM');
    },
  };
}

/** Product processes' memory by role (kB), and every process in the lab's namespaces. */
function resources(): { processes: number; rssKb: Record<string, number> } {
  const namespaces = ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
  let processes = 0;
  const rssKb: Record<string, number> = {};
  for (const ns of namespaces)
    for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) {
      processes++;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const role = cmd.includes('dns')
          ? 'dns'
          : cmd.includes('control')
            ? 'control'
            : cmd.includes('agent')
              ? 'agents'
              : cmd.includes('probe')
                ? 'probes'
                : undefined;
        if (!role || !cmd.some((a) => a.endsWith('gtm.js'))) continue;
        const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        rssKb[role] = (rssKb[role] ?? 0) + rss;
      } catch {
        /* ended */
      }
    }
  return { processes, rssKb };
}

/** The operator: a weight for a random region every few seconds, each with its own reason and key. */
function startWriter(lab: Lab, dnsNs: string, until: number, writes: Write[], rand: () => number) {
  let n = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped && Date.now() < until) {
      const pop = lab.pops[Math.floor(rand() * lab.pops.length)] ?? lab.pops[0];
      if (!pop) return;
      const w: Write = {
        region: pop.region,
        reason: `soak write ${++n}`,
        weight: 1 + (n % 9),
        t: Date.now(),
        status: 0,
      };
      const r = await fetchInAsync(
        dnsNs,
        `http://127.0.0.1:9190/api/v1/regions/${pop.region}/override`,
        'PUT',
        { weight: w.weight, reason: w.reason },
        { authorization: `Bearer ${lab.token}`, 'idempotency-key': `soak-write-${n}-${w.t}` },
      );
      w.status = r.status;
      try {
        w.outcome = (JSON.parse(r.body) as { outcome?: string }).outcome;
      } catch {
        /* no body */
      }
      writes.push(w);
      await sleep(2000 + rand() * 4000);
    }
  };
  const done = loop();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

async function api(lab: Lab, dnsNs: string, path: string): Promise<unknown> {
  const r = await fetchInAsync(dnsNs, `http://127.0.0.1:9190${path}`, 'GET', undefined, {
    authorization: `Bearer ${lab.token}`,
  });
  return JSON.parse(r.body);
}

/** Invariant 1: answers naming a region whose service was away for longer than the detection window. */
function answeredWhileBroken(lab: Lab, samples: Sample[], faults: Injected[]): string[] {
  const vipOf = new Map(lab.pops.map((p) => [p.vip, p.region]));
  const out: string[] = [];
  for (const f of faults.filter((x) => x.breaks)) {
    const bad = samples.filter(
      (s) => s.answer && vipOf.get(s.answer) === f.region && s.t >= f.from + DETECTION_MS && s.t <= f.to,
    );
    if (bad.length)
      out.push(
        `${f.fault} of ${f.region}: ${bad.length} answers named it ${DETECTION_MS / 1000} s or more after it broke (first +${(bad[0] as Sample).t - f.from} ms, client ${(bad[0] as Sample).client})`,
      );
  }
  return out;
}

/** Invariant 2: the last acknowledged weight per region is the one held, and every ack is audited. */
async function lostWrites(lab: Lab, dnsNs: string, writes: Write[]): Promise<string[]> {
  const out: string[] = [];
  const regions = (await api(lab, dnsNs, '/api/v1/regions')) as {
    name: string;
    weightOverride: { reason: string; weight: number } | null;
  }[];
  const audit = (await api(lab, dnsNs, '/api/v1/audit?limit=1000')) as { why: string; outcome?: string }[];
  const applied = new Set(audit.filter((a) => a.outcome === 'applied').map((a) => a.why));
  for (const r of regions) {
    const mine = writes.filter((w) => w.region === r.name);
    const lastAck = mine.filter((w) => w.status === 200).at(-1);
    if (!lastAck) continue;
    // A later write whose outcome is unknown (503) may or may not have landed: either is right.
    const later = mine.filter((w) => w.t > lastAck.t && w.status !== 200 && w.outcome !== 'not-applied');
    const allowed = new Set([lastAck.reason, ...later.map((w) => w.reason)]);
    if (!r.weightOverride || !allowed.has(r.weightOverride.reason))
      out.push(
        `${r.name}: the last acknowledged write "${lastAck.reason}" is not what the store holds (${r.weightOverride?.reason ?? 'nothing'})`,
      );
  }
  for (const w of writes.filter((x) => x.status === 200))
    if (!applied.has(w.reason)) out.push(`"${w.reason}" was acknowledged but has no applied audit record`);
  return out;
}

// long: the soak's whole run reads best in one piece: start, fault loop, settle, judge, report
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { minutes: { type: 'string' }, store: { type: 'string' }, seed: { type: 'string' } },
  });
  const minutes = Number(values.minutes ?? 30);
  const store = (values.store ?? 'etcd') as 'etcd' | 'file';
  if (!(minutes > 0 && minutes <= 240) || !['etcd', 'file'].includes(store)) {
    process.stderr.write('usage: npm run soak -- --minutes N (1-240) [--store etcd|file] [--seed N]\n');
    return 2;
  }
  const rand = rng(Number(values.seed ?? 2026));
  const clockFile = join(process.env.GTM_LAB_DIR ?? '/run/gtm-soak', '..', `gtm-soak-clock-${process.pid}`);
  writeFileSync(clockFile, '0');
  const lab = await up(EXAMPLE_CONFIG, (s) => console.log(s), { store, clockFile });
  const dnsNs = `${PREFIX}dns`;
  const samples: Sample[] = [];
  const faults: Injected[] = [];
  const writes: Write[] = [];
  const started = Date.now();
  const until = started + minutes * 60_000;
  const clients = startClients(lab, until + 20_000, samples);
  const writer = startWriter(lab, dnsNs, until, writes, rand);
  try {
    await sleep(20_000); // warm: every process has loaded what it keeps
    const before = resources();
    const kinds = FAULTS.filter((f: Fault) => store === 'etcd' || !f.etcd);
    let i = 0;
    while (Date.now() < until - 30_000) {
      const fault = kinds[i++ % kinds.length] as Fault;
      const pop = lab.pops[Math.floor(rand() * lab.pops.length)] ?? (lab.pops[0] as Lab['pops'][number]);
      const from = Date.now();
      const repair = await fault.inject(lab, pop, { clockFile, dnsNs });
      await sleep(4000 + rand() * 8000);
      await repair().catch((err: Error) => console.log(`  repair of ${fault.name} failed: ${err.message}`));
      faults.push({ fault: fault.name, region: pop.region, from, to: Date.now(), breaks: !!fault.breaks });
      console.log(`  +${Math.round((from - started) / 1000)} s  ${fault.name} (${pop.region}), repaired`);
      await sleep(10_000 + rand() * 10_000); // back to steady before the next one
    }
    await writer.stop();
    await sleep(15_000);
    const after = resources();
    const broken = answeredWhileBroken(lab, samples, faults);
    const lost = await lostWrites(lab, dnsNs, writes);
    const leaks: string[] = [];
    if (after.processes !== before.processes)
      leaks.push(`processes in the lab: ${before.processes} after warm-up, ${after.processes} at the end`);
    for (const [role, kb] of Object.entries(after.rssKb)) {
      const was = before.rssKb[role] ?? 0;
      if (kb > was * 1.5 + 50_000) leaks.push(`${role}: memory ${was >> 10} MB -> ${kb >> 10} MB`);
    }
    const failed = samples.filter((s) => !s.ok).length;
    const acked = writes.filter((w) => w.status === 200).length;
    console.log(
      `\nsoak: ${minutes} min, ${faults.length} faults (${[...new Set(faults.map((f) => f.fault))].join(', ')})`,
    );
    console.log(
      `  fetches: ${samples.length}, failed ${failed} (${((100 * failed) / Math.max(1, samples.length)).toFixed(2)}%)`,
    );
    console.log(
      `  API writes: ${writes.length}, acknowledged ${acked}, unknown ${writes.filter((w) => w.outcome === 'unknown').length}, refused or unreachable ${writes.length - acked}`,
    );
    console.log(`  processes: ${before.processes} -> ${after.processes}`);
    console.log(
      `  memory (MB): ${Object.keys(after.rssKb)
        .map((r) => `${r} ${(before.rssKb[r] ?? 0) >> 10} -> ${(after.rssKb[r] ?? 0) >> 10}`)
        .join(', ')}`,
    );
    const violations = [...broken, ...lost, ...leaks];
    console.log(`  invariant violations: ${violations.length}`);
    for (const v of violations) console.log(`    ${v}`);
    return violations.length ? 1 : 0;
  } finally {
    clients.stop();
    await writer.stop();
    await down((s) => console.log(s));
    rmSync(clockFile, { force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`soak: ${err.stack ?? err.message}`);
    void down(() => undefined).finally(() => process.exit(1));
  },
);
