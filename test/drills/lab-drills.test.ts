// The drills CI runs on every push: a whole lab (BIRD router, three PoPs with gobgpd, agents,
// BFD and LB nodes, GeoDNS, control, clients) in namespaces of its own, then the PoP
// cluster-down, planned drain, recovery, upstream-blackhole (vantage quorum + alert) drills, and
// the fleet drills (shared anycast VIP down, fleet-wide false signal, one API drain for both layers)
// region-overload (capacity: a share of answers shed under load, then returned) and
// control-plane-down (the control plane frozen while a PoP fails) and flapping-cluster (damping
// turned on by SIGHUP, a minute of flaps).
// Their timelines go to the log.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, tempDir } from '../helpers/dns.js';
import { labOfOwn, type Lab } from '../helpers/lab.js';

// Host ports of our own for the console and Prometheus relays (an operator's lab may hold 9190).
process.env.GTM_LAB_CONSOLE_PORT = String(await freePort());
process.env.GTM_LAB_PROMETHEUS_PORT = String(await freePort());
const { labMod, drills } = await labOfOwn('gtd', 'ci');
const { fetchIn, ip, killPid, spawnIn } = await import('../../lab/netns.js');

let lab: Lab | undefined;
let pids: number[] = [];
let isDown = false;
let stray: import('node:child_process').ChildProcess | undefined;

const ours = () =>
  ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(labMod.PREFIX));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  lab = await labMod.up(undefined, (s) => console.log(s));
}, 90_000);

afterAll(async () => {
  if (!isDown) await labMod.down((s) => console.log(s));
  // Our own stray child, only if `down` failed to end it.
  if (stray && stray.exitCode === null && stray.signalCode === null) killPid(stray.pid, 'SIGKILL');
}, 30_000);

describe('failover lab', () => {
  it('comes up with every PoP serving and each client answered by its nearest region', async () => {
    const s = await labMod.status(lab as Lab);
    console.log(labMod.formatStatus(s));
    expect(s.pops.map((p) => [p.name, p.agent, p.routerPaths, p.serving])).toEqual([
      ['us-east', 'UP', 1, true],
      ['eu-west', 'UP', 1, true],
      ['ap-southeast', 'UP', 1, true],
    ]);
    const vipOf = Object.fromEntries(s.pops.map((p) => [p.name, p.vip]));
    expect(s.clients.map((c) => [c.name, c.answer, c.http.replace(/-lb\d$/, '')])).toEqual([
      ['gb', vipOf['eu-west'], 'served by eu-west'],
      ['us', vipOf['us-east'], 'served by us-east'],
      ['sg', vipOf['ap-southeast'], 'served by ap-southeast'],
    ]);
  });

  it('signs its zone: a client asking with DO gets the answer with its RRSIG', () => {
    const out = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        `${labMod.PREFIX}c-gb`,
        'kdig',
        `@${labMod.DNS_IP}`,
        '+dnssec',
        '+norec',
        'www.example.test',
        'A',
      ],
      {
        encoding: 'utf8',
      },
    ).stdout;
    expect(out).toMatch(/www\.example\.test\.\s+\d+\s+IN\s+RRSIG\s+A 13 /);
  });

  it('keeps the control API on a management network: not from a client, yes from the DNS namespace with the token', () => {
    const l = lab as Lab;
    const client = l.clients[0] as Lab['clients'][number];
    const fromClient = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        client.ns,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--max-time',
        '2',
        `http://${labMod.DNS_IP}:9190/api/v1/regions`,
      ],
      { encoding: 'utf8' },
    );
    expect(fromClient.stdout).toBe('000'); // nothing listens there: connection refused
    const fromDns = fetchIn(`${labMod.PREFIX}dns`, 'http://127.0.0.1:9190/api/v1/regions');
    expect(fromDns.status).toBe(200);
    const write = (token?: string) =>
      fetchIn(
        `${labMod.PREFIX}dns`,
        'http://127.0.0.1:9190/api/v1/regions/ap-southeast/override?reason=check',
        'DELETE',
        undefined,
        token ? { authorization: `Bearer ${token}` } : {},
      ).status;
    expect(write()).toBe(401);
    expect(write(l.token)).toBe(200);
    // The secret is not in the config the lab's processes read, only its hash.
    expect(readFileSync(l.config, 'utf8')).not.toContain(l.token);
  });

  for (const name of [
    'cluster-down',
    'drain',
    'recovery',
    'upstream-blackhole',
    'anycast-pop-down',
    'false-signal-fleetwide',
    'region-drain-api',
    'region-overload',
    'control-plane-down',
    'flapping-cluster',
  ]) {
    it(`drill ${name} meets its expectations`, async () => {
      const r = await drills.runDrill(lab as Lab, name);
      console.log(drills.formatDrill(r));
      // As `gtm lab drill` does: the console charts it.
      expect(await drills.recordDrill(lab as Lab, r)).toBeUndefined();
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.expectations.length).toBeGreaterThan(2);
      expect(r.passed).toBe(true);
      // A whole cluster dying goes through every layer, each after the fault and in an order that
      // can happen: the agent detects before the DNS server decides, which is before DNS moves.
      if (name === 'cluster-down') {
        const p = r.phases ?? {};
        expect(Object.keys(p).sort()).toEqual(['bgp', 'clients', 'decide', 'detect', 'dns']);
        expect((p.detect ?? -1) >= 0 && (p.detect ?? 0) <= (p.decide ?? -1) && (p.decide ?? 0) <= (p.dns ?? -1)).toBe(
          true,
        );
      }
    }, 150_000);
  }

  it('relays the console and Prometheus to the host loopback for a browser', async () => {
    const page = await fetch(`http://127.0.0.1:${process.env.GTM_LAB_CONSOLE_PORT}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>gtm console</title>');
    const regions = (await (
      await fetch(`http://127.0.0.1:${process.env.GTM_LAB_CONSOLE_PORT}/api/v1/regions`)
    ).json()) as {
      name: string;
    }[];
    expect(regions.map((r) => r.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    const ready = await fetch(`http://127.0.0.1:${process.env.GTM_LAB_PROMETHEUS_PORT}/-/ready`);
    expect(ready.status).toBe(200);
    // Every drill's timeline, newest first, with the lanes the console's chart draws.
    const recorded = (await (
      await fetch(`http://127.0.0.1:${process.env.GTM_LAB_CONSOLE_PORT}/api/v1/drills`)
    ).json()) as { name: string; who: string; timeline: { lane: string }[] }[];
    expect(recorded.map((d) => d.name)).toEqual([
      'flapping-cluster',
      'control-plane-down',
      'region-overload',
      'region-drain-api',
      'false-signal-fleetwide',
      'anycast-pop-down',
      'upstream-blackhole',
      'recovery',
      'drain',
      'cluster-down',
    ]);
    expect(recorded[0]?.who).toBe('lab');
    const lanes = new Set(recorded.flatMap((d) => d.timeline.map((e) => e.lane)));
    for (const lane of ['drill', 'router', 'events', 'dns', 'clients']) expect(lanes).toContain(lane);
  });

  it("the lab's Prometheus scrapes every component, and every dashboard panel's query returns data after the drills", () => {
    const l = lab as Lab;
    const ns = `${labMod.PREFIX}dns`;
    const up = labMod.queryPrometheus(ns, 'up');
    expect(up.map((r) => `${r.metric.job} ${r.metric.instance} ${r.value[1]}`).sort()).toEqual(
      labMod
        .labTargets(l)
        .map((t) => `${t.job} ${t.target} 1`)
        .sort(),
    );
    // The shipped rules are loaded and evaluate without errors.
    const rules = JSON.parse(
      fetchIn(ns, `http://${labMod.PROMETHEUS.host}:${labMod.PROMETHEUS.port}/api/v1/rules`).body,
    );
    const groups = rules.data.groups as {
      name: string;
      rules: { name: string; health: string; lastError?: string }[];
    }[];
    expect(groups.map((g) => g.name)).toContain('gtm-alerts');
    expect(groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok')).toEqual([]);
    // Grafana would send each panel's queries with $__rate_interval filled in.
    type Panel = { title: string; targets: { expr: string }[] };
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'gtm-dashboard.json'), 'utf8')) as {
      panels: Panel[];
    };
    const empty = dashboard.panels
      .filter(
        (p) =>
          !p.targets.some((t) => labMod.queryPrometheus(ns, t.expr.replaceAll('$__rate_interval', '30s')).length > 0),
      )
      .map((p) => p.title);
    expect(empty).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(15);
  });

  it('down removes every namespace and process it made', async () => {
    const dir = (lab as Lab).dir;
    pids = readFileSync(join(dir, 'pids'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[1]))
      .filter((p) => p > 0);
    expect(pids.length).toBeGreaterThan(15);
    expect(ours().length).toBe(8);
    // A process the lab never recorded (as after a crash of `lab up`) goes too.
    const child = spawnIn(`${labMod.PREFIX}p1`, 'sleep', ['300']);
    stray = child;
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(child.pid as number)).toBe(true);
    pids.push(child.pid as number);
    await labMod.down((s) => console.log(s));
    isDown = true;
    // Our own child: wait for its exit (reaped here, else it lingers as a zombie), without
    // killing it ourselves, so only `down` can have ended it.
    if (child.exitCode === null && child.signalCode === null)
      await new Promise((r) => (child.once('exit', r), setTimeout(r, 2000)));
    expect(child.signalCode).toBe('SIGKILL');
    expect(ours()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 30_000);
});

describe('gtm lab up with a bad config', () => {
  it('says what is wrong with the file and leaves nothing behind', () => {
    const dir = tempDir('gtm-lab-bad-');
    const env = { ...process.env, GTM_LAB_PREFIX: `gtb${process.pid % 10000}-`, GTM_LAB_DIR: join(dir, 'lab') };
    const cases: [string, string, RegExp][] = [
      ['empty.yaml', '', /must be a YAML mapping/],
      ['broken.yaml', 'regions: [\n', /not valid YAML/],
      ['wrong.yaml', 'zones: 5\n', /regions: must be a mapping/],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(join(dir, name), text);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'lab', 'up', '--config', join(dir, name)], {
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).toContain(`cannot build the lab from ${join(dir, name)}`);
      expect(r.stderr, name).toMatch(message);
      expect(existsSync(join(dir, 'lab')), name).toBe(false);
      expect(ip('netns', 'list'), name).not.toContain(env.GTM_LAB_PREFIX);
    }
  }, 60_000);
});
