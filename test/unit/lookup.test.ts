// The first step of an answer (src/dns/lookup.ts), pure: where a question leads in the compiled
// zones, as a typed result, before any byte is written or any policy runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { compileZones } from '../../src/dns/index.js';
import { lookup, type Lookup } from '../../src/dns/lookup.js';
import { TYPE_NXNAME } from '../../src/dnssec/index.js';
import { TYPE } from '../../src/wire/index.js';
import { EXAMPLE } from '../helpers/dns.js';

const RECORDS = [
  '      - { name: deleg, type: NS, value: ns1.deleg }',
  '      - { name: ns1.deleg, type: A, value: 192.0.2.200 }',
  '      - { name: signed, type: NS, value: ns1 }',
  '      - { name: signed, type: DS, value: 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }',
  '      - { name: to-deleg, type: CNAME, value: www.deleg }',
  '      - { name: out, type: CNAME, value: www.example.net. }',
  '      - { name: a.b.ent, type: A, value: 192.0.2.9 }',
].join('\n');
const config = parseConfigText(readFileSync(EXAMPLE, 'utf8').replace('    records:\n', `    records:\n${RECORDS}\n`));
const zones = compileZones(config);
const ask = (qname: string, qtype: number, qclass = 1): Lookup => lookup(zones, { qname, qtype, qclass });
/** The answer section's parts in short: `owner TYPE` or `owner steered`. */
const parts = (r: Lookup) =>
  !('answer' in r) ? [] : r.answer.map((p) => `${p.owner} ${p.kind === 'rrset' ? p.set.type : p.kind}`);

describe('lookup: a question to a typed result', () => {
  it('static data is an answer; the apex NS set names its glue', () => {
    const r = ask('static.example.test', TYPE.A);
    expect(r.kind).toBe('answer');
    expect(parts(r)).toEqual([`static.example.test ${TYPE.A}`]);
    const ns = ask('example.test', TYPE.NS);
    expect(ns.kind === 'answer' && ns.glueFor).toEqual(['ns1.example.test', 'ns2.example.test']);
  });

  it('a CNAME chain is followed inside the zone and ends in the steered name, whose decision is left to steering', () => {
    const r = ask('docs.example.test', TYPE.A);
    expect(r.kind).toBe('answer');
    expect(parts(r)).toEqual([
      `docs.example.test ${TYPE.CNAME}`,
      `app.example.test ${TYPE.CNAME}`,
      'www.example.test steered',
    ]);
    const last = r.kind === 'answer' ? r.answer.at(-1) : undefined;
    expect(last?.kind === 'steered' && [last.family, last.service.key]).toEqual([4, 'www']);
  });

  it('a CNAME leaving the zone ends the answer there', () => {
    const r = ask('out.example.test', TYPE.A);
    expect([r.kind, parts(r)]).toEqual(['answer', [`out.example.test ${TYPE.CNAME}`]]);
  });

  it('no data and no name are typed, with the name that decided; an empty non-terminal has no data', () => {
    const nodata = ask('static.example.test', TYPE.AAAA);
    expect(nodata.kind === 'nodata' && nodata.name).toBe('static.example.test');
    const nx = ask('nope.example.test', TYPE.A);
    expect(nx.kind === 'nxdomain' && nx.name).toBe('nope.example.test');
    // At the end of a chain the name is the chain's end.
    const ent = ask('b.ent.example.test', TYPE.A);
    expect([ent.kind, ent.kind === 'nodata' && ent.node.sets.length]).toEqual(['nodata', 0]);
  });

  it('a delegation is a referral, not authoritative unless our CNAME led there; DS at the cut is ours', () => {
    const r = ask('www.deleg.example.test', TYPE.A);
    expect(r.kind === 'referral' && [r.cut, r.aa]).toEqual(['deleg.example.test', false]);
    const viaCname = ask('to-deleg.example.test', TYPE.A);
    expect(viaCname.kind === 'referral' && [viaCname.aa, parts(viaCname)]).toEqual([
      true,
      [`to-deleg.example.test ${TYPE.CNAME}`],
    ]);
    const ds = ask('signed.example.test', TYPE.DS);
    expect(ds.kind).toBe('answer');
  });

  it('ANY is one synthesized HINFO; other classes and transfers are refused; NXNAME is a format error', () => {
    expect(parts(ask('static.example.test', TYPE.ANY))).toEqual(['static.example.test hinfo']);
    expect(ask('static.example.test', TYPE.A, 3).kind).toBe('refused');
    expect(ask('example.test', TYPE.AXFR).kind).toBe('refused');
    expect(ask('www.example.net', TYPE.A).kind).toBe('refused');
    expect(ask('static.example.test', TYPE_NXNAME).kind).toBe('formerr');
  });

  it('a steered name without an address of the asked family is no data', () => {
    const v4only = parseConfigText(readFileSync(EXAMPLE, 'utf8').replace(/^ {4}vip6: .*\n/gm, ''));
    const r = lookup(compileZones(v4only), { qname: 'www.example.test', qtype: TYPE.AAAA, qclass: 1 });
    expect(r.kind).toBe('nodata');
  });
});
