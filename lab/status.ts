// `gtm lab status`: each PoP as its agent and the router see it, each client's answer and server.
import type { AgentStatus } from '../src/agent/index.js';
import { loadConfigFile } from '../src/config/index.js';
import { openStore } from '../src/state/index.js';
import { KEYS, type VantageReport } from '../src/contract/index.js';
import { connectRouter } from './router.js';
import { execIn, fetchIn } from './netns.js';
import { DNS_IP, type Lab } from './model.js';
import { PLAN } from './address-plan.js';

export interface LabStatus {
  pops: {
    name: string;
    vip: string;
    agent: string;
    nodes: string;
    session: string;
    routerPaths: number;
    localPref?: number;
    serving: boolean;
    /** Vantage points that reach the region's VIP, of those with a view ("-": no vantage reports). */
    outside: string;
    /** The shared anycast VIP from this PoP: the agent's state and what the router holds ("-": none). */
    anycast: string;
  }[];
  clients: { name: string; where: string; answer?: string; http: string }[];
}

export async function status(lab: Lab): Promise<LabStatus> {
  const bird = await connectRouter(lab);
  try {
    const vantage = await vantageReports(lab);
    const pops = [];
    for (const p of lab.pops) {
      let agent = 'unreachable';
      let nodes = '';
      let session = '-';
      let serving = false;
      let sharedState = '-';
      try {
        const st = JSON.parse(fetchIn(p.ns, 'http://127.0.0.1:9180/status').body) as AgentStatus;
        const own = st.vips.filter((v) => !v.shared);
        agent = own.map((v) => v.state).join('/');
        const shared = st.vips.find((v) => v.shared);
        sharedState = shared ? `${shared.state}${shared.held ? ' held' : ''}` : '-';
        nodes = st.vips[0]?.nodes.map((n) => `${n.name}:${n.state}`).join(' ') ?? '';
        // As the agent sees its router: gobgpd's BGP state and the BFD helper's.
        const router = PLAN.routerOn(p.n);
        session = `${(st.bgp.sessions[router] ?? '-').toLowerCase()}/${(st.bgp.bfd?.[router] ?? '-').toLowerCase()}`;
        serving = st.serving;
      } catch {
        /* agent down */
      }
      const routes = (await bird.routes(`${p.vip}/32`)).filter((r) => r.protocol === `p${p.n}`);
      const views = vantage.flatMap((r) => r.targets.filter((t) => t.region === p.region));
      const sharedRoute = (await bird.routes(`${PLAN.anycast}/32`)).find((r) => r.protocol === `p${p.n}`);
      const anycast =
        sharedState === '-' ? '-' : `${sharedState}, ${sharedRoute ? `lp ${sharedRoute.localPref}` : 'not at router'}`;
      pops.push({
        name: p.name,
        vip: p.vip,
        agent,
        nodes,
        session,
        routerPaths: routes.length,
        localPref: routes[0]?.localPref,
        serving,
        outside: views.length ? `${views.filter((t) => t.reachable).length}/${views.length}` : '-',
        anycast,
      });
    }
    const clients = lab.clients.map((c) => {
      let answer: string | undefined;
      let http = '';
      try {
        answer =
          execIn(c.ns, 'kdig', [
            `@${DNS_IP}`,
            '+short',
            '+time=1',
            '+retry=0',
            `+subnet=${c.subnet}`,
            'www.example.test',
            'A',
          ])
            .trim()
            .split('\n')
            .at(-1) || undefined;
        if (answer) http = execIn(c.ns, 'curl', ['-s', '--max-time', '1', `http://${answer}/`]).trim();
      } catch (err) {
        http = `error: ${(err as Error).message.split('\n')[0]}`;
      }
      return { name: c.name, where: c.where, answer, http };
    });
    return { pops, clients };
  } finally {
    bird.close();
  }
}

/** What the vantage points report, from the lab's shared store (its state file, or etcd). */
async function vantageReports(lab: Lab): Promise<VantageReport[]> {
  const settings = loadConfigFile(lab.config).control;
  if (!settings) return [];
  const store = await openStore(settings.store);
  try {
    return (await store.list<VantageReport>(KEYS.vantages)).map((e) => e.value);
  } catch {
    return []; // the store is not there yet (a lab coming up)
  } finally {
    await store.close();
  }
}

export function formatStatus(s: LabStatus): string {
  const lines = [
    `PoP            VIP             agent      LB nodes            BGP/BFD          router paths  serving  outside  anycast ${PLAN.anycast}`,
  ];
  for (const p of s.pops) {
    const router = `${p.routerPaths}${p.localPref !== undefined ? ` (lp ${p.localPref})` : ''}`;
    lines.push(
      `${p.name.padEnd(14)} ${p.vip.padEnd(15)} ${p.agent.padEnd(10)} ${p.nodes.padEnd(19)} ${p.session.padEnd(16)} ${router.padEnd(13)} ${(p.serving ? 'yes' : 'no').padEnd(8)} ${p.outside.padEnd(8)} ${p.anycast}`,
    );
  }
  lines.push('', 'client  where        DNS answer       HTTP');
  for (const c of s.clients)
    lines.push(`${c.name.padEnd(7)} ${c.where.padEnd(12)} ${(c.answer ?? '-').padEnd(16)} ${c.http}`);
  return lines.join('\n');
}

/** Removes everything the lab made: processes by recorded PID, namespaces by prefix. */
