// DNS cookies without sockets: SipHash-2-4 against its published vectors, and when a server
// cookie holds (RFC 9018: our secret, this client, not older than an hour, not from the future).
import { describe, expect, it } from 'vitest';
import { cookieFor, serverCookie, sipHash24 } from '../../src/dns/cookies.js';
import { parseQuery, buildQuery } from '../../src/wire/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('SipHash-2-4', () => {
  it('gives the reference outputs (key 00..0f)', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    expect(hex(sipHash24(key, new Uint8Array(0)))).toBe('310e0edd47db6f72');
    expect(
      hex(
        sipHash24(
          key,
          Uint8Array.from({ length: 15 }, (_, i) => i),
        ),
      ),
    ).toBe('e545be4961ca29a1');
  });
});

describe('server cookies', () => {
  const secret = Buffer.from('e5e973e5a6b2a43f48e7dc849e37bfcf', 'hex');
  const client = Buffer.from('2464c4abcf10c957', 'hex');
  const now = 1_800_000_000;
  const issued = (t: number, address = '198.51.100.100') =>
    cookieFor(secret, { client }, address, t).option.subarray(8);

  it('echo the client cookie and carry version 1 and the time', () => {
    const v = cookieFor(secret, { client }, '198.51.100.100', now);
    expect(hex(v.option.subarray(0, 8))).toBe('2464c4abcf10c957');
    expect(hex(v.option.subarray(8, 16))).toBe(`01000000${now.toString(16)}`);
    expect(v.valid).toBe(false);
  });
  it('hold for the same client within the hour, and not for another address, secret, age or a future time', () => {
    const check = (server: Uint8Array, t: number, address = '198.51.100.100', key = secret) =>
      cookieFor(key, { client, server }, address, t).valid;
    const s = issued(now);
    expect(check(s, now)).toBe(true);
    expect(check(s, now + 3600)).toBe(true);
    expect(check(s, now + 3601)).toBe(false);
    expect(check(s, now - 301)).toBe(false);
    expect(check(s, now, '198.51.100.101')).toBe(false);
    expect(check(s, now, '198.51.100.100', Buffer.alloc(16))).toBe(false);
    expect(check(issued(now, '2001:db8::1'), now, '2001:db8::1')).toBe(true);
    expect(check(Uint8Array.from(s.subarray(0, 8)), now)).toBe(false);
  });
  it('are the same bytes whoever computes them (serverCookie is the whole recipe)', () => {
    expect(hex(issued(now))).toBe(hex(serverCookie(secret, client, Uint8Array.of(198, 51, 100, 100), now)));
  });
});

describe('the COOKIE option in a query', () => {
  const withOption = (data: string) => {
    const q = buildQuery('www.example.test', 1, { id: 1 });
    q.writeUInt16BE(1, 10);
    const len = data.length / 2;
    const opt = Buffer.from(
      `00002904d0000000000${(len + 4).toString(16).padStart(3, '0')}000a${len.toString(16).padStart(4, '0')}${data}`,
      'hex',
    );
    return parseQuery(Buffer.concat([q, opt]));
  };
  it('is read as a client cookie, with a server cookie of 8 to 32 bytes when there is one', () => {
    const alone = withOption('0011223344556677');
    expect(alone.kind === 'query' && hex(alone.query.edns?.cookie?.client ?? new Uint8Array())).toBe(
      '0011223344556677',
    );
    const both = withOption(`0011223344556677${'ab'.repeat(16)}`);
    expect(both.kind === 'query' && hex(both.query.edns?.cookie?.server ?? new Uint8Array())).toBe('ab'.repeat(16));
  });
  it('is FORMERR when too short, between 9 and 15 bytes, or longer than 40', () => {
    for (const n of [4, 9, 15, 41]) {
      const r = withOption('11'.repeat(n));
      expect(r.kind, `${n} bytes`).toBe('error');
    }
  });
});
