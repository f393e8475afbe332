// Zone files (zones.<name>.file): an RFC 1035 master file read into the records YAML gives,
// checked alike, with every problem named by file and line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, type Config } from '../../src/config/index.js';
import { parseTtl } from '../../src/config/master-file.js';
import { ROOT, tempDir } from '../helpers/dns.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'zones');

/** A config with one zone from a file (and optional YAML beside it), loaded as `gtm dns` loads it. */
function load(zoneYaml: string, dir = tempDir('gtm-zonefile-')): Config {
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    `regions:\n  eu-west: { vip: 198.51.100.20, location: { lat: 53.35, lon: -6.26 } }\nzones:\n  shop.test:\n${zoneYaml}\n`,
  );
  return loadConfigFile(file);
}
const problems = (zoneYaml: string, dir?: string) => {
  try {
    load(zoneYaml, dir);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('zone files', () => {
  it('reads SOA, apex NS and every record of a real-world-shaped file, $INCLUDE and relative names included', () => {
    const zone = load(`    file: ${join(FIXTURES, 'shop.test.zone')}`).zones[0];
    expect(zone?.soa).toEqual({
      mname: 'ns1.shop.test',
      rname: 'hostmaster.shop.test',
      serial: 2026120201,
      refresh: 3600,
      retry: 600,
      expire: 604800,
      minimum: 300,
      ttl: 3600,
    });
    expect(zone?.ns).toEqual(['ns1.shop.test', 'ns2.shop.test']);
    expect(zone?.nsTtl).toBe(3600);
    const seen = (zone?.records ?? []).map((r) => {
      const { name, type, ttl, ...data } = r;
      return `${name} ${ttl} ${type} ${JSON.stringify(data)}`;
    });
    expect(seen).toEqual(
      [
        'shop.test 3600 MX {"preference":10,"exchange":"mail.shop.test"}',
        'shop.test 3600 MX {"preference":20,"exchange":"mail.backup.example"}',
        'shop.test 3600 TXT {"strings":["v=spf1 mx -all"]}',
        'shop.test 3600 CAA {"flags":0,"tag":"issue","value":"letsencrypt.org"}',
        'shop.test 3600 CAA {"flags":0,"tag":"iodef","value":"mailto:security@shop.test"}',
        'ns1.shop.test 3600 A {"address":"192.0.2.53"}',
        'ns2.shop.test 300 A {"address":"192.0.2.54"}',
        'mail.shop.test 300 A {"address":"192.0.2.25"}',
        'mail.shop.test 3600 AAAA {"address":"2001:db8::25"}',
        'www.shop.test 3600 CNAME {"target":"web.shop.test"}',
        'web.shop.test 3600 A {"address":"192.0.2.80"}',
        'web.shop.test 3600 A {"address":"192.0.2.81"}',
        '_sip._tcp.shop.test 3600 SRV {"priority":10,"weight":60,"port":5060,"target":"sip.shop.test"}',
        'sip.shop.test 3600 A {"address":"192.0.2.60"}',
        'long.shop.test 3600 TXT {"strings":["first string with \\"quotes\\" and a ; semicolon","second string ABC"]}',
        '*.wild.shop.test 3600 A {"address":"192.0.2.99"}',
        'eu.shop.test 3600 A {"address":"192.0.2.120"}',
        'api.eu.shop.test 3600 A {"address":"192.0.2.121"}',
        ...['eu.shop.test 3600 GENERIC', '_dns.eu.shop.test 3600 GENERIC', 'alias.eu.shop.test 3600 GENERIC'],
        'api.eu.shop.test 3600 GENERIC',
        'after.shop.test 3600 A {"address":"192.0.2.100"}',
      ].map((l) => (l.endsWith('GENERIC') ? expect.stringMatching(new RegExp(`^${l.replace(/\./g, '\\.')} `)) : l)),
    );
    // An alias to a name relative to the included file's origin: priority 0, api.eu.shop.test.
    const alias = zone?.records.find((r) => r.name === 'alias.eu.shop.test');
    expect(alias).toMatchObject({
      type: 'GENERIC',
      code: 65,
      data: `0000${'03617069026575' + '0473686f70' + '047465737400'}`,
    });
  });

  it('lays YAML records over the file, and refuses the same name and type in both', () => {
    const file = `    file: ${join(FIXTURES, 'shop.test.zone')}`;
    const zone = load(`${file}\n    records:\n      - { name: extra, type: A, value: 192.0.2.7 }`).zones[0];
    expect(zone?.records.at(-1)).toMatchObject({ name: 'extra.shop.test', type: 'A', address: '192.0.2.7' });
    expect(problems(`${file}\n    records:\n      - { name: web, type: A, value: 192.0.2.7 }`)).toEqual([
      expect.stringMatching(
        /^zones\.shop\.test\.records\[0\]: web\.shop\.test A is also in the zone file \(.*shop\.test\.zone:23\)/,
      ),
    ]);
    expect(problems(`${file}\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }`)).toEqual([
      'zones.shop.test.soa: the zone file has the SOA: give it in one place',
    ]);
  });

  it('names the file and line of every problem', () => {
    const dir = tempDir('gtm-zonefile-bad-');
    writeFileSync(
      join(dir, 'bad.zone'),
      [
        '$TTL 300',
        '@ IN SOA ns1 hostmaster 1 3600 600 604800 60',
        '  IN NS ns1',
        'ns1 IN A 192.0.2.1',
        'x IN A 999.1.1.1',
        'y IN HINFO "pc" "os"',
        'z IN MX ten mail',
        'outside.example. IN A 192.0.2.2',
        '$INCLUDE missing.inc',
        'q IN TXT "not closed',
      ].join('\n'),
    );
    const found = problems('    file: bad.zone', dir);
    const at = (line: number) => `zones.shop.test.file (${join(dir, 'bad.zone')}:${line})`;
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/a quoted string is not closed/),
        expect.stringMatching(/\$INCLUDE missing\.inc: ENOENT/),
        expect.stringContaining(`${at(5)}.value:`),
        expect.stringContaining(`${at(6)}.value: HINFO is read in RFC 3597 form`),
        expect.stringContaining(`${at(7)}.value: preference must be 0-65535`),
        `${at(8)}: outside.example is outside zone shop.test`,
      ]),
    );
  });

  it('refuses a file without SOA or apex NS, and a missing file, by name', () => {
    const dir = tempDir('gtm-zonefile-empty-');
    writeFileSync(join(dir, 'empty.zone'), '$TTL 60\nwww IN A 192.0.2.1\n');
    expect(problems('    file: empty.zone', dir)).toEqual([
      `zones.shop.test.file: ${join(dir, 'empty.zone')} has no SOA record for shop.test`,
      `zones.shop.test.file: ${join(dir, 'empty.zone')} has no NS records at the apex of shop.test`,
    ]);
    expect(problems('    file: nowhere.zone', dir)[0]).toMatch(/^zones\.shop\.test\.file: ENOENT/);
  });

  it('reads TTLs in seconds and in units', () => {
    expect([
      parseTtl('300'),
      parseTtl('1h30m'),
      parseTtl('1W'),
      parseTtl('2d'),
      parseTtl('x'),
      parseTtl('1h x'),
    ]).toEqual([300, 5400, 604800, 172800, undefined, undefined]);
  });

  it('a catalog zone lists every other zone once, and holds nothing else', () => {
    const dir = tempDir('gtm-catalog-');
    const config = load(`    file: ${join(FIXTURES, 'shop.test.zone')}\n  cat.test:\n    catalog: true`, dir);
    const cat = config.zones.find((z) => z.name === 'cat.test');
    expect(cat?.ns).toEqual(['invalid']);
    expect(
      cat?.records.map((r) => `${r.type} ${'target' in r ? r.target : 'strings' in r ? r.strings.join() : ''}`),
    ).toEqual(['TXT 2', 'PTR shop.test']);
    expect(cat?.records[1]?.name).toMatch(/^[0-9a-f]+\.zones\.cat\.test$/);
    expect(
      problems(`    file: ${join(FIXTURES, 'shop.test.zone')}\n  cat.test:\n    catalog: yes\n    records: []`, dir),
    ).toEqual([
      'zones.cat.test.records: unknown key (expected one of: catalog, transfer)',
      'zones.cat.test.catalog: must be true (this zone lists the others)',
    ]);
  });
});

describe('SVCB and HTTPS in their own form (RFC 9460)', () => {
  const one = (value: string, type = 'HTTPS') =>
    load(
      `    file: ${join(FIXTURES, 'shop.test.zone')}\n    records:\n      - { name: svc, type: ${type}, value: '${value}' }`,
    ).zones[0]?.records.find((r) => r.name === 'svc.shop.test');

  it('gives the bytes the RFC 3597 form of the same record gives', () => {
    // The generic fixture's HTTPS and SVCB, written there in hex.
    expect(one('1 . alpn=h2')).toMatchObject({ code: 65, data: '00010000010003026832' });
    expect(one('1 svc.generic.test. port=8443', 'SVCB')).toMatchObject({
      code: 64,
      data: '0001' + '03737663' + '0767656e65726963' + '0474657374' + '00' + '0003' + '0002' + '20fb',
    });
  });

  it('sorts parameters by key and refuses what RFC 9460 forbids', () => {
    // port (3) before alpn (1) as written: on the wire alpn first.
    expect(one('1 . port=443 alpn=h2')).toMatchObject({ data: '000100' + '0001000302' + '6832' + '00030002' + '01bb' });
    expect(
      problems(
        `    file: ${join(FIXTURES, 'shop.test.zone')}\n    records:\n      - { name: svc, type: HTTPS, value: '1 . port=1 port=2' }`,
      ),
    ).toEqual(['zones.shop.test.records[0].value: HTTPS: port given twice']);
    for (const [value, why] of [
      ['0 api alpn=h2', 'an alias (priority 0) takes no parameters'],
      ['1 . mandatory=port', 'mandatory names key3, which is not given'],
      ['1 . ipv4hint=2001:db8::1', 'ipv4hint must list IPv4 addresses'],
      ['1 . colour=blue', 'colour is not an SvcParamKey'],
      ['1 . no-default-alpn=1', 'no-default-alpn takes no value'],
    ])
      expect(
        problems(
          `    file: ${join(FIXTURES, 'shop.test.zone')}\n    records:\n      - { name: svc, type: HTTPS, value: '${value}' }`,
        )[0],
      ).toContain(why);
  });
});

describe('secondary zones (zones.<name>.primary)', () => {
  it('reads the primaries (port 53 unless given) and the key; the content is not in the config', () => {
    const zone = load(`    primary: [192.0.2.1, '192.0.2.2:5300', '2001:db8::1', '[2001:db8::2]:5353']`).zones[0];
    expect(zone?.secondary?.primaries).toEqual([
      { host: '192.0.2.1', port: 53 },
      { host: '192.0.2.2', port: 5300 },
      { host: '2001:db8::1', port: 53 },
      { host: '2001:db8::2', port: 5353 },
    ]);
    expect(zone?.records).toEqual([]);
    expect(zone?.unavailable).toBe('not transferred yet');
  });

  it('refuses records, a zone file or an SOA beside a primary, and a key that is not in dns.tsig_keys', () => {
    expect(problems(`    primary: [192.0.2.1]\n    records: []`)[0]).toMatch(
      /^zones\.shop\.test\.records: unknown key/,
    );
    expect(problems(`    primary: [192.0.2.1]\n    file: x.zone`)[0]).toMatch(/^zones\.shop\.test\.file: unknown key/);
    expect(problems(`    primary: []`)).toEqual(['zones.shop.test.primary: must not be empty']);
    expect(problems(`    primary: [192.0.2.1]\n    primary_tsig: nokey`)).toEqual([
      'zones.shop.test.primary_tsig: no key nokey in dns.tsig_keys',
    ]);
  });
});
