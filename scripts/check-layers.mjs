#!/usr/bin/env node
// Layering rules, checked on every import in src/, lab/, bench/, geodata/ (CI runs this).
// A rule names the files it applies to and the import specifiers they may not use. Imports are
// read from the source text (static `import ... from`, `export ... from` and dynamic import()).
// Why a script and not ESLint: these rules are the whole need, and a reader sees them at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** Pure modules: decisions with no I/O, tested without sockets or timers. */
const PURE = [
  'src/state/contract.ts',
  'src/state/events.ts',
  'src/state/merge.ts',
  'src/state/anycast.ts',
  'src/agent/shared-guard.ts',
  'src/dnssec/keys.ts',
  'src/dnssec/sign.ts',
  'src/agent/vip-state.ts',
  'src/health/state.ts',
  'src/bgp/paths.ts',
  'src/bgp/bfd.ts',
  'src/dns/wire.ts',
  'src/dns/rr.ts',
  'src/dns/writer.ts',
  'src/dns/query.ts',
  'src/agent/desired.ts',
  'src/config/names.ts',
  'src/config/zones.ts',
  'src/config/validate.ts',
  'src/config/limits.ts',
  'src/geo/types.ts',
  'src/geo/distance.ts',
  'src/net/index.ts',
];
const IO = /^(node:(fs|net|dgram|child_process|http|https|cluster)|fastify|maxmind|etcd3|node-cron|@grpc\/grpc-js)$/;

const RULES = [
  {
    what: 'pure modules do no I/O and load no server or database library',
    files: (f) => PURE.includes(f) || f.startsWith('src/policy/'),
    banned: (spec) => IO.test(spec),
  },
  {
    what: "src/ does not import the lab (only the CLI's lab command may)",
    files: (f) => f.startsWith('src/') && f !== 'src/cli/index.ts',
    banned: (_s, target) => target?.startsWith('lab/'),
  },
  {
    what: "DNS and agent do not import the operators' control API",
    files: (f) => f.startsWith('src/dns/') || f.startsWith('src/agent/'),
    banned: (_s, target) => target?.startsWith('src/control/'),
  },
  {
    what: 'shared state does not import the control API, DNS or the agent',
    files: (f) => f.startsWith('src/state/'),
    banned: (_s, target) => /^src\/(control|dns|agent)\//.test(target ?? ''),
  },
  {
    what: 'etcd3 is loaded only by the etcd store (lazily)',
    files: (f) => f !== 'src/state/etcd-store.ts',
    banned: (spec) => spec === 'etcd3',
  },
];

function* walk(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;
const problems = [];
let files = 0;
for (const top of ['src', 'lab', 'bench', 'geodata']) {
  for (const abs of walk(join(ROOT, top))) {
    files++;
    const file = relative(ROOT, abs);
    const text = readFileSync(abs, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      // Type-only imports vanish at run time; layering is about what is loaded.
      const typeOnly = /^\s*(?:import|export)\s+type\s/.test(m[0].replace(/^\n/, ''));
      const target = spec.startsWith('.')
        ? relative(ROOT, resolve(dirname(abs), spec)).replace(/\.js$/, '.ts')
        : undefined;
      for (const r of RULES) {
        if (r.files(file) && !typeOnly && r.banned(spec, target)) problems.push(`${file}: imports ${spec} — ${r.what}`);
      }
    }
  }
}
if (problems.length) {
  process.stderr.write(`layering: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}\n`).join('')}`);
  process.exit(1);
}
process.stdout.write(`layering: ${files} files, ${RULES.length} rules, no problems\n`);
