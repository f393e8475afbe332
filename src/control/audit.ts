// Append-only audit log of every change: who, what, why, when. JSON lines, fsync'ed before
// the change is applied (see changes.ts), rotated by size, read from its tail only.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

import type { AuditEntry } from '../contract/index.js';

export type { AuditEntry };

/** Rotate to `<path>.1` past this size, so the log cannot fill the disk unnoticed by growth alone. */
const ROTATE_BYTES = 16 << 20;
/** Readers look at the last megabyte only: console viewers never read a huge log whole. */
const TAIL_BYTES = 1 << 20;

export class AuditLog {
  constructor(
    readonly path: string,
    private readonly rotateBytes = ROTATE_BYTES,
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Throws (and writes nothing more) when the record cannot be written whole and synced. */
  append(e: AuditEntry): void {
    if (existsSync(this.path) && statSync(this.path).size > this.rotateBytes) renameSync(this.path, `${this.path}.1`);
    const fd = openSync(this.path, 'a+');
    try {
      // A torn last line (a crash or full disk mid-write) must not swallow this record.
      const size = fstatSync(fd).size;
      const last = Buffer.alloc(1);
      const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
      const data = Buffer.from(`${torn ? '\n' : ''}${JSON.stringify(e)}\n`);
      for (let off = 0; off < data.length;) {
        const n = writeSync(fd, data, off, data.length - off);
        if (n <= 0) throw new Error(`audit log ${this.path}: short write`);
        off += n;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** The newest `limit` records, newest first; unreadable (torn) lines are skipped. */
  tail(limit: number): AuditEntry[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, 'r');
    let text: string;
    let partialFirst: boolean;
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      text = buf.toString('utf8');
      partialFirst = start > 0;
    } finally {
      closeSync(fd);
    }
    const lines = text.split('\n').slice(partialFirst ? 1 : 0);
    const out: AuditEntry[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      const line = lines[i] as string;
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as AuditEntry);
      } catch {
        /* a torn line: skipped */
      }
    }
    return out;
  }
}
