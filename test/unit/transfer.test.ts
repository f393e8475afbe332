// AXFR messages without sockets: the order (SOA first and last), the size limit per message, the
// question only in the first, and who may ask.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { compileZones } from '../../src/dns/index.js';
import { axfrMessages, transferRecords } from '../../src/dns/transfer.js';
import { httpsRendition, secondaryAddresses } from '../../src/dns/zone-export.js';
import { notifyMessage } from '../../src/dns/notify.js';
import { inPrefixes, parseCidr } from '../../src/net/index.js';
import { buildQuery, parseQuery, TYPE } from '../../src/wire/index.js';
import { decode, EXAMPLE } from '../helpers/dns.js';

const many = Array.from(
  { length: 3000 },
  (_, i) => `      - { name: host${i}, type: A, value: 192.0.2.${i % 250} }`,
).join('\n');
const config = parseConfigText(readFileSync(EXAMPLE, 'utf8').replace('    records:\n', `    records:\n${many}\n`));
const zone = compileZones(config)[0];

describe('AXFR', () => {
  it('lists SOA first and last, every record once, the steered name as every pool address', () => {
    const rrs = transferRecords(zone as NonNullable<typeof zone>);
    expect(rrs[0]?.type).toBe(TYPE.SOA);
    expect(rrs.at(-1)).toBe(rrs[0]);
    expect(rrs.filter((r) => r.type === TYPE.SOA)).toHaveLength(2);
    expect(rrs.filter((r) => r.name.startsWith('host'))).toHaveLength(3000);
    const www = rrs.filter((r) => r.name === 'www.example.test');
    expect(www.map((r) => [r.type, [...r.rdata].join('.')])).toEqual([
      [TYPE.A, '198.51.100.10'],
      [TYPE.A, '198.51.100.20'],
      [TYPE.A, '198.51.100.30'],
      ...[0x10, 0x20, 0x30].map((n) => [
        TYPE.AAAA,
        [0x20, 0x01, 0x0d, 0xb8, 0, n, ...Array(8).fill(0), 0, n].join('.'),
      ]),
    ]);
  });

  it('packs messages under the size limit, the question in the first only', () => {
    const msg = buildQuery('example.test', TYPE.AXFR, { id: 4242 });
    const parsed = parseQuery(msg);
    if (parsed.kind !== 'query') throw new Error('query did not parse');
    const rrs = transferRecords(zone as NonNullable<typeof zone>);
    const messages = axfrMessages(msg, parsed.query, rrs, 16_384);
    expect(messages.length).toBeGreaterThan(3);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(16_384);
    const decoded = messages.map((m) => decode(m));
    expect(decoded.map((d) => d.header.id)).toEqual(messages.map(() => 4242));
    expect(decoded.map((d) => d.questions.length)).toEqual([1, ...messages.slice(1).map(() => 0)]);
    expect(decoded.reduce((n, d) => n + d.answers.length, 0)).toBe(rrs.length);
    expect(decoded.every((d) => d.header.aa === 1 && d.header.rcode === 0)).toBe(true);
  });

  it('allows only the listed addresses and prefixes, IPv4-mapped ones as IPv4', () => {
    const allow = ['192.0.2.53/32', '2001:db8:1::/48'].map(
      (c) => parseCidr(c) as NonNullable<ReturnType<typeof parseCidr>>,
    );
    expect(
      ['192.0.2.53', '::ffff:192.0.2.53', '2001:db8:1::7', '192.0.2.54', '2001:db8:2::1'].map((a) =>
        inPrefixes(allow, a),
      ),
    ).toEqual([true, true, true, false, false]);
  });
});

describe('NOTIFY', () => {
  it('asks about the zone SOA with opcode NOTIFY and AA, the current SOA in the answer', () => {
    const ex = config.zones[0] as NonNullable<(typeof config.zones)[0]>;
    const msg = notifyMessage(ex, 999);
    expect(msg.readUInt16BE(0)).toBe(999);
    expect((msg.readUInt16BE(2) >> 11) & 0xf).toBe(4);
    expect(msg.readUInt16BE(2) & 0x0400).toBe(0x0400);
    expect([4, 6, 8, 10].map((o) => msg.readUInt16BE(o))).toEqual([1, 1, 0, 0]);
    // The SOA's serial is the RDATA's 5th-last field (serial, refresh, retry, expire, minimum).
    expect(msg.readUInt32BE(msg.length - 20)).toBe(ex.soa.serial);
  });

  it('reads notify targets as address, address:port or [v6]:port', () => {
    const text = readFileSync(EXAMPLE, 'utf8').replace(
      /^ {2}example\.test:\n/m,
      "  example.test:\n    transfer: { allow: [127.0.0.1], notify: [192.0.2.53, '192.0.2.54:5300', '2001:db8::53', '[2001:db8::54]:5300'] }\n",
    );
    expect(parseConfigText(text).zones[0]?.transfer?.notify).toEqual([
      { host: '192.0.2.53', port: 53 },
      { host: '192.0.2.54', port: 5300 },
      { host: '2001:db8::53', port: 53 },
      { host: '2001:db8::54', port: 5300 },
    ]);
  });
});

describe('what a secondary serves for a steered name (transfer_as)', () => {
  const svc = (extra: string) =>
    parseConfigText(readFileSync(EXAMPLE, 'utf8').replace('    policy: nearest\n', `    policy: nearest\n${extra}`))
      .services[0] as NonNullable<ReturnType<typeof parseConfigText>['services'][number]>;
  const v4 = (s: ReturnType<typeof svc>, up?: string[]) => secondaryAddresses(s, up).a;
  const all = ['198.51.100.10', '198.51.100.20', '198.51.100.30'];

  it('is every pool by default, whatever is up', () => {
    expect(v4(svc(''), ['us-east'])).toEqual(all);
  });
  it('healthy: the pools of the regions up; every pool when none is up or nothing is known', () => {
    const s = svc('    transfer_as: healthy\n');
    expect(v4(s, ['eu-west', 'us-east'])).toEqual(['198.51.100.10', '198.51.100.20']);
    expect(v4(s, [])).toEqual(all);
    expect(v4(s)).toEqual(all);
  });
  it('last_resort: the last-resort regions, and a clear error without any', () => {
    expect(v4(svc('    last_resort: [ap-southeast]\n    transfer_as: last_resort\n'), ['us-east'])).toEqual([
      '198.51.100.30',
    ]);
    expect(() => svc('    transfer_as: last_resort\n')).toThrow(/transfer_as: last_resort needs the service to name/);
    expect(() => svc('    transfer_as: sometimes\n')).toThrow(
      /transfer_as: must be one of pools, last_resort, healthy/,
    );
  });
});

describe('a steered HTTPS record (services.NAME.https)', () => {
  const svc = (extra: string) =>
    parseConfigText(readFileSync(EXAMPLE, 'utf8').replace('    policy: nearest\n', `    policy: nearest\n${extra}`))
      .services[0] as NonNullable<ReturnType<typeof parseConfigText>['services'][number]>;

  it('goes to a secondary with the rendition addresses as hints, in key order among the parameters', () => {
    const s = svc('    https: "1 . port=443 alpn=h2"\n    transfer_as: healthy\n');
    const { a, aaaa } = secondaryAddresses(s, ['us-east']);
    const rdata = httpsRendition(s.https as never, a, aaaa).toString('hex');
    // priority 1, root target, alpn (1) "h2", port (3) 443, ipv4hint (4), ipv6hint (6).
    expect(rdata).toBe(
      '0001' +
        '00' +
        '0001000302' +
        '6832' +
        '0003000201bb' +
        '00040004c633640a' +
        '0006001020010db8001000000000000000000010',
    );
  });

  it('is refused with hints (they are the steered addresses), as an alias, or malformed', () => {
    expect(() => svc('    https: "1 . ipv4hint=192.0.2.1"\n')).toThrow(
      /ipv4hint and ipv6hint are the steered addresses/,
    );
    expect(() => svc('    https: "0 other.example."\n')).toThrow(/an alias \(priority 0\) cannot carry/);
    expect(() => svc('    https: "1 . alpn="\n')).toThrow(/alpn needs a value/);
    expect(() => svc('    https: h2\n')).toThrow(/must be an HTTPS record's value without hints/);
  });
});
