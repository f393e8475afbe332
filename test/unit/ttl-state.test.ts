// TTL follows the routing state: a steered answer holding a region that is draining, held in by
// the guard rail, or that changed state within the window gets the short TTL, and the normal one
// once the region is stable again; the answer memo never serves a stale TTL either way.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Authority } from '../../src/dns/index.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { decode, tempDir, testConfig } from '../helpers/dns.js';

const text = readFileSync(testConfig(tempDir()), 'utf8').replace(
  '  metrics: 127.0.0.1:0',
  '  metrics: 127.0.0.1:0\n  unstable_ttl: 5\n  unstable_window_s: 60',
);
const config = parseConfigText(text);
// New York by ECS: us-east is its nearest region.
const query = () =>
  buildQuery('www.example.test', TYPE.A, {
    id: 7,
    ecs: { address: Uint8Array.from([198, 18, 3, 0]), sourcePrefix: 24 },
  });

afterEach(() => vi.useRealTimers());

describe('TTL follows the routing state', () => {
  it('short after a flap, for the window; short while held; back to normal after', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const state = InMemoryRegionState.fromConfig(config);
    const authority = new Authority(config, GeoResolver.open(config.geo.database), state);
    const ttl = () => {
      const a = decode(authority.respond(query(), '127.0.0.1', false).response as Buffer).answers[0];
      return [a?.address, a?.ttl];
    };
    expect(ttl()).toEqual(['198.51.100.10', 30]);
    expect(ttl()).toEqual(['198.51.100.10', 30]); // from the memo
    state.set('us-east', { status: 'down', reason: 'test' });
    expect(ttl()).toEqual(['198.51.100.20', 30]); // eu-west has been stable
    vi.setSystemTime(1_010_000);
    state.set('us-east', { status: 'up', reason: 'back' });
    expect(ttl()).toEqual(['198.51.100.10', 5]); // us-east flapped 0 s ago
    vi.setSystemTime(1_050_000);
    expect(ttl()).toEqual(['198.51.100.10', 5]); // 40 s into the 60 s window
    vi.setSystemTime(1_070_001);
    expect(ttl()).toEqual(['198.51.100.10', 30]); // stable again: the memo does not keep the short one
    state.set('us-east', { held: true });
    expect(ttl()).toEqual(['198.51.100.10', 5]); // held in by the guard rail
    state.set('us-east', { held: false });
    expect(ttl()).toEqual(['198.51.100.10', 30]);
  });

  it('the first status a region is given is not a flap; unstable_window_s 0 turns it off', () => {
    const state = new InMemoryRegionState();
    state.set('us-east', { status: 'up' });
    expect(state.get('us-east')?.flappedAt).toBeUndefined();
    const off = parseConfigText(text.replace('unstable_window_s: 60', 'unstable_window_s: 0'));
    const s2 = InMemoryRegionState.fromConfig(off);
    const a = new Authority(off, GeoResolver.open(off.geo.database), s2);
    s2.set('us-east', { status: 'down' });
    s2.set('us-east', { status: 'up' });
    expect(decode(a.respond(query(), '127.0.0.1', false).response as Buffer).answers[0]?.ttl).toBe(30);
  });
});
