// The audit trail: written before a change applies, whole or not at all, readable after a torn
// write, rotated by size, read from its tail.
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { AuditLog, Changes } from '../../src/control/index.js';
import { createLogger } from '../../src/observability/index.js';
import { FileStateStore, InMemoryRegionState } from '../../src/state/index.js';
import { KEYS } from '../../src/contract/index.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';

const entry = (n: number) => ({
  at: new Date(1e12 + n).toISOString(),
  who: 'w',
  action: 'a',
  target: 't',
  why: `#${n}`,
  change: null,
});

describe('audit log', () => {
  it('survives a torn last line: readers skip it, the next record starts on its own line', () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog(path);
    log.append(entry(1));
    appendFileSync(path, '{"at":"2026-11-23T00:00:00Z","who":"to'); // a crash mid-write
    expect(log.tail(10).map((e) => e.why)).toEqual(['#1']);
    log.append(entry(2));
    expect(log.tail(10).map((e) => e.why)).toEqual(['#2', '#1']);
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('rotates past its size limit and reads only the tail', () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog(path, 2000);
    for (let i = 0; i < 60; i++) log.append(entry(i));
    expect(readFileSync(`${path}.1`, 'utf8').length).toBeGreaterThan(2000);
    expect(log.tail(3).map((e) => e.why)).toEqual(['#59', '#58', '#57']);
  });

  it('a change whose audit record cannot be written is not applied', async () => {
    const dir = tempDir();
    const config = parseConfigText(
      `${readFileSync(EXAMPLE, 'utf8')}\ncontrol:\n  store: { file: ${join(dir, 'state.json')} }\n`,
    );
    const store = new FileStateStore(join(dir, 'state.json'));
    const auditPath = join(dir, 'audit.jsonl');
    const changes = new Changes(
      config,
      store,
      new AuditLog(auditPath),
      InMemoryRegionState.fromConfig(config),
      createLogger('t', 'silent'),
    );
    // The audit path turns into something that cannot be appended to (as a full disk would refuse).
    rmSync(auditPath, { force: true });
    mkdirSync(auditPath);
    await expect(changes.set('us-east', { status: 'draining', reason: 'unaudited?' }, 'w', 'drain')).rejects.toThrow();
    expect(await store.get(KEYS.regionOverride('us-east'))).toBeUndefined();
    await expect(changes.clear('us-east', 'x', 'w')).rejects.toThrow();
  });
});
