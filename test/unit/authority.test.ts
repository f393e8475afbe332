// Wire rules of Authority.respond in-process (no sockets): query bytes in, response bytes out,
// decoded by dns2 (an independent decoder) and by hand where dns2 hides a field.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import { Authority } from '../../src/dns/index.js';
import { buildQuery, RCODE, TYPE } from '../../src/wire/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { decode, EXAMPLE, tempDir, testConfig } from '../helpers/dns.js';

const DELEGATION = [
  '      - { name: deleg, type: NS, value: ns1.deleg }',
  '      - { name: deleg, type: NS, value: ns2 }',
  '      - { name: ns1.deleg, type: A, value: 192.0.2.200 }',
  '      - { name: signed, type: NS, value: ns1 }',
  '      - { name: signed, type: DS, value: 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }',
  '      - { name: to-deleg, type: CNAME, value: www.deleg }',
].join('\n');
const configPath = testConfig(tempDir(), { records: `${DELEGATION}\n` });
const config = parseConfigText(readFileSync(configPath, 'utf8'));
const authority = new Authority(config, GeoResolver.open(config.geo.database), InMemoryRegionState.fromConfig(config));
const ask = (msg: Buffer, tcp = false) => authority.respond(msg, '127.0.0.1', tcp).response as Buffer;
const rcodeOf = (r: Buffer) => (r[3] as number) & 0xf;
const counts = (r: Buffer) => [r.readUInt16BE(4), r.readUInt16BE(6), r.readUInt16BE(8), r.readUInt16BE(10)];
/** The OPT record's TTL field (extended rcode, version, DO) if the reply has one. */
const optOf = (r: Buffer) => {
  const opt = decode(r).additionals.find((a) => a.type === TYPE.OPT) as { ttl?: number; class?: number } | undefined;
  return opt;
};
const withOpt = (q: Buffer, optBytes: Buffer) => {
  const b = Buffer.concat([q, optBytes]);
  b.writeUInt16BE(b.readUInt16BE(10) + 1, 10);
  return b;
};
const OPT = (opts: Buffer = Buffer.alloc(0), version = 0) => {
  const h = Buffer.alloc(11);
  h.writeUInt16BE(TYPE.OPT, 1);
  h.writeUInt16BE(1232, 3);
  h[6] = version;
  h.writeUInt16BE(opts.length, 9);
  return Buffer.concat([h, opts]);
};

describe('error answers to EDNS queries carry OPT (RFC 6891 §6.1.1)', () => {
  const base = buildQuery('www.example.test', TYPE.A, { id: 9 });
  it('malformed ECS option -> FORMERR with OPT', () => {
    const r = ask(withOpt(base, OPT(Buffer.from([0, 8, 0, 5, 0, 3, 8, 0, 1]))));
    expect(rcodeOf(r)).toBe(RCODE.FORMERR);
    expect(optOf(r)).toBeDefined();
  });
  it('NOTIFY opcode -> NOTIMP with OPT', () => {
    const q = withOpt(buildQuery('example.test', TYPE.SOA, { id: 10 }), OPT());
    q.writeUInt16BE(4 << 11, 2);
    const r = ask(q);
    expect(rcodeOf(r)).toBe(RCODE.NOTIMP);
    expect(optOf(r)).toBeDefined();
  });
  it('two OPT records, a bad OPT length, QDCOUNT 0 -> FORMERR with OPT', () => {
    expect(optOf(ask(withOpt(withOpt(base, OPT()), OPT())))).toBeDefined();
    const bad = withOpt(base, OPT(Buffer.from([0, 10, 0, 9, 1])));
    expect(rcodeOf(ask(bad))).toBe(RCODE.FORMERR);
    expect(optOf(ask(bad))).toBeDefined();
    const noQuestion = Buffer.concat([Buffer.from([0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), OPT()]);
    const r = ask(noQuestion);
    expect(rcodeOf(r)).toBe(RCODE.FORMERR);
    expect(counts(r)[3]).toBe(1);
  });
  it('EDNS version 1 is BADVERS before the opcode and options are looked at', () => {
    const q = withOpt(
      buildQuery('example.test', TYPE.SOA, { id: 12 }),
      OPT(Buffer.from([0, 8, 0, 5, 0, 3, 8, 0, 1]), 1),
    );
    q.writeUInt16BE(4 << 11, 2);
    const r = ask(q);
    expect(rcodeOf(r)).toBe(0); // BADVERS = 16: low bits 0 in the header ...
    expect(((optOf(r)?.ttl ?? 0) >>> 24) & 0xff).toBe(1); // ... high bits 1 in OPT
  });
});

describe('delegations (zone cuts)', () => {
  const flagsOf = (r: Buffer) => r.readUInt16BE(2);
  it('a name below a cut gets a referral: NOERROR, AA clear, NS in authority, glue in additional', () => {
    const r = ask(buildQuery('x.deleg.example.test', TYPE.A, { id: 20 }));
    const d = decode(r);
    expect(rcodeOf(r)).toBe(RCODE.NOERROR);
    expect(flagsOf(r) & 0x0400).toBe(0);
    expect(d.answers).toEqual([]);
    expect(d.authorities.map((a) => [a.name, a.type])).toEqual([
      ['deleg.example.test', TYPE.NS],
      ['deleg.example.test', TYPE.NS],
    ]);
    // In-zone glue below the cut and sibling glue elsewhere in the zone.
    expect(d.additionals.map((a) => [a.name, a.type]).sort()).toEqual([
      ['ns1.deleg.example.test', TYPE.A],
      ['ns2.example.test', TYPE.A],
      ['ns2.example.test', TYPE.AAAA],
    ]);
  });
  it('the NS query at the cut and the glue name itself are referrals too, not authoritative answers', () => {
    for (const [name, type] of [
      ['deleg.example.test', TYPE.NS],
      ['ns1.deleg.example.test', TYPE.A],
      ['deleg.example.test', TYPE.ANY],
    ] as const) {
      const r = ask(buildQuery(name, type, { id: 21 }));
      expect(flagsOf(r) & 0x0400).toBe(0);
      expect(counts(r)[1]).toBe(0);
      expect(decode(r).authorities[0]?.type).toBe(TYPE.NS);
    }
  });
  it('DS at the cut is answered by the parent side, authoritatively; no DS is NODATA with the SOA', () => {
    const signed = ask(buildQuery('signed.example.test', TYPE.DS, { id: 22 }));
    expect(flagsOf(signed) & 0x0400).toBe(0x0400);
    expect(decode(signed).answers.map((a) => a.type)).toEqual([TYPE.DS]);
    const unsigned = ask(buildQuery('deleg.example.test', TYPE.DS, { id: 23 }));
    expect(flagsOf(unsigned) & 0x0400).toBe(0x0400);
    expect(counts(unsigned)[1]).toBe(0);
    expect(decode(unsigned).authorities.map((a) => a.type)).toEqual([TYPE.SOA]);
  });
  it('a CNAME into a delegation: our CNAME (authoritative), then the referral', () => {
    const r = ask(buildQuery('to-deleg.example.test', TYPE.A, { id: 24 }));
    const d = decode(r);
    expect(flagsOf(r) & 0x0400).toBe(0x0400);
    expect(d.answers.map((a) => a.type)).toEqual([TYPE.CNAME]);
    expect(d.authorities.map((a) => a.type)).toEqual([TYPE.NS, TYPE.NS]);
  });
});

describe('name compression in RDATA (RFC 3597 §4: the RFC 1035 types)', () => {
  /** RDLENGTH of the first record of `type` in the reply (walking the wire by hand). */
  const rdlengthOf = (r: Buffer, type: number) => {
    let pos = 12;
    while ((r[pos] as number) !== 0) pos += (r[pos] as number) + 1;
    pos += 5;
    for (;;) {
      while ((r[pos] as number) !== 0 && ((r[pos] as number) & 0xc0) !== 0xc0) pos += (r[pos] as number) + 1;
      pos += ((r[pos] as number) & 0xc0) === 0xc0 ? 2 : 1;
      const t = r.readUInt16BE(pos);
      const len = r.readUInt16BE(pos + 8);
      if (t === type) return len;
      pos += 10 + len;
    }
  };
  it('compresses the names inside SOA and MX', () => {
    // Uncompressed: ns1.example.test (18) + hostmaster.example.test (25) + 20 = 63 bytes.
    expect(rdlengthOf(ask(buildQuery('nope.example.test', TYPE.A, { id: 30 })), TYPE.SOA)).toBe(6 + 13 + 20);
    // Uncompressed: 2 + mail.example.test (19) = 21 bytes.
    expect(rdlengthOf(ask(buildQuery('example.test', TYPE.MX, { id: 31 })), TYPE.MX)).toBe(2 + 7);
    expect(decode(ask(buildQuery('example.test', TYPE.MX, { id: 32 }))).answers[0]).toMatchObject({
      exchange: 'mail.example.test',
    });
  });
});

describe('negative answers', () => {
  it('a CNAME chain ending in NODATA carries the SOA (RFC 2308 §2.2)', () => {
    const d = decode(ask(buildQuery('docs.example.test', TYPE.TXT, { id: 1 })));
    expect(d.answers.map((a) => a.type)).toEqual([TYPE.CNAME, TYPE.CNAME]);
    expect(d.authorities.map((a) => a.type)).toEqual([TYPE.SOA]);
  });
  it('a chain ending in data carries no SOA', () => {
    const d = decode(ask(buildQuery('docs.example.test', TYPE.A, { id: 2 })));
    expect(d.answers.map((a) => a.type)).toEqual([TYPE.CNAME, TYPE.CNAME, TYPE.A]);
    expect(d.authorities).toEqual([]);
  });
});

describe('ANY and ECS', () => {
  it('ANY at a CNAME owner is answered with the CNAME, not a HINFO', () => {
    const d = decode(ask(buildQuery('app.example.test', TYPE.ANY, { id: 3 })));
    expect(d.answers.map((a) => a.type)).toEqual([TYPE.CNAME]);
  });
  it('SOURCE PREFIX-LENGTH 0 is answered with SCOPE 0', () => {
    const r = ask(
      buildQuery('www.example.test', TYPE.A, {
        id: 4,
        ecs: { address: Uint8Array.from([0, 0, 0, 0]), sourcePrefix: 0 },
      }),
    );
    const ecs = decode(r)
      .additionals.find((a) => a.type === TYPE.OPT)
      ?.rdata?.find((o) => o.ednsCode === 8);
    expect(ecs?.sourcePrefixLength).toBe(0);
    expect(ecs?.scopePrefixLength).toBe(0);
  });
});

describe('delegations checked at config time', () => {
  const withRecords = (records: string) =>
    readFileSync(EXAMPLE, 'utf8').replace('    records:\n', `    records:\n${records}`);
  const problems = (records: string, extra = '') => {
    try {
      parseConfigText(withRecords(records) + extra);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };
  const cut =
    '      - { name: deleg, type: NS, value: ns1.deleg }\n      - { name: ns1.deleg, type: A, value: 192.0.2.200 }\n';
  it('accepts a delegation with its glue', () => {
    expect(problems(cut)).toEqual([]);
  });
  it('refuses data that the cut would hide, by path, saying why', () => {
    expect(problems(`${cut}      - { name: www.deleg, type: TXT, value: hidden }\n`)).toEqual([
      'zones.example.test.records[2]: www.deleg.example.test is below the delegation at deleg.example.test: only glue (A/AAAA of its name servers) may be there; this TXT would never be served',
    ]);
    expect(problems(`${cut}      - { name: deleg, type: A, value: 192.0.2.1 }\n`)[0]).toMatch(
      /only NS and DS records may be at a delegation, not A/,
    );
    expect(problems('      - { name: deleg, type: NS, value: ns1.deleg }\n')[0]).toMatch(
      /ns1\.deleg\.example\.test .* needs glue/,
    );
    expect(
      problems(
        '      - { name: nocut, type: DS, value: 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }\n',
      )[0],
    ).toMatch(/DS belongs at a delegation/);
    expect(problems(cut, '  inner:\n    name: app.deleg.example.test\n    pools: [us-east]\n')).toEqual([
      'services.inner.name: app.deleg.example.test is inside the delegation at deleg.example.test: a child zone answers for it',
    ]);
  });
});

describe('CNAME chains refused at config time', () => {
  const withRecords = (records: string) =>
    readFileSync(EXAMPLE, 'utf8').replace('    records:\n', `    records:\n${records}`);
  it('a loop is listed by path, with the names', () => {
    let err: unknown;
    try {
      parseConfigText(
        withRecords(
          '      - { name: loop1, type: CNAME, value: loop2 }\n      - { name: loop2, type: CNAME, value: loop1 }\n',
        ),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'zones.example.test.records[0]: CNAME loop: loop1.example.test -> loop2.example.test -> loop1.example.test',
    ]);
  });
  it('a chain longer than 8 is refused', () => {
    const chain = Array.from({ length: 10 }, (_, i) => `      - { name: c${i}, type: CNAME, value: c${i + 1} }\n`).join(
      '',
    );
    expect(() => parseConfigText(withRecords(chain))).toThrow(/CNAME chain longer than 8/);
  });
});

describe('miss budget (cheap answers first)', () => {
  it('past the budget a memo miss gets an empty truncated answer; answers in the memo never draw from it', () => {
    const a = new Authority(config, GeoResolver.open(config.geo.database), InMemoryRegionState.fromConfig(config));
    let left = 1;
    const budget = { take: () => left-- > 0 };
    const edns = { udpSize: 1232 };
    const first = a.respond(buildQuery('www.example.test', TYPE.A, { id: 1, edns }), '127.0.0.1', false, budget);
    expect(counts(first.response as Buffer)[1]).toBeGreaterThan(0); // built: the budget's one miss
    const over = a.respond(buildQuery('sTatic.example.test', TYPE.A, { id: 2, edns }), '127.0.0.1', false, budget);
    const r = over.response as Buffer;
    expect(over.info).toMatchObject({ overBudget: true, truncated: true, qname: 'static.example.test' });
    expect(r.readUInt16BE(0)).toBe(2);
    expect(r.readUInt16BE(2) & 0x8600).toBe(0x8600); // QR, AA, TC
    expect(counts(r)).toEqual([1, 0, 0, 1]); // the question (its case kept) and OPT only
    expect(decode(r).questions[0]?.name).toBe('sTatic.example.test');
    // The memo still answers in full, whatever the budget says.
    const hitsBefore = a.memoHits;
    const again = a.respond(buildQuery('www.example.test', TYPE.A, { id: 3, edns }), '127.0.0.1', false, budget);
    expect(a.memoHits).toBe(hitsBefore + 1);
    expect(counts(again.response as Buffer)[1]).toBeGreaterThan(0);
    // Configured to drop: nothing is sent, and the reason is counted.
    const dropping = new Authority(
      { ...config, dns: { ...config.dns, overBudget: 'drop' } },
      GeoResolver.open(config.geo.database),
      InMemoryRegionState.fromConfig(config),
    );
    const dropped = dropping.respond(buildQuery('www.example.test', TYPE.A, { id: 4 }), '127.0.0.1', false, {
      take: () => false,
    });
    expect(dropped.response).toBeUndefined();
    expect(dropped.info.dropped).toBe('over the miss budget');
  });
});
