// A lab of a test's own: its namespace prefix and directory are set before the lab modules load
// (they read them once), so a lab an operator has running on this machine is never touched.
import { tempDir } from './dns.js';

/** Sets the prefix (`tag` and this process's PID) and a fresh directory, then loads the lab. */
export async function labOfOwn(tag: string, name: string) {
  process.env.GTM_LAB_PREFIX = `${tag}${process.pid % 10000}-`;
  process.env.GTM_LAB_DIR = tempDir(`gtm-lab-${name}-`);
  return { labMod: await import('../../lab/lab.js'), drills: await import('../../lab/drills.js') };
}

export type { Lab } from '../../lab/lab.js';
