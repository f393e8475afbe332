// Who may read and write which keys of the shared store: the contract's keys, per role, as
// etcd's RBAC can enforce them (`gtm store rbac` applies this to etcd). Pure.
//
// Each PoP's agent and each vantage point is its own etcd user: an agent can write only its own
// report and audit records, a probe only its own vantage report, so neither can speak for
// another (a report's key is its identity: see checks.ts). Anycast claims are one shared record
// per VIP that every agent of it updates, so agents share that range.
import { KEYS } from './contract.js';

export type StorePermission = 'Read' | 'Write' | 'Readwrite';

/** A key, or every key under a prefix (relative to the store's prefix). */
export type StoreRange = { key: string } | { prefix: string };

export interface StoreRole {
  /** The etcd role, and the user that holds it (same name). */
  name: string;
  /** Which process runs as it. */
  for: string;
  grants: { permission: StorePermission; range: StoreRange }[];
}

export const storeUser = {
  control: 'gtm-control',
  dns: 'gtm-dns',
  agent: (pop: string) => `gtm-agent-${pop}`,
  probe: (point: string) => `gtm-probe-${point}`,
};

/** Every role a deployment needs: its PoPs' agents and its vantage points. */
export function storeRoles(pops: string[], points: string[]): StoreRole[] {
  const all = { prefix: '' };
  return [
    { name: storeUser.control, for: 'gtm control', grants: [{ permission: 'Readwrite', range: all }] },
    { name: storeUser.dns, for: 'gtm dns', grants: [{ permission: 'Read', range: all }] },
    ...pops.map((pop): StoreRole => ({
      name: storeUser.agent(pop),
      for: `gtm agent --pop ${pop}`,
      grants: [
        { permission: 'Readwrite', range: { key: KEYS.agent(pop) } },
        // That it has reported at all (its silence then reads as down, not unknown).
        { permission: 'Readwrite', range: { key: KEYS.pop(pop) } },
        { permission: 'Readwrite', range: { prefix: `${KEYS.audit}${pop}/` } },
        // An agent is also a vantage point, under its PoP's name.
        { permission: 'Readwrite', range: { key: KEYS.vantage(pop) } },
        // Other PoPs' reports (the BGP guard rail) and operators' drains (to follow them).
        { permission: 'Read', range: { prefix: KEYS.agents } },
        { permission: 'Read', range: { prefix: 'overrides/' } },
        { permission: 'Readwrite', range: { prefix: 'anycast/' } },
      ],
    })),
    ...points.map((point): StoreRole => ({
      name: storeUser.probe(point),
      for: `gtm probe --point ${point}`,
      grants: [{ permission: 'Readwrite', range: { key: KEYS.vantage(point) } }],
    })),
  ];
}
