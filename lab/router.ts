// The lab's upstream router as the drills and `gtm lab status` read it: BIRD through its control
// socket, FRR through vtysh; both give routes per PoP session named p1, p2, ... (BIRD's names).
import { join } from 'node:path';
import type { BirdRoute } from '../src/bgp/index.js';
import { BirdClient } from './bird.js';
import { FrrClient } from './frr.js';
import { PLAN } from './address-plan.js';
import type { Lab } from './model.js';

export interface RouterClient {
  routes(prefix: string): Promise<BirdRoute[]>;
  close(): void;
}

export const frrDir = (lab: Pick<Lab, 'dir'>) => join(lab.dir, 'frr');

export async function connectRouter(lab: Lab): Promise<RouterClient> {
  if (lab.router === 'bird') return BirdClient.connect(lab.birdSocket);
  return new FrrClient(frrDir(lab), new Map(lab.pops.map((p) => [PLAN.pop(p.n), `p${p.n}`])));
}
