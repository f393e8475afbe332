// `gtm lab ...`: the failover lab and its drills. The only part of the product that loads lab/.
import { parseArgs } from 'node:util';

type Options = {
  config?: string;
  json?: boolean;
  dir?: string;
  etcd?: string;
  router?: string;
  engine?: string;
  containers?: boolean;
  'without-prometheus'?: boolean;
  store?: string;
};
type LabModule = typeof import('../../lab/lab.js');

const USAGE =
  'usage: gtm lab up [--config FILE] [--router bird|frr] [--engine netns|compose] [--store file|etcd] [--without-prometheus] | gtm lab status [--json] | gtm lab down | gtm lab drill NAME... [--json] | gtm lab render\n';

export async function labCommand(args: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean' },
      dir: { type: 'string' },
      etcd: { type: 'string' },
      router: { type: 'string' },
      engine: { type: 'string' },
      containers: { type: 'boolean' },
      'without-prometheus': { type: 'boolean' },
      store: { type: 'string' },
    },
  });
  const lab = await import('../../lab/lab.js');
  switch (positionals[0]) {
    case 'up':
      return up(lab, values);
    case 'status': {
      const s = await lab.status(lab.loadLab());
      process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${lab.formatStatus(s)}\n`);
      return 0;
    }
    case 'down':
      await lab.down();
      return 0;
    case 'render':
      return render(lab, values);
    case 'drill':
      return drill(lab, positionals.slice(1), values);
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

async function up(lab: LabModule, values: Options): Promise<number> {
  const router = values.router ?? 'bird';
  if (router !== 'bird' && router !== 'frr') throw new Error('--router must be bird or frr');
  const engine = values.engine ?? 'netns';
  if (engine !== 'netns' && engine !== 'compose') throw new Error('--engine must be netns or compose');
  // The namespace lab shares a state file by default; etcd in the DNS node, as across machines,
  // when asked (the compose lab always runs etcd).
  const store = values.store ?? (engine === 'compose' ? 'etcd' : 'file');
  if (store !== 'file' && store !== 'etcd') throw new Error('--store must be file or etcd');
  if (engine === 'compose' && store !== 'etcd') throw new Error('the compose lab shares its state through etcd');
  const l = await lab.up(values.config, console.log, {
    router,
    engine,
    store,
    prometheus: !values['without-prometheus'],
  });
  const reach =
    engine === 'compose'
      ? `docker compose exec dns, or ip netns exec ${lab.PREFIX}dns`
      : `ip netns exec ${lab.PREFIX}dns`;
  process.stdout.write(
    `lab is up\n\n${lab.formatStatus(await lab.status(l))}\n\ncontrol API and console: 127.0.0.1:9190 inside the lab's DNS node (${reach}); from the host (namespace lab): http://127.0.0.1:${process.env.GTM_LAB_CONSOLE_PORT ?? 9190}/; token in ${l.dir}/token (root only)\n` +
      `next: npx gtm lab status | npx gtm lab drill cluster-down | npx gtm lab drill all | npx gtm lab down\n`,
  );
  return 0;
}

async function render(lab: LabModule, values: Options): Promise<number> {
  if (values.containers) {
    const written = (await import('../../lab/containers.js')).writeContainerFiles();
    process.stdout.write(`rendered ${written.join(', ')}\n`);
    return 0;
  }
  // The container images run these files.
  if (!values.dir) {
    process.stderr.write(
      'usage: gtm lab render --dir DIR [--config FILE] [--etcd URL] | gtm lab render --containers\n',
    );
    return 2;
  }
  lab.renderLab(values.dir, values.config, { etcd: values.etcd });
  process.stdout.write(`lab files written to ${values.dir}\n`);
  return 0;
}

async function drill(lab: LabModule, asked: string[], values: Options): Promise<number> {
  const drills = await import('../../lab/drills.js');
  const names = asked.flatMap((n) => (n === 'all' ? drills.DRILL_NAMES : [n]));
  if (!names.length) {
    process.stderr.write(`usage: gtm lab drill NAME... | all [--json]   (drills: ${drills.DRILL_NAMES.join(', ')})\n`);
    return 2;
  }
  const l = lab.loadLab();
  const results: Awaited<ReturnType<typeof drills.runDrill>>[] = [];
  for (const name of names) {
    const why = drills.cannotRun(l, name);
    // `all` runs what this lab can; a drill asked for by name says why it cannot.
    if (why && asked.includes('all') && !asked.includes(name)) {
      process.stderr.write(`skipped: ${why}\n`);
      continue;
    }
    const r = await drills.runDrill(l, name);
    results.push(r);
    process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${drills.formatDrill(r)}\n\n`);
    // The console draws the last drill's timeline.
    const unrecorded = await drills.recordDrill(l, r);
    if (unrecorded) process.stderr.write(`drill ${name} not recorded with the control plane: ${unrecorded}\n`);
  }
  const table = drills.formatPhases(results);
  if (table && !values.json) process.stdout.write(`${table}\n`);
  return results.some((r) => !r.passed) ? 1 : 0;
}
