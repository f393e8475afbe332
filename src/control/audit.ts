// Append-only audit log of every change: who, what, why, when.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AuditEntry {
  at: string;
  who: string;
  action: string;
  target: string;
  why: string;
  change: unknown;
}

/** Append-only JSON lines, fsync'ed: who, what, why, when. */
export class AuditLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  append(e: AuditEntry): void {
    const fd = openSync(this.path, 'a');
    try {
      writeSync(fd, `${JSON.stringify(e)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  tail(limit: number): AuditEntry[] {
    if (!existsSync(this.path)) return [];
    const lines = readFileSync(this.path, 'utf8').trim().split('\n').filter(Boolean);
    return lines
      .slice(-limit)
      .map((l) => JSON.parse(l) as AuditEntry)
      .reverse();
  }
}
