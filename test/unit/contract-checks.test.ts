// The contract's entry checks on agent reports: optional parts are optional, wrong ones named.
import { describe, expect, it } from 'vitest';
import { entryProblem, KEYS } from '../../src/contract/index.js';

const report = (extra: object = {}) => ({
  pop: 'nyc',
  region: 'us-east',
  serving: true,
  sessionUp: true,
  vips: [{ prefix: '198.51.100.10/32', state: 'UP' }],
  at: 1,
  ...extra,
});

describe('agent report checks', () => {
  it('accepts a report with or without its peers (older agents send none)', () => {
    expect(entryProblem(KEYS.agent('nyc'), report())).toBeUndefined();
    const peers = [
      { address: '198.19.1.1', bgp: 'ESTABLISHED', bfd: 'Up' },
      { address: '2001:db8::1', bgp: 'IDLE' },
    ];
    expect(entryProblem(KEYS.agent('nyc'), report({ peers }))).toBeUndefined();
  });

  it('names what is wrong with a peer', () => {
    expect(entryProblem(KEYS.agent('nyc'), report({ peers: 'up' }))).toBe('peers: a list');
    expect(entryProblem(KEYS.agent('nyc'), report({ peers: [{ address: '198.19.1.1' }] }))).toBe(
      'peers: bgp: a BGP state',
    );
    expect(entryProblem(KEYS.agent('nyc'), report({ peers: [{ address: 'x', bgp: 'UP', bfd: 7 }] }))).toBe(
      'peers: bfd: a BFD state',
    );
  });
});
