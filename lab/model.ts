// The lab as data: where it lives, its PoPs and clients (from the config and the address plan).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, type Config } from '../src/config/index.js';
import { packageRoot } from '../src/runtime/index.js';
import { CLIENT_PLAN, PLAN } from './address-plan.js';

// Both can be overridden so a test lab never touches an operator's running lab.
export const PREFIX = process.env.GTM_LAB_PREFIX ?? 'gtmlab-';
if (!/^[a-z][a-z0-9-]{0,7}$/.test(PREFIX))
  throw new Error(`GTM_LAB_PREFIX must be 1-8 lowercase letters, digits or dashes (got ${JSON.stringify(PREFIX)})`);
export const LAB_DIR = process.env.GTM_LAB_DIR ?? '/run/gtm-lab';
export const ROOT = packageRoot();
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'three-regions.yaml');
export const DNS_IP = PLAN.dns;
/** The second DNS node's namespace (the namespace lab with etcd only). */
export const DNS2_NS = `${PREFIX}dns2`;
/** The lab's alert webhook (in the DNS namespace, beside gtm control) and where it writes. */
export const ALERT_HOOK = { host: '127.0.0.1', port: 9199 };
export const alertsFile = (dir: string) => join(dir, 'logs', 'alerts.jsonl');

/** The BFD-only BIRD beside PoP n's gobgpd: its config and control socket. */
export const bfdHelper = (dir: string, n: number) => ({
  conf: join(dir, 'bird', `bfd-p${n}.conf`),
  socket: join(dir, 'bird', `bfd-p${n}.ctl`),
});

/** What a lab client reports for each fetch (one JSON line; the drills decide on these fields). */
export interface ClientFetch {
  event: 'fetch';
  t: number;
  /** The DNS answer it fetched from (null: no answer). */
  answer: string | null;
  ok: boolean;
  /** Region whose LB node served the page (ok only). */
  servedBy?: string;
  /** Why the fetch failed (not ok only). */
  error?: string;
}

export interface LabClient {
  name: string;
  ns: string;
  subnet: string;
  address: string;
  where: string;
}

export interface LabPop {
  name: string;
  region: string;
  ns: string;
  n: number;
  vip: string;
}

/** Where the lab runs: network namespaces on this host, or containers (docker-compose.yml). */
export type LabEngine = 'netns' | 'compose';

/** The compose lab's containers, as `gtm lab up --engine compose` recorded them (engine.json). */
export interface ComposeLab {
  /** DOCKER_HOST of the engine the lab runs on. */
  host: string;
  /** The dockerd the lab started itself (stopped by `lab down`). */
  startedPid?: number;
  /** The compose project (containers, networks and volumes are labelled with it). */
  project: string;
  /** Container ID of each service (router, us-east, dns, c-us, ...). */
  containers: Record<string, string>;
  /** Host PID of each container's entry script (its PID 1), as at `up`. */
  initPids: Record<string, number>;
  /** The lab's names for the containers' network namespaces (`ip netns attach`). */
  namespaces: string[];
}

export interface Lab {
  dir: string;
  config: string;
  token: string;
  pops: LabPop[];
  clients: LabClient[];
  birdSocket: string;
  /** The upstream router the lab runs: BIRD 2 (default) or FRR. */
  router: 'bird' | 'frr';
  engine: LabEngine;
  compose?: ComposeLab;
}

/** Users in three places; their subnets are located by the lab's geo database. */
export const CLIENTS: LabClient[] = CLIENT_PLAN.map((c) => ({ ...c, ns: `${PREFIX}c-${c.name}` }));

export function labOf(
  config: Config,
  dir: string,
  token: string,
  router: Lab['router'] = 'bird',
  compose?: ComposeLab,
): Lab {
  const pops = [...config.regions.values()].map((r, i) => ({
    name: r.name,
    region: r.name,
    ns: `${PREFIX}p${i + 1}`,
    n: i + 1,
    vip: r.vip4 as string,
  }));
  return {
    dir,
    config: join(dir, 'config.yaml'),
    token,
    pops,
    clients: CLIENTS,
    birdSocket: join(dir, 'bird', 'rtr.ctl'),
    router,
    engine: compose ? 'compose' : 'netns',
    ...(compose ? { compose } : {}),
  };
}

export const composeFile = (dir: string) => join(dir, 'compose.json');

export function loadLab(dir = LAB_DIR): Lab {
  if (!existsSync(join(dir, 'config.yaml'))) throw new Error(`no lab in ${dir} (gtm lab up first)`);
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const router =
    existsSync(join(dir, 'router')) && readFileSync(join(dir, 'router'), 'utf8').trim() === 'frr' ? 'frr' : 'bird';
  const compose = existsSync(composeFile(dir))
    ? (JSON.parse(readFileSync(composeFile(dir), 'utf8')) as ComposeLab)
    : undefined;
  return labOf(loadConfigFile(join(dir, 'config.yaml')), dir, token, router, compose);
}

/**
 * The restart policy of the product's processes, in the lab (lab/supervise.ts, entry.sh) as in
 * the systemd units (deploy/systemd: RestartSec, StartLimitBurst, StartLimitIntervalSec; a test
 * holds them equal): started again 2 s after they exit, at most 5 starts in 30 s.
 */
export const RESTART_POLICY = { delayMs: 2000, startLimit: { burst: 5, intervalMs: 30_000 } };
