// Schedules driven by an injected clock (vitest fake timers drive node-cron and Date).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText, ConfigError } from '../../src/config/index.js';
import { AuditLog, Changes, startSchedules } from '../../src/control/index.js';
import { FileStateStore, InMemoryRegionState } from '../../src/state/index.js';
import { KEYS, type RegionOverride, type RegionWeightOverride } from '../../src/contract/index.js';
import { createLogger } from '../../src/observability/index.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';

const base = readFileSync(EXAMPLE, 'utf8');

function setup(schedules: string) {
  const dir = tempDir();
  const config = parseConfigText(
    `${base}\ncontrol:\n  store: { file: ${join(dir, 'state.json')} }\n  schedules:\n${schedules}`,
  );
  const store = new FileStateStore(join(dir, 'state.json'));
  const audit = new AuditLog(join(dir, 'audit.jsonl'));
  const state = new InMemoryRegionState([...config.regions.keys()].map((r) => [r, { status: 'up' }]));
  const changes = new Changes(config, store, audit, state, createLogger('t', 'silent'));
  return { config, store, audit, changes };
}

afterEach(() => vi.useRealTimers());

describe('schedules', () => {
  it('applies follow-the-sun weights and a maintenance window at their times', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-23T06:58:30Z')); // a Monday
    const { config, store, audit, changes } =
      setup(`    - { name: eu-day, cron: "0 7 * * 1-5", timezone: UTC, region: eu-west, weight: 5, reason: EU business hours }
    - { name: apac-window, cron: "0 8 * * 1", timezone: UTC, region: ap-southeast, status: draining, for_s: 3600, reason: weekly maintenance }
`);
    const schedules = startSchedules(config.control?.schedules ?? [], changes, createLogger('t', 'silent'));
    expect(await store.get(KEYS.regionOverride('eu-west'))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2 * 60_000); // past 07:00
    const eu = await store.get<RegionWeightOverride>(KEYS.regionWeight('eu-west'));
    expect(eu?.value).toMatchObject({ weight: 5, who: 'schedule:eu-day', reason: 'EU business hours' });
    expect(await store.get(KEYS.regionOverride('eu-west'))).toBeUndefined();
    expect(await store.get(KEYS.regionOverride('ap-southeast'))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(60 * 60_000); // past 08:00
    const ap = await store.get<RegionOverride>(KEYS.regionOverride('ap-southeast'));
    expect(ap?.value).toMatchObject({ status: 'draining', who: 'schedule:apac-window' });
    // The window ends by itself: the override expires an hour later.
    expect(ap?.value.expiresAt).toBe(Date.parse('2026-11-23T09:00:00Z'));
    expect(audit.tail(10).map((a) => `${a.who} ${a.action} ${a.target} ${a.outcome}`)).toEqual([
      'schedule:apac-window schedule ap-southeast applied',
      'schedule:apac-window schedule ap-southeast pending',
      'schedule:eu-day schedule eu-west applied',
      'schedule:eu-day schedule eu-west pending',
    ]);
    schedules.stop();
  });

  it('refuses bad schedule declarations with their paths', () => {
    let problems: string[] = [];
    try {
      parseConfigText(
        `${base}\ncontrol:\n  store: { file: /tmp/x.json }\n  schedules:\n    - { name: a, cron: "every day", region: mars, reason: x }\n    - { name: b, cron: "0 7 * * *", region: eu-west, timezone: Mars/Olympus, reason: x, weight: 1 }\n`,
      );
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toContain('control.schedules[0].cron: not a cron expression (e.g. "0 7 * * 1-5")');
    expect(problems).toContain('control.schedules[0].region: unknown region "mars"');
    expect(problems).toContain('control.schedules[0]: needs status, weight, or clear: true');
    expect(problems).toContain('control.schedules[1].timezone: not an IANA time zone (e.g. Europe/Dublin)');
  });
});
