// The region-overload drill (issue 30): us-east's LBs report 95% of capacity; its agent sends the
// load with its heartbeats, DNS sheds a growing share of us-east's answers to the next region, and
// once the load falls to 20% every answer returns. Forty client subnets outside the geo data (so
// us-east is everyone's first choice) are asked at once, with one dig per sample.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLAN } from './address-plan.js';
import { type Drill, expectation, rel, within, zeroClientErrors } from './drill-kit.js';
import { fetchInAsync } from './netns.js';
import { DNS_IP, type Lab, type LabPop } from './model.js';

const SUBNETS = Array.from({ length: 40 }, (_, i) => `100.64.${i}.0/24`);
/** What the lab's regions are told (lab/render.ts): shed above 80%, at most 60%. */
const MAX_SHED = 0.6;

interface Sample {
  t: number;
  /** Answers that were not the overloaded region's address, of those answered. */
  moved: number;
  answered: number;
  elsewhere: string[];
}

/** The sampler's record, per run (one drill at a time). */
let run:
  | { samples: Sample[]; loweredAt?: number; done: boolean; stop: boolean; next?: { region: string; vip: string } }
  | undefined;

const setLoad = (pop: LabPop, value: number) =>
  Promise.all(
    ([1, 2] as const).map((node) =>
      fetchInAsync(pop.ns, `http://${PLAN.lbNode(pop.n, node)}:8080/load?value=${value}`, 'POST'),
    ),
  );

/** One dig for every subnet (batch mode), from a client's namespace: the answer per subnet. */
function sample(lab: Lab, batch: string): Promise<string[]> {
  const ns = (lab.clients[0] as Lab['clients'][number]).ns;
  return new Promise((resolve) =>
    execFile('ip', ['netns', 'exec', ns, 'dig', '-f', batch], { encoding: 'utf8', timeout: 5000 }, (_e, out) =>
      resolve((out ?? '').split('\n').map((l) => l.trim())),
    ),
  );
}

/** Overload, wait for the shed to reach its ceiling, then relieve, until every answer is back. */
async function scenario(lab: Lab, pop: LabPop, mark: (what: string) => void): Promise<void> {
  const r = run as NonNullable<typeof run>;
  const batch = join(mkdtempSync(join(tmpdir(), 'gtm-overload-')), 'batch');
  writeFileSync(
    batch,
    SUBNETS.map((s) => `@${DNS_IP} +short +norec +tries=1 +time=1 +subnet=${s} www.example.test A`).join('\n'),
  );
  // The next region for a client outside the geo data: the pools' configured order after us-east.
  const next = lab.pops.find((p) => p.region === 'eu-west');
  if (next) r.next = { region: next.region, vip: next.vip };
  await setLoad(pop, 95);
  mark(`${pop.name}'s LBs report 95% of capacity`);
  while (!r.stop) {
    const lines = (await sample(lab, batch)).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
    const elsewhere = lines.filter((l) => l !== pop.vip);
    const before = r.samples.at(-1)?.moved ?? 0;
    r.samples.push({ t: Date.now(), moved: elsewhere.length, answered: lines.length, elsewhere });
    if (elsewhere.length !== before)
      mark(`DNS answers ${elsewhere.length} of ${SUBNETS.length} subnets from elsewhere`);
    const last = r.samples.slice(-3);
    // Relieved once the share has held for three samples (it grows at 20% a second to 60%).
    if (
      r.loweredAt === undefined &&
      last.length === 3 &&
      last.every((s) => s.moved > 0 && s.moved === last[0]?.moved)
    ) {
      await setLoad(pop, 20);
      r.loweredAt = Date.now();
      mark(`${pop.name}'s LBs report 20% of capacity`);
    }
    if (r.loweredAt !== undefined && r.samples.at(-1)?.moved === 0 && r.samples.at(-1)?.answered === SUBNETS.length) {
      r.done = true;
      return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

export const CAPACITY_DRILLS: Record<string, Drill> = {
  'region-overload': {
    description: "us-east's LBs report 95% of capacity: DNS sheds a share of its answers to eu-west, then returns them",
    timeoutMs: 30_000,
    noFailover: true,
    async inject(lab, pop, mark) {
      run = { samples: [], done: false, stop: false };
      const current = run;
      const going = scenario(lab, pop, mark).catch(() => undefined);
      return async () => {
        current.stop = true;
        await going;
        await setLoad(pop, 0);
      };
    },
    settle: () => run?.done === true,
    expect(o, pop, r) {
      const samples = run?.samples ?? [];
      const loweredAt = run?.loweredAt;
      const overloaded = samples.filter((s) => loweredAt === undefined || s.t <= loweredAt);
      const firstShed = overloaded.find((s) => s.moved > 0);
      within(r, 'DNS starts shedding within 3 s of the overload', rel(o, firstShed?.t), 3000);
      const most = Math.max(0, ...overloaded.map((s) => s.moved));
      const shares = [...new Set(overloaded.map((s) => s.moved))].filter((m) => m > 0);
      expectation(
        r,
        `a share is shed, never all: at most ${Math.round(MAX_SHED * 100)}% (+ the hash's spread) of ${SUBNETS.length} subnets`,
        most > 0 && most <= Math.ceil(SUBNETS.length * (MAX_SHED + 0.15)),
        `at most ${most} of ${SUBNETS.length} subnets answered elsewhere`,
      );
      expectation(
        r,
        'smoothly: the share grows in steps, not at once',
        shares.length >= 2,
        `moved counts seen while overloaded: ${shares.join(', ') || 'none'}`,
      );
      const places = [...new Set(samples.flatMap((s) => s.elsewhere))];
      const next = run?.next;
      expectation(
        r,
        `the shed subnets go to the next region (${next?.region})`,
        places.length > 0 && places.every((p) => p === next?.vip),
        `answered elsewhere: ${places.join(', ') || 'none'}`,
      );
      const back = samples.find((s) => loweredAt !== undefined && s.t > loweredAt && s.moved === 0);
      within(
        r,
        'every subnet returns to us-east within 6 s of the load falling',
        back && loweredAt ? back.t - loweredAt : undefined,
        6000,
      );
      expectation(
        r,
        'us-east stays in DNS throughout (overload is not failure)',
        !o.regionChanges.some((c) => c.region === pop.region && c.to !== 'up'),
        o.regionChanges.map((c) => `${c.region} -> ${c.to}`).join(', ') || 'no region state change',
      );
      zeroClientErrors(o, r, ' (every region keeps serving)');
    },
  },
};
