// Alias pools (a CNAME to another provider's name), with no sockets: the config's rules, the
// selection rule (an alias stands alone), the last-resort alias, and what a secondary serves.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, type Service } from '../../src/config/index.js';
import { secondaryAddresses } from '../../src/dns/zone-export.js';
import { select } from '../../src/policy/index.js';
import { EXAMPLE } from '../helpers/dns.js';

const base = readFileSync(EXAMPLE, 'utf8');
const ALIAS = '{ region: ap-southeast, cname: shop.cdn.example.net }';

function service(pools: string, extra = ''): Service {
  const config = parseConfigText(`${base}  t:\n    name: t.example.test\n    pools: ${pools}\n${extra}`);
  return config.services.find((s) => s.key === 't') as Service;
}
const problems = (pools: string) => {
  try {
    service(pools);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
};
const up = () => 'up' as const;
const only =
  (...rs: string[]) =>
  (r: string) =>
    rs.includes(r) ? ('up' as const) : ('down' as const);

describe('alias pools in the config', () => {
  it('reads a cname pool as an absolute name, without addresses', () => {
    const p = service(`[us-east, ${ALIAS}]`).pools[1];
    expect(p).toMatchObject({ region: 'ap-southeast', cname: 'shop.cdn.example.net' });
    expect(p?.vip4).toBeUndefined();
  });

  it('refuses an alias with addresses, and a name that is not one', () => {
    expect(problems('[{ region: eu-west, cname: a.example.net, vip: 192.0.2.1 }]')).toMatch(
      /pools\[0\]: a pool answers addresses \(vip, vip6\) or an alias \(cname\), not both/,
    );
    expect(problems('[{ region: eu-west, cname: "bad name!" }]')).toMatch(/pools\[0\]\.cname/);
  });
});

describe('selecting alias pools', () => {
  it('an alias first is the whole answer, whatever answers asks', () => {
    const s = { ...service(`[${ALIAS}, us-east, eu-west]`), answers: 3 };
    const sel = select(s, ['ap-southeast', 'us-east', 'eu-west'], 4, up);
    expect(sel.pools.map((p) => p.cname ?? p.region)).toEqual(['shop.cdn.example.net']);
  });

  it('after an address pool, aliases are passed and addresses taken', () => {
    const s = { ...service(`[us-east, ${ALIAS}, eu-west]`), answers: 2 };
    const sel = select(s, ['us-east', 'ap-southeast', 'eu-west'], 6, up);
    expect(sel.pools.map((p) => p.region)).toEqual(['us-east', 'eu-west']);
  });

  it('an alias answers either family, and when the address regions are down', () => {
    const s = service(`[us-east, ${ALIAS}]`);
    expect(select(s, ['us-east', 'ap-southeast'], 6, only('ap-southeast')).pools[0]?.cname).toBe(
      'shop.cdn.example.net',
    );
  });

  it('a last-resort alias answers when nothing is up, instead of every candidate', () => {
    const s = service(`[us-east, eu-west, ${ALIAS}]`, '    last_resort: [ap-southeast]\n');
    const sel = select({ ...s, answers: 0 }, ['us-east', 'eu-west', 'ap-southeast'], 4, only());
    expect(sel.failOpen).toBe('last-resort');
    expect(sel.pools.map((p) => p.cname)).toEqual(['shop.cdn.example.net']);
    // Without a last resort, failing open to every candidate gives the addresses, not the alias after them.
    const open = select({ ...s, lastResort: [], answers: 0 }, ['us-east', 'eu-west', 'ap-southeast'], 4, only());
    expect(open.pools.map((p) => p.region)).toEqual(['us-east', 'eu-west']);
  });
});

describe('what a secondary serves for an alias', () => {
  it('a CNAME when the rendition holds only aliases, else the addresses', () => {
    const s = service(`[us-east, ${ALIAS}]`, '    last_resort: [ap-southeast]\n    transfer_as: last_resort\n');
    expect(secondaryAddresses(s)).toEqual({ a: [], aaaa: [], alias: 'shop.cdn.example.net' });
    expect(secondaryAddresses({ ...s, transferAs: 'pools' })).toEqual({
      a: ['198.51.100.10'],
      aaaa: ['2001:db8:10::10'],
    });
  });
});
