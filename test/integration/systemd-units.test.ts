// The systemd units (deploy/systemd, hardening round 3 item 12): each one is valid for
// systemd-analyze, runs a command the CLI has, restarts as the lab does, and becomes active only
// once its process answers (`gtm ready`, its ExecStartPost), checked here against real servers.
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESTART_POLICY } from '../../lab/model.js';
import { freePort, ROOT, run, tempDir, testConfig, watchChild } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const DIR = join(ROOT, 'deploy', 'systemd');
const units = readdirSync(DIR).filter((f) => f.endsWith('.service'));
const gtm = (args: string[], ms = 20_000) => run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], ms);

/** `Key=value` lines of a unit (the last one wins, as systemd reads them). */
function keys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hit = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (hit) m.set(hit[1] as string, hit[2] as string);
  }
  return m;
}

describe('systemd units', () => {
  it('one per role, each valid for systemd-analyze (templates as an instance)', async () => {
    expect(units.sort()).toEqual([
      'gtm-agent@.service',
      'gtm-control.service',
      'gtm-dns.service',
      'gtm-probe@.service',
    ]);
    const dir = tempDir();
    for (const u of units) {
      const file = join(dir, u.replace('@.', '@lab.'));
      copyFileSync(join(DIR, u), file);
      const r = await run('systemd-analyze', ['verify', '--man=no', file], 20_000);
      expect(`${r.stdout}${r.stderr}`.trim(), u).toBe('');
      expect(r.code, u).toBe(0);
    }
  });

  it('restart as the lab does, sandboxed, and start a command the CLI has', async () => {
    const usage = (await gtm(['help'])).stdout;
    for (const u of units) {
      const k = keys(readFileSync(join(DIR, u), 'utf8'));
      expect(k.get('Restart'), u).toBe('always');
      expect(Number(k.get('RestartSec')) * 1000, u).toBe(RESTART_POLICY.delayMs);
      expect(Number(k.get('StartLimitBurst')), u).toBe(RESTART_POLICY.startLimit.burst);
      expect(Number(k.get('StartLimitIntervalSec')) * 1000, u).toBe(RESTART_POLICY.startLimit.intervalMs);
      for (const s of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'DynamicUser'])
        expect(k.has(s), `${u} ${s}`).toBe(true);
      const command = /gtm\.js (\S+)/.exec(k.get('ExecStart') ?? '')?.[1];
      expect(usage, u).toMatch(new RegExp(`^  ${command} `, 'm'));
      const ready = /gtm\.js ready (\S+)/.exec(k.get('ExecStartPost') ?? '')?.[1];
      if (u !== 'gtm-probe@.service') expect(ready, u).toBe(command);
    }
    // DNS reloads its config; agents and the control plane re-read control.flap_damping.
    for (const u of ['gtm-dns.service', 'gtm-agent@.service', 'gtm-control.service'])
      expect(keys(readFileSync(join(DIR, u), 'utf8')).get('ExecReload'), u).toMatch(/kill -HUP \$MAINPID/);
  });
});

describe('gtm ready (the units readiness check)', () => {
  it('fails while nothing answers, and succeeds once gtm dns and gtm control serve', async () => {
    const dir = tempDir();
    const cfg = testConfig(dir);
    const port = await freePort();
    const apiPort = await freePort();
    const text = readFileSync(cfg, 'utf8')
      .replace(/^  listen: 127\.0\.0\.1:5353$/m, `  listen: 127.0.0.1:${port}`)
      .replace(/^  workers: auto.*$/m, '  workers: 1')
      .concat(`\ncontrol:\n  store: { file: ${join(dir, 'state.json')} }\n  api: { listen: 127.0.0.1:${apiPort} }\n`);
    writeFileSync(cfg, text);
    const notYet = await gtm(['ready', 'dns', '--config', cfg, '--timeout', '1']);
    expect(notYet.code).toBe(1);
    expect(notYet.stderr).toMatch(/not answering after 1 s/);
    expect((await gtm(['ready', 'control', '--config', cfg, '--timeout', '1'])).code).toBe(1);
    // Both as their units start them: the config says where they listen.
    const start = (role: string) =>
      watchChild(spawn(process.execPath, [join(ROOT, 'bin', 'gtm.js'), role, '--config', cfg], { stdio: 'pipe' }));
    const d = start('dns');
    const c = start('control');
    try {
      expect((await gtm(['ready', 'dns', '--config', cfg, '--timeout', '20'], 30_000)).code).toBe(0);
      expect((await gtm(['ready', 'control', '--config', cfg, '--timeout', '20'], 30_000)).code).toBe(0);
      await waitFor(() => c.log().includes('control API listening'), 'the log to agree');
    } finally {
      await c.stop();
      await d.stop();
    }
  }, 60_000);
});
