#!/usr/bin/env node
// Entry point for `npx gtm`: runs the compiled CLI (npm's `prepare` builds dist/).
import { main } from '../dist/src/cli/index.js';

// `gtm geo status | head -1`: a reader that stops reading is not an error.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(0); else throw err; });

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  // Exit at once: a server that failed half-way (a port it cannot bind) may hold timers or
  // sockets that would otherwise keep a dead process running.
  (err) => { console.error(`gtm: ${err instanceof Error ? err.message : String(err)}`); process.exit(1); },
);
