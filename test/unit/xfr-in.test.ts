// Zone transfers in, without sockets: our own transfer-out's messages (several per zone, names
// compressed) read back by the secondary's reader into the same zone; IXFR changes applied; a
// stream that is cut short, out of order or for another zone refused; TSIG-signed answers
// checked message by message; NOTIFYs accepted only from a primary, signed when required.
// (Against an independent primary, Knot: test/integration/dns-secondary.test.ts.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, zoneContentOf, type TsigKey } from '../../src/config/index.js';
import { EXAMPLE } from '../helpers/dns.js';
import { compileZones, type CompiledZone } from '../../src/dns/zone.js';
import { axfrMessages, transferRecords, type TransferRR } from '../../src/dns/transfer.js';
import { ixfrRecords, zoneStep } from '../../src/dns/ixfr.js';
import { parseQuery, readResponse, buildQuery, ResponseWriter, type Query } from '../../src/wire/index.js';
import {
  TransferReader,
  applyChanges,
  keptFromMasterFile,
  keptOf,
  masterFileOf,
  soaSerial,
  transferRequest,
  type KeptZone,
} from '../../src/dns/xfr-in.js';
import { ResponseVerifier, macOf, signRequest, signResponse, findTsig } from '../../src/dns/tsig.js';
import { answerNotify } from '../../src/dns/notify-in.js';

const RECORDS = `      - { name: txt, type: TXT, value: ["with \\"quotes\\" and \\\\ backslash", "caf\\u00e9"] }
      - { name: "@", type: CAA, value: 0 issue "ca.example" }
      - { name: _sip._tcp, type: SRV, value: 10 20 5060 sip }
      - { name: sip, type: AAAA, value: "2001:db8:0:0:1::5" }
      - { name: "*.wild", type: A, value: 192.0.2.9 }
      - { name: sub, type: NS, value: ns.sub }
      - { name: ns.sub, type: A, value: 192.0.2.77 }
      - { name: sub, type: DS, value: 12345 13 2 ${'ab'.repeat(32)} }
      - { name: _svc, type: HTTPS, value: "\\\\# 10 0001 00 0001 0003 026832" }
      - { name: 10.2.0.192.in-addr, type: PTR, value: static }
`;

function zoneOf(serial: number, extra = ''): CompiledZone {
  const text = readFileSync(EXAMPLE, 'utf8')
    .replace('    records:\n', `    records:\n${RECORDS}${extra}`)
    .replace(/serial: \d+/, `serial: ${serial}`);
  return compileZones(parseConfigText(text)).find((z) => z.zone.name === 'example.test') as CompiledZone;
}

const queryOf = (msg: Buffer): Query => {
  const p = parseQuery(msg);
  if (p.kind !== 'query') throw new Error('not a query');
  return p.query;
};

/** Our primary's answer to `request`, in messages of at most `max` bytes. */
function answerTo(request: Buffer, records: TransferRR[], max = 512): Buffer[] {
  return axfrMessages(request, queryOf(request), records, max);
}

function read(zone: string, messages: Buffer[], from?: number): TransferReader {
  const reader = new TransferReader(zone, from);
  messages.forEach((m, i) => expect(reader.add(readResponse(m))).toBe(i === messages.length - 1));
  return reader;
}

/** The zone's records as master-file lines, sorted (what a secondary must end up serving). */
const linesOf = (kept: KeptZone) => masterFileOf('example.test', kept, 'test').split('\n').slice(1).sort();

describe('AXFR in', () => {
  it('reads a zone sent in many messages, with compressed names, into the same zone', () => {
    const zone = zoneOf(7);
    const request = transferRequest('example.test', 0x1234);
    const messages = answerTo(request, transferRecords(zone));
    expect(messages.length).toBeGreaterThan(2);
    const reader = read('example.test', messages);
    expect(reader.result?.kind).toBe('full');
    const kept = keptOf(reader.result as never);
    expect(soaSerial(kept.soa)).toBe(7);
    // Served again from the kept master file: the same records the primary holds.
    const text = masterFileOf('example.test', kept, '192.0.2.1:53');
    const served = zoneContentOf(text, 'kept.zone', 'example.test');
    if (!('content' in served)) throw new Error(served.problems.join('\n'));
    const original = zone.zone;
    expect(served.content.soa).toEqual(original.soa);
    expect(served.content.ns.sort()).toEqual(['ns1.example.test', 'ns2.example.test']);
    const txt = served.content.records.find((r) => r.name === 'txt.example.test');
    expect(txt).toMatchObject({ type: 'TXT', strings: ['with "quotes" and \\ backslash', 'café'] });
    const https = served.content.records.find((r) => r.name === '_svc.example.test');
    expect(https).toMatchObject({ type: 'GENERIC', code: 65, data: '00010000010003026832' });
    expect(served.content.records.find((r) => r.type === 'DS')).toMatchObject({ keyTag: 12345, digestType: 2 });
    // Read back from the file as written: the same kept zone.
    expect(linesOf(keptFromMasterFile(text, 'example.test'))).toEqual(linesOf(kept));
  });

  it('refuses a stream for another zone, an error rcode, or one that does not start with the SOA', () => {
    const zone = zoneOf(7);
    const messages = answerTo(transferRequest('example.test', 1), transferRecords(zone));
    expect(() => new TransferReader('other.test').add(readResponse(messages[0] as Buffer))).toThrow(/not other\.test/);
    const refused = Buffer.from(messages[0] as Buffer);
    refused.writeUInt16BE((refused.readUInt16BE(2) & ~0xf) | 5, 2);
    expect(() => new TransferReader('example.test').add(readResponse(refused))).toThrow(/rcode 5/);
    const noSoa = answerTo(transferRequest('example.test', 1), transferRecords(zone).slice(1));
    expect(() => new TransferReader('example.test').add(readResponse(noSoa[0] as Buffer))).toThrow(/first record/);
    // Cut short: never complete.
    const reader = new TransferReader('example.test');
    for (const m of messages.slice(0, -1)) expect(reader.add(readResponse(m))).toBe(false);
    expect(reader.result).toBeUndefined();
  });

  it('refuses malformed records: a forward pointer, RDATA past its end, a name loop', () => {
    const q = buildQuery('example.test', 6, { id: 1 });
    const header = Buffer.from(q);
    header.writeUInt16BE(0x8400, 2);
    header.writeUInt16BE(1, 6);
    const withRecord = (rr: number[]) => Buffer.concat([header, Buffer.from(rr)]);
    // Owner: a pointer to itself (offset of the record).
    const self = header.length;
    expect(() =>
      readResponse(withRecord([0xc0 | (self >> 8), self & 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4])),
    ).toThrow(/backwards/);
    expect(() => readResponse(withRecord([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2, 3, 4]))).toThrow(
      /past the end/,
    );
    expect(() => readResponse(withRecord([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]))).toThrow(/A RDATA of 3/);
    expect(() => readResponse(withRecord([0xc0, 12, 0, 1, 0, 3, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]))).toThrow(/class 3/);
    // DNSSEC records are not kept (this server signs what it serves): counted, not read.
    const rrsig = readResponse(withRecord([0xc0, 12, 0, 46, 0, 1, 0, 0, 0, 1, 0, 2, 1, 2]));
    expect(rrsig.answers).toEqual([]);
    expect(rrsig.skipped.get(46)).toBe(1);
  });
});

describe('IXFR in', () => {
  const v1 = zoneOf(1);
  const v2 = zoneOf(2, '      - { name: added, type: A, value: 192.0.2.200 }\n');
  const v3 = zoneOf(3, '      - { name: added, type: A, value: 192.0.2.201 }\n');
  const kept1 = keptOf(
    read('example.test', answerTo(transferRequest('example.test', 1), transferRecords(v1))).result as never,
  );
  const steps = [
    zoneStep(transferRecords(v1), transferRecords(v2)),
    zoneStep(transferRecords(v2), transferRecords(v3)),
  ];
  const full3 = keptOf(
    read('example.test', answerTo(transferRequest('example.test', 1), transferRecords(v3))).result as never,
  );

  it('applies two changes from our serial to the same zone an AXFR gives', () => {
    const request = transferRequest('example.test', 9, kept1.soa);
    expect(parseQuery(request).kind).toBe('query');
    const records = ixfrRecords(transferRecords(v3)[0] as TransferRR, steps, 1) as TransferRR[];
    const reader = read('example.test', answerTo(request, records, 200), 1);
    expect(reader.result?.kind).toBe('incremental');
    const kept3 = applyChanges(kept1, reader.result as never);
    expect(soaSerial(kept3.soa)).toBe(3);
    expect(linesOf(kept3)).toEqual(linesOf(full3));
  });

  it('a lone SOA at our serial is "current"; the AXFR form of an IXFR is a full zone', () => {
    const current = read(
      'example.test',
      answerTo(transferRequest('example.test', 2, kept1.soa), [transferRecords(v1)[0] as TransferRR]),
      1,
    );
    expect(current.result).toEqual({ kind: 'current', serial: 1 });
    const full = read('example.test', answerTo(transferRequest('example.test', 2, kept1.soa), transferRecords(v3)), 1);
    expect(full.result?.kind).toBe('full');
  });

  it('refuses changes that do not start at our serial or delete what we lack (the caller asks AXFR)', () => {
    const from2 = ixfrRecords(transferRecords(v3)[0] as TransferRR, steps, 2) as TransferRR[];
    const reader = read('example.test', answerTo(transferRequest('example.test', 3), from2), 1);
    expect(() => applyChanges(kept1, reader.result as never)).toThrow(/from serial 2; we are at 1/);
    const lacking: KeptZone = {
      soa: kept1.soa,
      records: new Map([...kept1.records].filter(([k]) => !k.startsWith('static.'))),
    };
    const bad = zoneStep(transferRecords(v1), transferRecords(v2));
    bad.deleted.push(transferRecords(v1).find((r) => r.name === 'static.example.test') as TransferRR);
    const r2 = read(
      'example.test',
      answerTo(
        transferRequest('example.test', 4),
        ixfrRecords(transferRecords(v2)[0] as TransferRR, [bad], 1) as TransferRR[],
      ),
      1,
    );
    expect(() => applyChanges(lacking, r2.result as never)).toThrow(
      /deletes static\.example\.test\..*which we do not have/,
    );
  });
});

describe('TSIG on answers we receive', () => {
  const key: TsigKey = { name: 'k', algorithm: 'hmac-sha256', secret: Buffer.from('0123456789abcdef0123456789abcdef') };
  const now = 1_800_000_000;
  const request = signRequest(transferRequest('example.test', 5), key, now);
  const tsig = findTsig(request);
  if (!tsig) throw new Error('unsigned');
  const messages = answerTo(transferRequest('example.test', 5), transferRecords(zoneOf(1)));

  it('checks each message of a signed answer, chained to the one before', () => {
    const signed = signResponse(messages, key, tsig, now);
    const v = new ResponseVerifier(key, macOf(request));
    for (const m of signed) v.check(m, now + 10);
    expect(() => v.finish()).not.toThrow();
  });

  it('accepts unsigned messages between signed ones, but not an unsigned last one', () => {
    const signed = signResponse(messages, key, tsig, now);
    // Signing only the first and last: the last's MAC then covers the ones between (§5.3.1).
    const v = new ResponseVerifier(key, macOf(request));
    v.check(signed[0] as Buffer, now);
    expect(() => v.check(messages[1] as Buffer, now)).not.toThrow();
    expect(() => v.finish()).toThrow(/last message/);
  });

  it('refuses a wrong key, a changed byte, an unsigned first message and a stale time', () => {
    const signed = signResponse(messages, key, tsig, now);
    const other = { ...key, secret: Buffer.from('another secret of thirty-two b!!') };
    expect(() => new ResponseVerifier(other, macOf(request)).check(signed[0] as Buffer, now)).toThrow(
      /MAC does not verify/,
    );
    const changed = Buffer.from(signed[0] as Buffer);
    changed[20] = (changed[20] as number) ^ 1;
    expect(() => new ResponseVerifier(key, macOf(request)).check(changed, now)).toThrow();
    expect(() => new ResponseVerifier(key, macOf(request)).check(messages[0] as Buffer, now)).toThrow(/not signed/);
    expect(() => new ResponseVerifier(key, macOf(request)).check(signed[0] as Buffer, now + 3600)).toThrow(
      /from our time/,
    );
  });
});

describe('NOTIFY received', () => {
  const writer = new ResponseWriter();
  const secondary = zoneOf(1);
  secondary.zone.secondary = { primaries: [{ host: '192.0.2.1', port: 53 }] };
  const notify = (() => {
    const m = buildQuery('example.test', 6, { id: 77 });
    m.writeUInt16BE(4 << 11, 2);
    return m;
  })();
  const parsed = parseQuery(notify);
  if (parsed.kind !== 'notify') throw new Error(`parsed as ${parsed.kind}`);

  it('is accepted from a primary of a zone we are a secondary of, with AA and the question echoed', () => {
    const a = answerNotify(notify, parsed, [secondary], [], '::ffff:192.0.2.1', 0, writer);
    expect(a.accepted).toBe('example.test');
    expect(a.response.readUInt16BE(0)).toBe(77);
    expect(a.response.readUInt16BE(2)).toBe(0x8000 | (4 << 11) | 0x0400);
    expect(a.response.subarray(12)).toEqual(notify.subarray(12));
  });

  it('is refused from anyone else, for a zone we are primary of, and unsigned when a key is required', () => {
    const stranger = answerNotify(notify, parsed, [secondary], [], '192.0.2.2', 0, writer);
    expect([stranger.rcode, stranger.accepted, stranger.outcome]).toEqual([
      5,
      undefined,
      '192.0.2.2 is not a primary of the zone',
    ]);
    expect(answerNotify(notify, parsed, [zoneOf(1)], [], '192.0.2.1', 0, writer).outcome).toMatch(
      /not a zone this server is a secondary of/,
    );
    const keyed = {
      ...secondary,
      zone: { ...secondary.zone, secondary: { primaries: [{ host: '192.0.2.1', port: 53 }], tsig: 'k' } },
    };
    expect(answerNotify(notify, parsed, [keyed], [], '192.0.2.1', 0, writer)).toMatchObject({ rcode: 5 });
  });
});
