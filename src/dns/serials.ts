// Automatic SOA serials (`soa.serial: auto`, and every catalog zone): a zone's serial changes
// when, and only when, what a secondary would transfer changes, and never goes backwards.
// The new serial is the Unix time, or the old serial + 1 when the clock is not ahead of it
// (RFC 1982 arithmetic). With `dns.serial_file` the serials and the content they stand for are
// kept on disk (written whole and synced before the zone is served), so a restart keeps them;
// several DNS nodes each follow the clock, so a secondary moving between them never sees a
// serial far behind. Without the file they are kept for the life of the process.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Config, Zone } from '../config/index.js';
import { exportZone } from './zone-export.js';
import { nextSerial, type SerialRecord } from './serial-rule.js';

export { nextSerial, serialAfter, type SerialRecord } from './serial-rule.js';

/** What a secondary of the zone would get (the `gtm zone export` rendition), its serial left out. */
export function contentDigest(config: Config, zone: Zone): string {
  const text = exportZone(config, { ...zone, soa: { ...zone.soa, serial: 0 } });
  return createHash('sha256').update(text).digest('hex');
}

export class SerialKeeper {
  private kept: Record<string, SerialRecord>;

  constructor(private readonly file?: string) {
    this.kept = file && existsSync(file) ? readKept(file) : {};
  }

  /**
   * Sets the serial of every zone that asks for an automatic one, in place, and keeps them
   * (`persist: false`: only says what they would be, as `gtm zone export` and `check-config` do).
   */
  assign(config: Config, opts: { persist?: boolean; nowS?: number } = {}): void {
    const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
    let changed = false;
    for (const zone of config.zones) {
      if (!zone.soa.auto) continue;
      const prev = this.kept[zone.name];
      const next = nextSerial(prev, contentDigest(config, zone), nowS);
      zone.soa.serial = next.serial;
      if (next !== prev && opts.persist !== false) {
        this.kept[zone.name] = next;
        changed = true;
      }
    }
    if (changed && this.file) writeKept(this.file, this.kept);
  }
}

function readKept(file: string): Record<string, SerialRecord> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // Starting over could hand out a serial behind the one secondaries hold: refuse.
    throw new Error(`dns.serial_file ${file} cannot be read (${(err as Error).message}): repair or remove it`);
  }
  const out: Record<string, SerialRecord> = {};
  for (const [zone, r] of Object.entries((parsed ?? {}) as Record<string, Partial<SerialRecord>>)) {
    if (!Number.isInteger(r?.serial) || (r.serial as number) < 0 || typeof r.digest !== 'string')
      throw new Error(`dns.serial_file ${file}: zone ${zone} has no valid serial and digest: repair or remove it`);
    out[zone] = { serial: r.serial as number, digest: r.digest };
  }
  return out;
}

/** Whole and synced, or not at all: a new file renamed over the old. */
function writeKept(file: string, kept: Record<string, SerialRecord>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(kept, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
