// Sticky weighted answers through the real server, seen with kdig: a client subnet (ECS) keeps
// its region query after query, the ECS scope says the answer holds for its /24, and `gtm explain`
// names the rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gtmExplain, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let dns: RunningDns;
let config: string;
const STICKY = [
  '  sticky:',
  '    name: sticky.example.test',
  '    ttl: 30',
  '    pools: [us-east, eu-west, ap-southeast]',
  '    policy: { weighted: { sticky: true } }',
  '',
].join('\n');

beforeAll(async () => {
  config = testConfig(tempDir(), { services: STICKY });
  dns = await startDns(config, 2);
});
afterAll(async () => {
  await dns?.stop();
});

const answerOf = (out: string) => /sticky\.example\.test\.\s+\d+\s+IN\s+A\s+(\S+)/.exec(out)?.[1];

describe('sticky weighted', () => {
  it('each subnet keeps its region across queries and workers; the scope is the hashed /24', async () => {
    const seen = new Set<string>();
    for (let net = 0; net < 24; net++) {
      const subnet = `203.0.${net}.0/24`;
      const answers = new Set<string | undefined>();
      for (let i = 0; i < 6; i++) {
        const out = await kdig(dns.port, [`+subnet=203.0.${net}.${i * 40}/32`, 'sticky.example.test', 'A']);
        answers.add(answerOf(out));
        if (i === 0) expect(out).toMatch(/CLIENT-SUBNET: 203\.0\.\d+\.\d+\/32\/24/);
      }
      expect([...answers], subnet).toHaveLength(1);
      seen.add([...answers][0] as string);
    }
    // Different subnets are spread over the regions (24 subnets, 3 regions of equal weight).
    expect(seen.size).toBe(3);
  }, 60_000);

  it('gtm explain names the rule', async () => {
    const r = await gtmExplain(config, ['--client', '127.0.0.1', '--ecs', '203.0.7.0/24', 'sticky.example.test']);
    expect(r.stdout).toMatch(/weighted sticky by \/24 \(rendezvous hashing\)/);
  });
});
