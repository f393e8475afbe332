// Config reloads of the DNS primary: what asks for one (SIGHUP, the file changing, a geo
// schedule, the API) and what one does (read, validate, compile once, roll out to the workers).
// An edit is applied once however many of those see it; a refused file changes nothing.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError, parseConfigText, readConfigText, type Config } from '../config/index.js';
import { GeoResolver } from '../geo/index.js';
import type { DnsMetrics, Logger } from '../observability/index.js';
import { emit } from '../contract/index.js';
import { loadZoneKeys } from '../dnssec/index.js';
import { prepareForWorkers } from './zone.js';
import type { Prepared } from './worker-pool.js';

export interface ReloadTarget {
  /** Applies a validated config everywhere (region state, feed, workers). */
  apply(config: Config, prepared: Prepared, reopenGeo: boolean): Promise<void>;
}

export class Reloader {
  /** The text last tried (applied or refused): one edit is reloaded once. */
  private lastText: string;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private geoTask?: { stop(): unknown };
  private readonly onHup = () => void this.reload('SIGHUP', true);

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly metrics: DnsMetrics,
    private readonly target: ReloadTarget,
  ) {
    this.lastText = readConfigText(path);
  }

  /** Reads, validates and compiles the file, then applies it; false when it was refused. */
  async reload(why: string, reopenGeo = false): Promise<boolean> {
    let next: Config;
    let prepared: Prepared;
    try {
      const text = readConfigText(this.path);
      if (text === this.lastText && why === 'file changed') return true;
      this.lastText = text;
      next = parseConfigText(text, this.path);
      GeoResolver.open(next.geo.database);
      // Keys are read again on every reload: a rollover step is a key file change and a SIGHUP.
      prepared = prepareForWorkers(next, loadZoneKeys(next));
    } catch (err) {
      this.metrics.reloads.inc({ result: 'refused' });
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      emit(
        this.log,
        'config.refused',
        { why, problems },
        'new configuration refused; still serving the previous one',
        'error',
      );
      return false;
    }
    await this.target.apply(next, prepared, reopenGeo);
    this.metrics.reloads.inc({ result: 'applied' });
    emit(this.log, 'config.reloaded', { why }, 'configuration reloaded');
    return true;
  }

  /** SIGHUP, the file changing (editors replace files by rename: the directory is watched), a geo schedule. */
  async listen(geoReloadCron?: string): Promise<void> {
    process.on('SIGHUP', this.onHup);
    this.watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== null && file !== basename(this.path)) return;
      clearTimeout(this.debounce);
      // reload() reads the file once and skips an edit it has already tried; a file missing for
      // a moment is a rename in progress, and the next event catches up.
      this.debounce = setTimeout(() => existsSync(this.path) && void this.reload('file changed'), 200);
    });
    // A geo database updated in place (e.g. weekly GeoLite2) is re-read on its schedule;
    // node-cron is loaded only when a schedule is configured.
    if (geoReloadCron)
      this.geoTask = (await import('node-cron')).default.schedule(
        geoReloadCron,
        () => void this.reload('scheduled geo database reload', true),
        { name: 'geo-reload' },
      );
  }

  close(): void {
    process.off('SIGHUP', this.onHup);
    this.watcher?.close();
    clearTimeout(this.debounce);
    void this.geoTask?.stop();
  }
}
