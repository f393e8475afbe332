// IXFR from kept history, without sockets: what changed between versions, how far back the
// history reaches, and reading the serial an IXFR request carries.
import { describe, expect, it } from 'vitest';
import { HISTORY_STEPS, ixfrRecords, remember, requestedSerial, zoneStep, type ZoneStep } from '../../src/dns/ixfr.js';
import type { TransferRR } from '../../src/dns/transfer.js';
import { buildQuery, encodeName, parseQuery, TYPE } from '../../src/wire/index.js';

const soa = (serial: number): TransferRR => {
  const rdata = Buffer.concat([encodeName('ns1.z.test'), encodeName('h.z.test'), Buffer.alloc(20)]);
  rdata.writeUInt32BE(serial, rdata.length - 20);
  return { name: 'z.test', type: TYPE.SOA, ttl: 60, rdata };
};
const a = (name: string, last: number): TransferRR => ({
  name,
  type: TYPE.A,
  ttl: 60,
  rdata: Uint8Array.of(192, 0, 2, last),
});
const version = (serial: number, rs: TransferRR[]) => [soa(serial), ...rs, soa(serial)];

describe('IXFR history', () => {
  it('a step holds the records that went and came (a duplicate counts once per copy)', () => {
    const s = zoneStep(version(1, [a('x', 1), a('y', 2), a('y', 2)]), version(2, [a('x', 1), a('y', 2), a('z', 3)]));
    expect(s.deleted).toEqual([a('y', 2)]);
    expect(s.added).toEqual([a('z', 3)]);
  });
  it('answers from any kept serial with every step since, the SOA alone when current, nothing past the history', () => {
    const h: ZoneStep[] = [
      zoneStep(version(1, [a('x', 1)]), version(2, [a('x', 2)])),
      zoneStep(version(2, [a('x', 2)]), version(3, [a('x', 2), a('y', 3)])),
    ];
    expect(ixfrRecords(soa(3), h, 3)).toEqual([soa(3)]);
    expect(ixfrRecords(soa(3), h, 2)).toEqual([soa(3), soa(2), soa(3), a('y', 3), soa(3)]);
    expect(ixfrRecords(soa(3), h, 1)).toEqual([
      soa(3),
      soa(1),
      a('x', 1),
      soa(2),
      a('x', 2),
      soa(2),
      soa(3),
      a('y', 3),
      soa(3),
    ]);
    expect(ixfrRecords(soa(3), h, 0)).toBeUndefined();
    expect(ixfrRecords(soa(4), h, 2)).toBeUndefined(); // the history does not reach the current version
  });
  it('keeps at most HISTORY_STEPS steps, the oldest dropped first', () => {
    let h: ZoneStep[] = [];
    for (let i = 1; i <= HISTORY_STEPS + 5; i++) h = remember(h, zoneStep(version(i, []), version(i + 1, [a('n', i)])));
    expect(h).toHaveLength(HISTORY_STEPS);
    expect(ixfrRecords(soa(HISTORY_STEPS + 6), h, 1)).toBeUndefined();
    expect(ixfrRecords(soa(HISTORY_STEPS + 6), h, 6)).toBeDefined();
  });
  it("reads the serial of an IXFR request's authority SOA, and none from a request without one", () => {
    const q = buildQuery('z.test', TYPE.IXFR, { id: 1 });
    q.writeUInt16BE(1, 8); // NSCOUNT
    const rr = Buffer.concat([Buffer.from([0xc0, 12, 0, TYPE.SOA, 0, 1, 0, 0, 0, 60, 0, 0]), soa(77).rdata]);
    rr.writeUInt16BE(soa(77).rdata.length, 10);
    const msg = Buffer.concat([q, rr]);
    const parsed = parseQuery(msg);
    expect(parsed.kind).toBe('query');
    if (parsed.kind === 'query') expect(requestedSerial(msg, parsed.query)).toBe(77);
    const bare = buildQuery('z.test', TYPE.IXFR, { id: 1 });
    const p2 = parseQuery(bare);
    if (p2.kind === 'query') expect(requestedSerial(bare, p2.query)).toBeUndefined();
    // Cut short inside the SOA: no serial, never a read past the end.
    if (parsed.kind === 'query')
      for (const cut of [msg.length - 18, msg.length - 30, parsed.query.questionEnd + 5])
        expect(requestedSerial(msg.subarray(0, cut), parsed.query)).toBeUndefined();
  });
});
