// The soak's faults: what each breaks, how it is injected and how it is repaired. A fault that
// takes a region's service away (`breaks`) is what the answered-while-broken invariant judges.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentStatus, killCluster } from './drill-kit.js';
import { fetchInAsync, ifaceWithAddress, ip, killPid, spawnIn } from './netns.js';
import { pidInPop, signalInPop, signalProcesses, waitRestarted } from './procs.js';
import { pidOf } from './processes.js';
import { PLAN } from './address-plan.js';
import { PREFIX, ROOT, type Lab, type LabPop } from './model.js';

export interface Fault {
  name: string;
  /** The region whose service it takes away while it lasts (none: the data plane is untouched). */
  breaks?: boolean;
  /** Needs etcd as the store. */
  etcd?: boolean;
  inject(lab: Lab, pop: LabPop, soak: SoakContext): Promise<() => Promise<void>>;
}

export interface SoakContext {
  /** The DNS server's clock offset file (lab/clock-skew.ts). */
  clockFile: string;
  dnsNs: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The DNS primary's worker processes (its children), by /proc. */
function dnsWorkers(primary: number | undefined): number[] {
  if (!primary) return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === primary) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Writes raw values to etcd from the DNS node (where etcd listens), through etcd's own HTTP/JSON
 * gateway as any outside tool could: malformed entries, garbage.
 */
async function etcdWrite(ns: string, entries: Record<string, string | null>): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const [k, v] of Object.entries(entries)) {
    const key = b64(`/gtm/${k}`);
    const [path, body] = v === null ? ['deleterange', { key }] : ['put', { key, value: b64(v) }];
    const r = await fetchInAsync(ns, `http://${PLAN.dns}:2379/v3/kv/${path}`, 'POST', body);
    if (r.status !== 200) throw new Error(`etcd ${path} of ${k}: HTTP ${r.status} ${r.body}`);
  }
}

/** Writes (or, with null, removes) raw entries in the lab's state file, as another writer would. */
function fileWrite(lab: Lab, entries: Record<string, string | null>): void {
  const path = join(lab.dir, 'state.json');
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { rev: number; entries: Record<string, unknown> };
  doc.rev++;
  for (const [k, v] of Object.entries(entries))
    if (v === null) delete doc.entries[k];
    else doc.entries[k] = { value: JSON.parse(v), rev: doc.rev };
  writeFileSync(path, JSON.stringify(doc));
}

/** Malformed entries of every kind the contract refuses, then their removal. */
function corruption(pop: LabPop): Record<string, string> {
  const forged = { pop: 'nope', region: pop.region, serving: false, sessionUp: false, vips: [], at: Date.now() };
  return {
    [`overrides/regions/${pop.region}`]: 'null',
    [`overrides/weights/www/${pop.region}`]: JSON.stringify({ weight: 'heavy', reason: 'x', who: 'y', at: 1 }),
    'overrides/regions/zz-banana': JSON.stringify({ status: 'banana', reason: 'x', who: 'y', at: 1 }),
    'agents/zz-forged': JSON.stringify(forged),
    // Vantage reports under other keys claiming to be honest points, all saying the region is down.
    ...Object.fromEntries(
      ['gb', 'us', 'sg', 'eu-west', 'ap-southeast'].map((p) => [
        `vantage/zz-${p}`,
        JSON.stringify({
          point: p,
          at: Date.now(),
          targets: [{ region: pop.region, reachable: false, detail: 'forged' }],
        }),
      ]),
    ),
  };
}

export const FAULTS: Fault[] = [
  {
    name: 'lb-cluster-death',
    breaks: true,
    inject: async (lab, pop) => killCluster(lab, pop),
  },
  {
    name: 'link-cut',
    breaks: true,
    async inject(_lab, pop) {
      const dev = ifaceWithAddress(`${PREFIX}rtr`, PLAN.routerOn(pop.n));
      ip('-n', `${PREFIX}rtr`, 'link', 'set', dev, 'down');
      return async () => {
        ip('-n', `${PREFIX}rtr`, 'link', 'set', dev, 'up');
        ip('-n', pop.ns, 'route', 'replace', 'default', 'via', PLAN.routerOn(pop.n));
      };
    },
  },
  {
    name: 'router-blackhole',
    breaks: true,
    async inject(_lab, pop) {
      // A policy rule in the router drops forwarded packets to the VIP; the route and the BGP
      // session stay (only the vantage points see it).
      const rule = ['rule', 'add', 'to', `${pop.vip}/32`, 'blackhole', 'priority', '100'];
      ip('-n', `${PREFIX}rtr`, ...rule);
      return async () => void ip('-n', `${PREFIX}rtr`, ...rule.map((w) => (w === 'add' ? 'del' : w)));
    },
  },
  {
    // Self-healing (the supervisor restarts the agent in 2 s), so not judged as a broken region:
    // the region is rightly served again long before the fault's hold ends.
    name: 'agent-kill',
    async inject(lab, pop) {
      const name = `${pop.name}-agent`;
      const before = pidInPop(lab, pop, name);
      signalProcesses(lab, pop, [name], 'SIGKILL');
      return async () => void (await waitRestarted(lab, pop, name, before));
    },
  },
  {
    name: 'agent-freeze',
    async inject(lab, pop) {
      signalProcesses(lab, pop, [`${pop.name}-agent`], 'SIGSTOP');
      return async () => signalProcesses(lab, pop, [`${pop.name}-agent`], 'SIGCONT');
    },
  },
  {
    // Self-healing too: the agent starts gobgpd again and re-announces within seconds.
    name: 'gobgpd-kill',
    async inject(lab, pop) {
      signalInPop(lab, pop, agentStatus(pop).bgp.gobgpdPid, 'SIGKILL');
      return async () => undefined; // the agent starts it again
    },
  },
  {
    name: 'dns-primary-kill',
    async inject(lab, pop) {
      const before = pidOf(lab, 'dns');
      killPid(before, 'SIGKILL');
      for (const w of dnsWorkers(before)) killPid(w, 'SIGKILL');
      return async () => void (await waitRestarted(lab, pop, 'dns', before, 15_000));
    },
  },
  {
    name: 'dns-worker-kill',
    async inject(lab) {
      killPid(dnsWorkers(pidOf(lab, 'dns'))[0], 'SIGKILL');
      return async () => undefined; // the primary starts another
    },
  },
  {
    name: 'control-kill',
    async inject(lab, pop) {
      const before = pidOf(lab, 'control');
      killPid(before, 'SIGKILL');
      return async () => void (await waitRestarted(lab, pop, 'control', before, 15_000));
    },
  },
  {
    name: 'store-corruption',
    async inject(lab, pop, soak) {
      const bad = corruption(pop);
      const store = lab.config && readFileSync(lab.config, 'utf8').includes('etcd:') ? 'etcd' : 'file';
      const clear = Object.fromEntries(Object.keys(bad).map((k) => [k, null]));
      if (store === 'etcd') {
        await etcdWrite(soak.dnsNs, { ...bad, 'agents/zz-garbage': '{not json' });
        return () => etcdWrite(soak.dnsNs, { ...clear, 'agents/zz-garbage': null });
      }
      fileWrite(lab, bad);
      return async () => fileWrite(lab, clear);
    },
  },
  {
    name: 'etcd-freeze',
    etcd: true,
    async inject(lab) {
      const pid = pidOf(lab, 'etcd');
      killPid(pid, 'SIGSTOP');
      return async () => killPid(pid, 'SIGCONT');
    },
  },
  {
    name: 'clock-step',
    async inject(_lab, _pop, soak) {
      // The DNS server's clock runs 20 days ahead, then comes back.
      writeFileSync(soak.clockFile, String(20 * 86_400_000));
      await sleep(3000);
      return async () => writeFileSync(soak.clockFile, '0');
    },
  },
];
