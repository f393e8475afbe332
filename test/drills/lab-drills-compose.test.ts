// The compose lab for real: `gtm lab up --engine compose` on a Docker engine (the lab's own
// dockerd when none runs, as in CI), with images built from Debian's packages (no registry);
// the cluster-down, drain, link-cut, recovery, control-plane-down and store-lost-and-back drills
// through the same drill code as the namespace lab; `lab down` leaving nothing behind; then plain `docker-compose up` with the
// documented image build, as a user who never touches the CLI would run it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/dns.js';
import { labOfOwn, type Lab } from '../helpers/lab.js';

const { labMod, drills } = await labOfOwn('gtc', 'compose');
const engineMod = await import('../../lab/docker-engine.js');
const { ip } = await import('../../lab/netns.js');

let lab: Lab | undefined;
let isDown = false;

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() : 'absent');
const tool = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error ? `${cmd}: not on this machine` : r.stdout;
};
/** What a container engine could change on the host, and must change back. */
function hostState() {
  return {
    links: ip('-o', 'link', 'show')
      .split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0])
      .filter(Boolean)
      .sort(),
    namespaces: ip('netns', 'list')
      .split('\n')
      .filter((l) => l.startsWith(labMod.PREFIX)),
    sysctls: [
      '/proc/sys/net/ipv4/ip_forward',
      '/proc/sys/net/ipv4/conf/all/forwarding',
      '/proc/sys/net/bridge/bridge-nf-call-iptables',
      '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
    ].map(read),
    iptables: tool('iptables-save', []).replace(/^#.*$/gm, ''),
    nft: tool('nft', ['list', 'ruleset']),
    mounts: readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .filter((m) => m.includes('gtm-docker')),
    execRoot: existsSync(engineMod.OWN_ENGINE.execRoot),
  };
}
const before = hostState();
const ownEngineBefore = existsSync(engineMod.OWN_ENGINE.pidfile);

beforeAll(async () => {
  // A fresh machine builds the images first: about 2 min of debootstrap and 1 min of apt.
  lab = await labMod.up(undefined, (s) => console.log(s), { engine: 'compose' });
}, 1_200_000);

afterAll(async () => {
  if (!isDown) await labMod.down((s) => console.log(s));
}, 120_000);

describe('the compose lab', () => {
  it('comes up in containers, each client answered by its nearest region and served', async () => {
    const s = await labMod.status(lab as Lab);
    console.log(labMod.formatStatus(s));
    expect((lab as Lab).engine).toBe('compose');
    expect(Object.keys((lab as Lab).compose?.containers ?? {}).sort()).toEqual(
      ['ap-southeast', 'c-gb', 'c-sg', 'c-us', 'control', 'dns', 'etcd', 'eu-west', 'router', 'us-east'].sort(),
    );
    expect(s.pops.map((p) => [p.name, p.agent, p.routerPaths, p.serving])).toEqual([
      ['us-east', 'UP', 1, true],
      ['eu-west', 'UP', 1, true],
      ['ap-southeast', 'UP', 1, true],
    ]);
    expect(s.clients.map((c) => [c.name, c.http.replace(/-lb\d$/, '')])).toEqual([
      ['gb', 'served by eu-west'],
      ['us', 'served by us-east'],
      ['sg', 'served by ap-southeast'],
    ]);
  });

  // The planes' drills too: the control plane and etcd are containers of their own here.
  for (const name of ['cluster-down', 'drain', 'link-cut', 'recovery', 'control-plane-down', 'store-lost-and-back']) {
    it(`drill ${name} meets its expectations in containers`, async () => {
      const r = await drills.runDrill(lab as Lab, name);
      console.log(drills.formatDrill(r));
      // Recorded with the control plane in its container, as `gtm lab drill` does.
      expect(await drills.recordDrill(lab as Lab, r)).toBeUndefined();
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.passed).toBe(true);
    }, 90_000);
  }

  it('lab down removes every container, network, volume, namespace and the engine it started', async () => {
    const c = (lab as Lab).compose as NonNullable<Lab['compose']>;
    await labMod.down((s) => console.log(s));
    isDown = true;
    expect(existsSync((lab as Lab).dir)).toBe(false);
    if (c.startedPid) {
      // Its own engine: stopped, its exec root and mounts gone.
      expect(() => process.kill(c.startedPid as number, 0)).toThrow();
    } else {
      const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${c.project}`], {
        env: { ...process.env, DOCKER_HOST: c.host },
        encoding: 'utf8',
      });
      expect(left.trim()).toBe('');
    }
    if (!ownEngineBefore) expect(hostState()).toEqual(before);
  }, 120_000);
});

describe('plain docker-compose, as a user without the CLI runs it', () => {
  it('builds the images, comes up from the volume the image fills, fails a PoP over, and goes', async () => {
    const engine = await engineMod.ensureEngine((s) => console.log(s));
    const project = `plain${process.pid % 10000}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DOCKER_HOST: engine.host,
      GTM_LAB_TOKEN: 'plain-compose-token-0123456789',
    };
    delete env.GTM_LAB_DIR; // the image's own files, as a user gets them
    const dc = (args: string[]) =>
      spawnSync('docker-compose', ['-p', project, '-f', join(ROOT, 'docker-compose.yml'), ...args], {
        env,
        encoding: 'utf8',
        timeout: 300_000,
      });
    try {
      const built = spawnSync('bash', [join(ROOT, 'lab', 'docker', 'build-images.sh')], { env, encoding: 'utf8' });
      expect(built.status, built.stderr).toBe(0);
      const up = dc(['up', '-d']);
      expect(up.status, up.stderr).toBe(0);
      const ask = () =>
        dc([
          'exec',
          '-T',
          'c-us',
          'kdig',
          '@198.19.100.2',
          '+short',
          '+time=1',
          '+subnet=198.18.3.0/24',
          'www.example.test',
        ])
          .stdout.trim()
          .split('\n')
          .at(-1);
      const until = async (want: string) => {
        const end = Date.now() + 90_000;
        while (ask() !== want) {
          if (Date.now() > end)
            throw new Error(`New York never answered ${want}: ${dc(['logs', '--tail', '20']).stdout}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      };
      await until('198.51.100.10');
      expect(dc(['exec', '-T', 'c-us', 'curl', '-s', 'http://198.51.100.10/']).stdout).toMatch(/^served by us-east/);
      // As the compose file's comment shows: kill us-east's cluster, New York moves to eu-west.
      expect(
        dc(['exec', '-T', 'us-east', 'gtm-lab-entry', 'signal', 'KILL', 'us-east-lb1', 'us-east-lb2']).status,
      ).toBe(0);
      await until('198.51.100.20');
    } finally {
      const down = dc(['down', '-v', '-t', '5']);
      expect(down.status, down.stderr).toBe(0);
      await engineMod.stopEngine(engine, (s) => console.log(s));
    }
    if (!ownEngineBefore && engine.startedPid) expect(hostState()).toEqual(before);
  }, 600_000);
});
