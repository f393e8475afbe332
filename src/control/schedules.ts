// Changes at set times (node-cron): follow-the-sun weights, maintenance windows that drain
// a region and let it come back when the window's override expires.
import cron from 'node-cron';
import type { Schedule } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import type { Changes } from './changes.js';

export function startSchedules(schedules: Schedule[], changes: Changes, log: Logger): { stop(): void } {
  const tasks = schedules.map((s) =>
    cron.schedule(
      s.cron,
      async () => {
        const who = `schedule:${s.name}`;
        const r =
          s.action.kind === 'clear'
            ? await changes.clear(s.region, s.reason, who)
            : await changes.set(
                s.region,
                {
                  status: s.action.status,
                  weight: s.action.weight,
                  reason: s.reason,
                  expiresInS: s.action.forS,
                  force: s.action.force,
                },
                who,
                'schedule',
              );
        if (!r.ok) log.error({ schedule: s.name, error: r.error }, 'scheduled change refused');
      },
      { name: s.name, timezone: s.timezone, noOverlap: true },
    ),
  );
  if (schedules.length) log.info({ schedules: schedules.map((s) => `${s.name} (${s.cron})`) }, 'schedules started');
  return { stop: () => tasks.forEach((t) => void t.stop()) };
}
