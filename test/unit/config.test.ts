// Config validation: every problem reported by path; good files summarised.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfigText, summarise } from '../../src/config/index.js';
import { EXAMPLE, ROOT, run, tempDir } from '../helpers/dns.js';
import { writeFileSync } from 'node:fs';

const base = readFileSync(EXAMPLE, 'utf8');

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('etcd credentials: TLS files and environment variable names, checked, never secrets in the file', () => {
    const store = (body: string) => problems(`${base}\ncontrol:\n  store: ${body}\n`);
    expect(store('{ etcd: ["https://10.0.0.1:2379"], tls: { cert: /c.pem } }')).toEqual(
      expect.arrayContaining([
        "control.store.tls.ca: needs the CA file that signed etcd's certificate",
        'control.store.tls: cert and key go together',
      ]),
    );
    expect(store('{ etcd: ["http://10.0.0.1:2379"], tls: { ca: /ca.pem } }')).toContain(
      'control.store.etcd: with tls every endpoint is https://',
    );
    expect(store('{ etcd: ["https://10.0.0.1:2379"], auth: { password: hunter2 } }')).toEqual(
      expect.arrayContaining([
        'control.store.auth.password: unknown key (expected one of: user, user_env, password_env)',
      ]),
    );
    expect(store('{ etcd: ["https://10.0.0.1:2379"], auth: { user: a, user_env: B, password_env: P } }')).toContain(
      'control.store.auth: needs user (a name) or user_env (the variable holding it), one of them',
    );
    expect(store('{ file: /tmp/s.json, auth: { user: a, password_env: P } }')).toContain(
      'control.store: tls and auth are for etcd',
    );
    const ok = parseConfigText(
      `${base}\ncontrol:\n  store: { etcd: ["https://10.0.0.1:2379"], tls: { ca: /ca.pem, cert: /c.pem, key: /k.pem }, auth: { user_env: U, password_env: P } }\n`,
    );
    expect(ok.control?.store).toMatchObject({
      kind: 'etcd',
      tls: { ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' },
      auth: { userEnv: 'U', passwordEnv: 'P' },
    });
  });

  it('loads the shipped example with the names and addresses docs rely on', () => {
    const c = loadConfigFile(EXAMPLE);
    expect(c.zones.map((z) => z.name)).toEqual(['example.test']);
    expect(c.regions.get('us-east')).toMatchObject({ vip4: '198.51.100.10', vip6: '2001:db8:10::10' });
    expect(c.regions.get('eu-west')).toMatchObject({ vip4: '198.51.100.20', vip6: '2001:db8:20::20' });
    expect(c.regions.get('ap-southeast')).toMatchObject({ vip4: '198.51.100.30', vip6: '2001:db8:30::30' });
    expect(c.services[0]).toMatchObject({ name: 'www.example.test', policy: { kind: 'nearest' } });
    expect(summarise(c).join('\n')).toMatch(/service www: www\.example\.test policy nearest/);
  });

  it('lists every problem with its path', () => {
    const bad = base
      .replace(
        '    pools: [us-east, eu-west, ap-southeast]',
        '    pools: [us-east, eu-west, { region: ap-southeast, vip: 10.0.0.300 }]',
      )
      .replace('vip6: 2001:db8:20::20', 'vip6: not-an-address')
      .replace('ttl: 30', 'ttl: -5')
      .replace(
        '{ name: mail, type: A, value: 192.0.2.25 }',
        '{ name: mail, type: A, value: 192.0.2.25, colour: blue }',
      );
    const p = problems(bad);
    expect(p).toContain('services.www.pools[2].vip: not an IPv4 address');
    expect(p).toContain('regions.eu-west.vip6: not an IPv6 address');
    expect(p).toContain('services.www.ttl: must be an integer from 0 to 2147483647');
    expect(p.some((x) => x.startsWith('zones.example.test.records[6].colour: unknown key'))).toBe(true);
    expect(p.length).toBeGreaterThanOrEqual(4);
  });

  it('refuses unknown regions, policies and steering names outside the zones', () => {
    const p = problems(`${base}  x:\n    name: x.example.org\n    pools: [mars]\n    policy: { fastest: {} }\n`);
    expect(p).toContain('services.x.name: x.example.org is not inside any configured zone');
    expect(p).toContain('services.x.pools[0].region: unknown region "mars"');
    expect(p.some((x) => x.startsWith('services.x.policy: must have exactly one of'))).toBe(true);
  });

  it('dns.io defaults to auto and the batched sockets to shared; other values are refused by path', () => {
    const dns = parseConfigText(base).dns;
    expect([dns.io, dns.udpSockets]).toEqual(['auto', 'shared']);
    const withDns = (extra: string) => base.replace(/^dns:\n/m, `dns:\n${extra}`);
    expect(parseConfigText(withDns('  udp_sockets: per-worker\n')).dns.udpSockets).toBe('per-worker');
    expect(problems(withDns('  io: fast\n  udp_sockets: one\n'))).toEqual([
      'dns.io: must be auto, batched or dgram',
      'dns.udp_sockets: must be shared or per-worker',
    ]);
  });

  it('refuses YAML syntax errors and duplicate keys', () => {
    expect(problems('regions: [oops')[0]).toMatch(/^YAML:/);
    expect(problems(`${base}\nregions: {}\n`)[0]).toMatch(/^YAML:.*[Uu]nique|^YAML:.*duplicate|^YAML:/);
  });

  it('refuses a CNAME beside other data', () => {
    const p = problems(
      base.replace(
        '      - { name: static, type: A, value: 192.0.2.80 }',
        '      - { name: static, type: A, value: 192.0.2.80 }\n      - { name: static, type: CNAME, value: www }',
      ),
    );
    expect(p).toContain('zones.example.test.records: static.example.test has a CNAME and other data');
  });

  it('gtm check-config prints a summary, or the problems with exit 1', async () => {
    const ok = await run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'check-config', EXAMPLE]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK\n\s+zone example\.test: 2 NS/);
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), base.replace('vip: 198.51.100.30', 'vip: 198.51.100'));
    const bad = await run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'check-config', join(dir, 'bad.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/regions\.ap-southeast\.vip: not an IPv4 address/);
  });

  it('refuses a config file over the size limit with a clear error, before parsing it', () => {
    process.env.GTM_CONFIG_MAX_BYTES = '1000';
    try {
      expect(() => loadConfigFile(EXAMPLE)).toThrow(
        /the file is \d+ bytes; the limit is 1000 \(GTM_CONFIG_MAX_BYTES\)/,
      );
    } finally {
      delete process.env.GTM_CONFIG_MAX_BYTES;
    }
    expect(loadConfigFile(EXAMPLE).regions.size).toBe(3);
  });

  it('validates the pops section: region, BGP settings, VIPs, checks', () => {
    const pops = `pops:
  nyc:
    region: mars
    bgp:
      asn: 65001
      router_id: 10.0.0.1
      neighbors: [{ address: not-an-ip, asn: 65000 }]
      communities: ["65535:0:1"]
      on_agent_death: maybe
    vips:
      - address: vip
        nodes: [{ name: lb1, address: 10.0.0.11 }]
        checks: [{ type: ping }]
`;
    const p = problems(`${base}${pops}`);
    expect(p).toContain('pops.nyc.region: unknown region "mars"');
    expect(p).toContain('pops.nyc.bgp.neighbors[0].address: not an IP address');
    expect(p).toContain('pops.nyc.bgp.communities[0]: not a community ASN:VALUE');
    expect(p).toContain('pops.nyc.bgp.on_agent_death: must be withdraw or keep');
    expect(p).toContain('pops.nyc.vips[0].checks[0].type: must be http, https, tcp, dns or exec');
    const ok = parseConfigText(
      `${base}${pops.replace('mars', 'us-east').replace('not-an-ip', '10.0.0.254').replace('"65535:0:1"', '"65001:7"').replace('maybe', 'keep').replace('type: ping', 'type: tcp, port: 443').replace('      on_agent_death', '      next_hop: 10.0.0.1\n      on_agent_death')}`,
    );
    expect(ok.pops[0]).toMatchObject({
      name: 'nyc',
      region: 'us-east',
      bgp: { onAgentDeath: 'keep', drain: { communities: ['65535:0'] } },
      vips: [{ prefix: '198.51.100.10/32', rise: 2, fall: 3 }],
    });
  });
});
