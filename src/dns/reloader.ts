// Config reloads of the DNS primary: what asks for one (SIGHUP, the file changing, a geo
// schedule, the API) and what one does (read, validate, compile once, roll out to the workers).
// An edit is applied once however many of those see it; a refused file changes nothing.
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError, parseConfigText, readConfigText, type Config } from '../config/index.js';
import { GeoResolver } from '../geo/index.js';
import type { DnsPrimaryMetrics, Logger } from '../observability/index.js';
import { emit } from '../contract/index.js';
import type { Prepared } from './worker-pool.js';

export interface ReloadTarget {
  /** The config running now (a SIGHUP for new key files reuses it). */
  current(): Config;
  /** Compiles a new config for the workers (and sets its automatic serials); throws when it cannot. */
  prepare(config: Config): Prepared;
  /** Applies a validated config everywhere (region state, feed, workers). */
  apply(config: Config, prepared: Prepared, reopenGeo: boolean): Promise<void>;
}

/** What a reload depends on besides the text, as sizes and times: the key files and the geo data. */
function filesPrint(paths: string[]): string {
  return paths
    .map((f) => {
      try {
        // ctime too: a chmod (a key file made readable by others) must be seen and refused.
        const st = statSync(f);
        return `${f}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`;
      } catch {
        return `${f}:missing`;
      }
    })
    .join('|');
}

/** Every key file of the config's signed zones. */
/** The zone files a config was read from, with what they include. */
const zoneFilesOf = (config: Config): string[] => config.zones.flatMap((z) => z.files ?? []);

function keyFiles(config: Config): string[] {
  return config.zones.flatMap((z) => {
    const dir = z.dnssec?.keyDir;
    if (!dir) return [];
    try {
      return readdirSync(dir).map((f) => join(dir, f));
    } catch {
      return [dir];
    }
  });
}

/** The geo data a config reads: its setting and its files' sizes and times. */
const geoPrint = (config: Config) =>
  `${config.geo.database ?? 'default'}|${config.geo.asnDatabase ?? ''}|${filesPrint(GeoResolver.filesOf(config.geo.database, config.geo.asnDatabase))}`;

export class Reloader {
  /** The inputs last tried (applied or refused): one change is reloaded once, however it was asked for. */
  private lastText: string;
  private lastKeys: string;
  private lastGeo: string;
  /** Whether the last try was applied (a repeat of a refused file is still refused). */
  private lastApplied = true;
  private lastZoneFiles: string;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private geoTask?: { stop(): unknown };
  private readonly onHup = () => void this.reload('SIGHUP');

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly metrics: DnsPrimaryMetrics,
    private readonly target: ReloadTarget,
    /** The config running now, and the text it was read from. */
    running: Config,
    runningText: string,
  ) {
    this.lastText = runningText;
    this.lastZoneFiles = filesPrint(zoneFilesOf(running));
    this.lastKeys = filesPrint(keyFiles(running));
    this.lastGeo = geoPrint(running);
  }

  /**
   * Reads, validates and compiles the file, then applies it; false when it was refused. Nothing
   * is done when neither the file, nor the signed zones' key files (a rollover step), nor the geo
   * data changed since the last try: an edit seen by the file watcher and then by a SIGHUP is
   * reloaded once, and the geo data is read again only when it changed.
   */
  reload(why: string): Promise<boolean> {
    // One at a time, in the order asked: a reload sees what the one before it applied.
    const run = this.queue.then(() => this.reloadNow(why));
    this.queue = run.catch(() => false);
    return run;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async reloadNow(why: string): Promise<boolean> {
    let next: Config;
    let prepared: Prepared;
    let reopenGeo = false;
    try {
      const text = readConfigText(this.path);
      // A zone file (or one it includes) edited counts as an edit of the config.
      const zoneFiles = filesPrint(zoneFilesOf(this.target.current()));
      const edited = text !== this.lastText || zoneFiles !== this.lastZoneFiles;
      this.lastText = text; // tried once, applied or refused
      this.lastZoneFiles = zoneFiles;
      next = edited ? parseConfigText(text, this.path) : this.target.current();
      const keys = filesPrint(keyFiles(next));
      const geo = geoPrint(next);
      if (!edited && keys === this.lastKeys && geo === this.lastGeo) {
        emit(this.log, 'config.unchanged', { why }, 'reload asked for; nothing it reads has changed');
        return this.lastApplied;
      }
      this.lastKeys = keys;
      if (geo !== this.lastGeo) {
        this.lastGeo = geo;
        GeoResolver.open(next.geo.database, next.geo.asnDatabase); // refused here if the new data cannot be read
        reopenGeo = true;
      }
      prepared = this.target.prepare(next);
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
      this.lastApplied = false;
      return false;
    }
    this.lastApplied = true;
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
        () => void this.reload('scheduled geo database reload'),
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
