// Unknown is a state: a region none of whose agents has ever reported has no evidence either way
// and counts as control.unknown (up by default), never as down; once its agent has reported
// (pops/<pop>, written by the agent's own heartbeat publisher), its silence is evidence and reads as
// down, across DNS restarts too. Started in either order, DNS and the agent never send a London
// client away from a healthy eu-west.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Heartbeat } from '../../src/agent/heartbeat.js';
import { parseConfigText } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { heartbeat, popYaml } from '../helpers/shared-state.js';
import { waitForValue } from '../helpers/wait.js';

const dir = tempDir();
const cfg = testConfig(dir);
writeFileSync(
  cfg,
  `${readFileSync(cfg, 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
  heartbeat_ms: 200
  lease_ms: 1000
pops:
${popYaml('dub', 'eu-west', 2)}`,
);
const config = parseConfigText(readFileSync(cfg, 'utf8'));
const servers: RunningDns[] = [];
let agent: Heartbeat | undefined;
afterAll(async () => {
  await agent?.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

const london = async (s: RunningDns) =>
  (await kdig(s.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
/** Asks every 50 ms while `during` runs: every answer London got meanwhile. */
async function answersDuring(s: RunningDns, during: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  let done = false;
  const asking = (async () => {
    while (!done) {
      seen.add(await london(s));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await during();
  done = true;
  await asking;
  return seen;
}
const report = () => heartbeat('dub', 'eu-west');
const metric = async (s: RunningDns, name: string) => {
  const url = (/"metrics":"(http:[^"]+)"/.exec(s.log()) as RegExpExecArray)[1] as string;
  const body = await (await fetch(url)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
};

describe('a region with no evidence yet', () => {
  it('DNS first, then the agent: eu-west is unknown (counted as up), then up; London never leaves it', async () => {
    const dns = await startDns(cfg, 1);
    servers.push(dns);
    expect(await london(dns)).toBe('198.51.100.20');
    expect(await metric(dns, 'gtm_region_unknown{region="eu-west"}')).toBe(1);
    const seen = await answersDuring(dns, async () => {
      agent = new Heartbeat('dub', config.control, report, createLogger('agent', 'silent'));
      await agent.start();
      await waitForValue(
        'eu-west known',
        () => metric(dns, 'gtm_region_unknown{region="eu-west"}'),
        (v) => v === 0,
      );
    });
    expect([...seen]).toEqual(['198.51.100.20']);
  });

  it('the agent first, then DNS: served from its first answer', async () => {
    const dns = await startDns(cfg, 1);
    servers.push(dns);
    const seen = await answersDuring(dns, () => new Promise((r) => setTimeout(r, 1000)));
    expect([...seen]).toEqual(['198.51.100.20']);
    expect(await metric(dns, 'gtm_region_unknown{region="eu-west"}')).toBe(0);
  });

  it('once the agent has reported, its silence is down, and stays down for a DNS server started after', async () => {
    await agent?.stop();
    agent = undefined;
    const first = servers[1] as RunningDns;
    await waitForValue(
      'eu-west out once the lease runs out',
      () => london(first),
      (a) => a === '198.51.100.10',
    );
    const late = await startDns(cfg, 1);
    servers.push(late);
    expect(await london(late)).toBe('198.51.100.10');
    expect(await metric(late, 'gtm_region_unknown{region="eu-west"}')).toBe(0);
  });
});
