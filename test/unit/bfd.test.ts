import { describe, expect, it } from 'vitest';
import { PeerLiveness, parseBfdSessions } from '../../src/bgp/index.js';

const R = '10.20.1.1';
const HOLD = 9000;

describe('PeerLiveness (BGP session state combined with BFD)', () => {
  it('without BFD the BGP state decides', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    expect(l.usable(R, HOLD, 0)).toBe(true);
    l.setBgp(R, 'ACTIVE');
    expect(l.usable(R, HOLD, 0)).toBe(false);
  });

  it('BFD down makes an ESTABLISHED session unusable at once', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    expect(l.setBfd(R, 'Up', 0)).toBe(true);
    expect(l.setBfd(R, 'Up', 10)).toBe(false);
    expect(l.usable(R, HOLD, 10)).toBe(true);
    l.setBfd(R, 'Down', 100);
    expect(l.usable(R, HOLD, 100)).toBe(false);
  });

  it('a router that stops running BFD (Down, AdminDown or gone) while BGP stays up: BFD stops counting after 1.5 hold times', () => {
    for (const off of ['Down', 'AdminDown']) {
      const l = new PeerLiveness();
      l.setBgp(R, 'ESTABLISHED', 0);
      l.setBfd(R, 'Up', 0);
      l.setBfd(R, off, 1000);
      expect(l.usable(R, HOLD, 1000 + HOLD)).toBe(false); // could still be a dead link
      expect(l.usable(R, HOLD, 1000 + 1.5 * HOLD)).toBe(true); // BGP outlived it: BFD is off
      expect(l.bfdAbandoned(R, HOLD, 1000 + 1.5 * HOLD)).toBe(true);
      // BFD comes back: it counts again.
      l.setBfd(R, 'Up', 30_000);
      l.setBfd(R, 'Down', 31_000);
      l.setBgp(R, 'ACTIVE', 31_200);
      expect(l.usable(R, HOLD, 31_300)).toBe(false);
    }
  });

  it('a session re-established without BFD counts once it has been up 1.5 hold times; a blackhole never does', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED', 0);
    l.setBfd(R, 'Up', 0);
    l.setBfd(R, 'Down', 100);
    l.setBgp(R, 'ACTIVE', 9100); // the hold timer ended the session: a dead link
    expect(l.usable(R, HOLD, 20_000)).toBe(false);
    l.setBgp(R, 'ESTABLISHED', 20_000); // the router came back, without BFD
    expect(l.usable(R, HOLD, 25_000)).toBe(false);
    expect(l.usable(R, HOLD, 20_000 + 1.5 * HOLD)).toBe(true);
  });

  it('after BFD returns, the stale session counts only once BGP re-establishes', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    l.setBfd(R, 'Up', 0);
    l.setBfd(R, 'Down', 100);
    l.setBfd(R, 'Up', 2000);
    // gobgpd still reports the old session: not trusted.
    expect(l.usable(R, HOLD, 2500)).toBe(false);
    l.setBgp(R, 'ACTIVE');
    l.setBgp(R, 'ESTABLISHED');
    expect(l.usable(R, HOLD, 2600)).toBe(true);
  });

  it('or once BFD has stayed Up for a whole hold time (the router kept the session)', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    l.setBfd(R, 'Up', 0);
    l.setBfd(R, 'Down', 100);
    l.setBfd(R, 'Init', 500);
    l.setBfd(R, 'Up', 1000);
    expect(l.usable(R, HOLD, 1000 + HOLD - 1)).toBe(false);
    expect(l.usable(R, HOLD, 1000 + HOLD)).toBe(true);
  });

  it('a session established after the BFD failure is fresh (gobgpd restarted meanwhile)', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    l.setBfd(R, 'Up', 0);
    l.setBgp(R, 'UNKNOWN'); // gobgpd died; the router drops the session and its BFD
    l.setBfd(R, 'Down', 250);
    l.setBfd(R, 'Up', 800);
    l.setBgp(R, 'ESTABLISHED');
    expect(l.usable(R, HOLD, 1600)).toBe(true);
  });

  it('a BFD session that never came up is ignored (router without BFD)', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    l.setBfd(R, 'Down', 0);
    expect(l.usable(R, HOLD, 0)).toBe(true);
    l.setBfd(R, 'Init', 10);
    expect(l.usable(R, HOLD, 10)).toBe(true);
  });

  it('losing the BFD helper is no evidence either way', () => {
    const l = new PeerLiveness();
    l.setBgp(R, 'ESTABLISHED');
    l.setBfd(R, 'Up', 0);
    l.setBfd(R, undefined, 50);
    expect(l.usable(R, HOLD, 50)).toBe(true);
    expect(l.bfdStates()).toEqual({});
  });
});

describe('parseBfdSessions', () => {
  it('reads the session table of `show bfd sessions` from the control socket', () => {
    const lines = [
      '1020-bfd1:',
      ' IP address                Interface  State      Since         Interval  Timeout',
      ' 10.20.1.1                 p1-r       Up         20:59:30.560    0.100    0.300',
      ' 2001:db8::1               p1-r       Down       20:59:30.560    1.000    0.000',
      '0000 ',
    ];
    expect(parseBfdSessions(lines)).toEqual({ '10.20.1.1': 'Up', '2001:db8::1': 'Down' });
    expect(parseBfdSessions(['0000 '])).toEqual({});
  });
});
