// Rendered configs compared with golden files (test/golden/): a change to what gobgpd, BIRD or
// the lab is given shows up as a reviewable diff. `UPDATE_GOLDEN=1 npx vitest run test/unit/golden.test.ts`
// rewrites them after an intended change.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBfdOnlyConfig, renderBirdConfig } from '../../lab/bird.js';
import { renderFrrBgpd } from '../../lab/frr.js';
import { renderLab } from '../../lab/lab.js';
import { labOf } from '../../lab/model.js';
import { renderPrometheusConfig } from '../../lab/prometheus.js';
import { renderGobgpdToml } from '../../src/bgp/index.js';
import { ROOT, tempDir } from '../helpers/dns.js';

const GOLDEN = join(ROOT, 'test', 'golden');

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) throw new Error(`no golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

describe('rendered configs match their golden files', () => {
  const dir = tempDir('gtm-golden-');
  process.env.GTM_LAB_TOKEN ??= 'golden-test-token-0123456789';
  const config = renderLab(dir);
  const stable = (text: string) => text.split(dir).join('<LAB_DIR>');

  it('the lab config (gtm lab up / gtm lab render)', () => {
    golden('lab-config.yaml', stable(readFileSync(join(dir, 'config.yaml'), 'utf8')));
    golden('lab-addresses.env', readFileSync(join(dir, 'addresses.env'), 'utf8'));
  });

  it('the upstream BIRD router and a PoP BFD helper', () => {
    golden('bird-rtr.conf', stable(readFileSync(join(dir, 'bird', 'rtr.conf'), 'utf8')));
    golden('bird-bfd-p1.conf', stable(readFileSync(join(dir, 'bird', 'bfd-p1.conf'), 'utf8')));
  });

  it("the lab's Prometheus: every component scraped, the shipped rules loaded, valid for promtool", () => {
    const rules = readdirSync(join(ROOT, 'deploy', 'prometheus')).filter((f) => f.endsWith('.rules.yml'));
    const text = renderPrometheusConfig(labOf(config, dir, ''), rules);
    golden('lab-prometheus.yml', text);
    const at = tempDir('gtm-prom-config-');
    for (const r of rules) copyFileSync(join(ROOT, 'deploy', 'prometheus', r), join(at, r));
    writeFileSync(join(at, 'prometheus.yml'), text);
    const check = spawnSync('promtool', ['check', 'config', join(at, 'prometheus.yml')], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('gobgpd for each lab PoP', () => {
    golden('gobgpd-lab-pops.toml', config.pops.map((p) => `# ${p.name}\n${renderGobgpdToml(p.bgp)}`).join('\n'));
  });

  it('the renderers on their own (no lab): IPv6 neighbor, no BFD, custom timers', () => {
    golden(
      'bird-custom.conf',
      renderBirdConfig({
        routerId: '192.0.2.1',
        asn: 64500,
        logFile: '/var/log/bird.log',
        peers: [{ name: 'edge', neighbor: '2001:db8::2', asn: 64501, bfd: false }],
      }),
    );
    golden(
      'bird-bfd-custom.conf',
      renderBfdOnlyConfig({
        routerId: '192.0.2.2',
        neighbor: '192.0.2.1',
        logFile: '/var/log/bfd.log',
        intervalMs: 300,
        multiplier: 5,
      }),
    );
  });

  it("FRR's bgpd and BIRD for two PoPs, and the router guide (docs/routers.md) shows exactly those configs", () => {
    const frr = renderFrrBgpd({
      routerId: '10.0.0.1',
      asn: 65000,
      logFile: '/var/log/frr/bgpd.log',
      peers: [
        { name: 'nyc1', neighbor: '10.0.1.2', asn: 65001, prefixes: ['198.51.100.10/32', '2001:db8:10::10/128'] },
        { name: 'dub1', neighbor: '10.0.2.2', asn: 65002, prefixes: ['198.51.100.20/32', '2001:db8:20::20/128'] },
      ],
    });
    golden('frr-bgpd.conf', frr);
    expect(readFileSync(join(ROOT, 'docs', 'routers.md'), 'utf8')).toContain(`\`\`\`\n${frr}\`\`\``);
    const bird = renderBirdConfig({
      routerId: '10.0.0.1',
      asn: 65000,
      logFile: '/var/log/bird/bird.log',
      kernel: true,
      peers: [
        {
          name: 'nyc1',
          neighbor: '10.0.1.2',
          asn: 65001,
          bfd: true,
          prefixes: ['198.51.100.10/32', '2001:db8:10::10/128'],
        },
        {
          name: 'dub1',
          neighbor: '10.0.2.2',
          asn: 65002,
          bfd: true,
          prefixes: ['198.51.100.20/32', '2001:db8:20::20/128'],
        },
      ],
    });
    golden('bird-guide.conf', bird);
    expect(readFileSync(join(ROOT, 'docs', 'routers.md'), 'utf8')).toContain(`\`\`\`\n${bird}\`\`\``);
  });
});
