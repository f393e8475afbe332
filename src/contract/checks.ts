// Every value read from the shared store is checked against the contract, entry by entry: a
// store is written by other processes (and by hand, and by whoever reaches etcd), so one bad
// entry must cost that entry, never the reader. Pure: each check says what is wrong, or nothing.
import { REGION_STATUSES, VIP_STATES, KEYS } from './contract.js';

type Check = (value: unknown, key: string) => string | undefined;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max = 1000) => typeof v === 'string' && v.length > 0 && v.length <= max;
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown) => typeof v === 'boolean';
/** A weight as operators set it: finite, 0 to 1,000,000. */
const isWeight = (v: unknown) => isNum(v) && (v as number) >= 0 && (v as number) <= 1_000_000;

/** The first field that is wrong, as "field: what it must be". */
type Field = readonly [(x: unknown) => boolean, string, 'optional'?];

function fields(v: unknown, spec: Record<string, Field>): string | undefined {
  if (!isObj(v)) return 'not an object';
  for (const [name, [ok, what, optional]] of Object.entries(spec)) {
    if (v[name] === undefined && optional) continue;
    if (!ok(v[name])) return `${name}: ${what}`;
  }
  return undefined;
}

const agentReport: Check = (v, key) => {
  const bad = fields(v, {
    pop: [isStr, 'a PoP name'],
    region: [isStr, 'a region name'],
    serving: [isBool, 'true or false'],
    sessionUp: [isBool, 'true or false'],
    at: [isNum, 'a time'],
    troubleSince: [isNum, 'a time', 'optional'],
    load: [
      (x) => isNum(x) && (x as number) >= 0 && (x as number) <= 1000,
      'a share of capacity, 0 to 1000',
      'optional',
    ],
    vips: [Array.isArray, 'a list'],
  });
  if (bad) return bad;
  const r = v as { pop: string; vips: unknown[] };
  if (key !== KEYS.agent(r.pop)) return `pop: ${JSON.stringify(r.pop)} is not the PoP this key belongs to`;
  for (const vip of r.vips) {
    const wrong = fields(vip, {
      prefix: [isStr, 'a prefix'],
      state: [(s) => (VIP_STATES as readonly unknown[]).includes(s), `one of ${VIP_STATES.join(', ')}`],
      held: [isBool, 'true or false', 'optional'],
    });
    if (wrong) return `vips: ${wrong}`;
  }
  const peers = (v as { peers?: unknown }).peers;
  if (peers !== undefined && !Array.isArray(peers)) return 'peers: a list';
  for (const peer of peers ?? []) {
    const wrong = fields(peer, {
      address: [(x) => isStr(x, 64), 'an address'],
      bgp: [(x) => isStr(x, 32), 'a BGP state'],
      bfd: [(x) => isStr(x, 32), 'a BFD state', 'optional'],
    });
    if (wrong) return `peers: ${wrong}`;
  }
  return undefined;
};

const vantageReport: Check = (v, key) => {
  const bad = fields(v, {
    point: [isStr, 'a vantage point name'],
    region: [isStr, 'a region name', 'optional'],
    at: [isNum, 'a time'],
    targets: [Array.isArray, 'a list'],
  });
  if (bad) return bad;
  const r = v as { point: string; targets: unknown[] };
  // A report speaks for the point whose key it is under: it cannot speak for another.
  if (key !== KEYS.vantage(r.point)) return `point: ${JSON.stringify(r.point)} is not the point this key belongs to`;
  for (const t of r.targets) {
    const wrong = fields(t, {
      region: [isStr, 'a region name'],
      reachable: [isBool, 'true or false'],
      detail: [(d) => typeof d === 'string', 'text'],
    });
    if (wrong) return `targets: ${wrong}`;
  }
  return undefined;
};

const changeFields: Record<string, Field> = {
  reason: [(x: unknown) => isStr(x, 500), 'a reason'],
  who: [(x: unknown) => isStr(x, 200), 'who made it'],
  at: [isNum, 'a time'],
  expiresAt: [isNum, 'a time', 'optional'],
};

const regionOverride: Check = (v) =>
  fields(v, {
    status: [(s) => (REGION_STATUSES as readonly unknown[]).includes(s), `one of ${REGION_STATUSES.join(', ')}`],
    force: [isBool, 'true or false', 'optional'],
    ...changeFields,
  });

/** A region's or a steered name's weight set by an operator. */
const weightOverride: Check = (v) => fields(v, { weight: [isWeight, 'a number from 0 to 1000000'], ...changeFields });

const anycastClaims: Check = (v) =>
  fields(v, { pops: [(p) => isObj(p) && Object.values(p).every(isNum), 'PoP names with times'] });

const auditRecord: Check = (v) =>
  fields(v, {
    at: [isStr, 'an ISO time'],
    who: [isStr, 'who'],
    action: [isStr, 'an action'],
    target: [isStr, 'a target'],
    why: [(x) => typeof x === 'string', 'text'],
  });

const healthSignal: Check = (v, key) => {
  const bad = fields(v, {
    name: [(x) => isStr(x, 64), 'a signal name'],
    up: [isBool, 'true or false'],
    ...changeFields,
    expiresAt: [isNum, 'a time'],
  });
  if (bad) return bad;
  const name = (v as { name: string }).name;
  return key === KEYS.signal(name) ? undefined : `name: ${JSON.stringify(name)} is not the signal this key belongs to`;
};

const popPresence: Check = (v, key) => {
  const bad = fields(v, { pop: [isStr, 'a PoP name'], region: [isStr, 'a region name'], since: [isNum, 'a time'] });
  if (bad) return bad;
  const pop = (v as { pop: string }).pop;
  return key === KEYS.pop(pop) ? undefined : `pop: ${JSON.stringify(pop)} is not the PoP this key belongs to`;
};

/** The check for each kind of key (by prefix); keys of no kind here are not checked. */
const CHECKS: [string, Check][] = [
  [KEYS.agents, agentReport],
  [KEYS.vantages, vantageReport],
  [KEYS.signals, healthSignal],
  [KEYS.pops, popPresence],
  [KEYS.regionOverrides, regionOverride],
  [KEYS.regionWeights, weightOverride],
  [KEYS.serviceWeights, weightOverride],
  ['anycast/', anycastClaims],
  [KEYS.audit, auditRecord],
  [KEYS.idempotencyRecords, (v) => (isObj(v) ? undefined : 'not an object')],
];

/** The field a store puts in place of a value that is not JSON at all (etcd written by hand). */
export const UNREADABLE = '$unreadable';

/** What is wrong with a stored value under `key`, or undefined when it keeps the contract. */
export function entryProblem(key: string, value: unknown): string | undefined {
  if (isObj(value) && UNREADABLE in value) return 'not JSON';
  for (const [prefix, check] of CHECKS) if (key.startsWith(prefix)) return check(value, key);
  return undefined;
}
