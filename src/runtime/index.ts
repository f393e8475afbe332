// Where the installed package lives (for files shipped beside the code: geodata, gobgp, lab).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json, found upward from this module (src/ or dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root');
    dir = up;
  }
  return dir;
}

export { HotCache, type CacheStats } from './hot-cache.js';
export { LogTally } from './log-tally.js';
export { FNV_OFFSET, fnvStep, fnvString, mix32, subnetHash } from './hash.js';
export { unpooled } from './bytes.js';

let version: string | undefined;
/** The package's version (package.json), read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
