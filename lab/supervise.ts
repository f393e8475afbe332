// The lab's restart policy, the one the systemd units ship (deploy/systemd: Restart=always,
// RestartSec=2, at most 5 starts in 30 s): runs a product process (agent, DNS, control plane,
// probe), and starts it again 2 s after it exits for any reason but our own stop. Each start
// records the child's PID under its name in the lab's pid file, so drills signal the process
// itself; the supervisor is recorded as NAME.supervisor. SIGTERM stops the child and the
// supervisor.
//   node supervise.js PIDS_FILE NAME -- CMD ARGS...
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { RESTART_POLICY } from './model.js';

const RESTART_DELAY_MS = RESTART_POLICY.delayMs;
const START_LIMIT = RESTART_POLICY.startLimit;

const [pidsFile, name, dashes, cmd, ...args] = process.argv.slice(2);
if (!pidsFile || !name || dashes !== '--' || !cmd) {
  process.stderr.write('usage: supervise.js PIDS_FILE NAME -- CMD ARGS...\n');
  process.exit(2);
}

let child: ChildProcess | undefined;
let stopping = false;
let timer: NodeJS.Timeout | undefined;
const starts: number[] = [];
const say = (msg: string) => process.stderr.write(`supervise ${name}: ${msg}\n`);

function start(): void {
  const now = Date.now();
  while (starts.length && now - (starts[0] as number) > START_LIMIT.intervalMs) starts.shift();
  if (starts.length >= START_LIMIT.burst) {
    say(`${starts.length} starts within ${START_LIMIT.intervalMs / 1000} s: giving up (start limit)`);
    process.exit(1);
  }
  starts.push(now);
  const c = spawn(cmd as string, args, { stdio: 'inherit' });
  child = c;
  appendFileSync(pidsFile as string, `${name} ${c.pid ?? -1}\n`);
  c.on('exit', (code, signal) => {
    if (stopping) process.exit(0);
    say(`exited (${signal ?? `code ${code}`}); starting again in ${RESTART_DELAY_MS} ms`);
    timer = setTimeout(start, RESTART_DELAY_MS);
  });
}

for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    stopping = true;
    clearTimeout(timer);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    else process.exit(0);
  });
start();
