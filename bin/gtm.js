#!/usr/bin/env node
// Entry point for `npx gtm`: runs the compiled CLI (npm's `prepare` builds dist/).
import { main } from '../dist/src/cli/index.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`gtm: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
