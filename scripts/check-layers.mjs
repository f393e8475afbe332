#!/usr/bin/env node
// Layering rules, checked on every import in src/, lab/, bench/, geodata/ (CI runs this):
//  - the folders of src/ are layers (LAYERS): a folder imports only folders of lower layers, so
//    no two folders import each other and no import goes upward;
//  - no import circle between files (type-only imports included);
//  - the rules below (pure modules, who may load the lab, the control API, etcd3);
//  - no function in src/ longer than MAX_FUNCTION_LINES unless a `// long: WHY` comment above it
//    says why.
// Imports are read from the source text (static `import ... from`, `export ... from` and dynamic
// import()); function lengths from TypeScript's own parser. Why a script and not ESLint: these
// rules are the whole need, and a reader sees them at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve, dirname } from 'node:path';

const ts = createRequire(import.meta.url)('typescript');

/**
 * The folders of src/, lowest first. A folder may import folders of lower layers only; a new
 * folder must be placed here. Leaves import nothing of the product.
 */
const LAYERS = [
  ['net', 'runtime', 'contract', 'wire', 'observability', 'auth'],
  ['validate', 'geo'],
  ['policy'],
  ['config'],
  ['bgp', 'dnssec', 'health', 'state', 'alerts'],
  ['dns', 'vantage'],
  ['agent', 'control'],
  ['cli'],
];
const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i])));
const MAX_FUNCTION_LINES = 80;

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** Pure modules: decisions with no I/O, tested without sockets or timers. */
const PURE = [
  'src/contract/contract.ts',
  'src/runtime/hot-cache.ts',
  'src/runtime/hash.ts',
  'src/dns/rrl.ts',
  'src/dns/transfer.ts',
  'src/dns/tsig.ts',
  'src/dns/ixfr.ts',
  'src/dns/xfr-in.ts',
  'src/dns/notify-in.ts',
  'src/wire/records.ts',
  'src/dns/serial-rule.ts',
  'src/dns/cookies.ts',
  'src/dns/zone-export.ts',
  'src/contract/events.ts',
  'src/contract/checks.ts',
  'src/contract/store-access.ts',
  'src/state/merge.ts',
  'src/state/capacity.ts',
  'src/state/damping.ts',
  'src/state/store-lost.ts',
  'src/state/calculated.ts',
  'src/runtime/log-tally.ts',
  'src/dns/udp-turns.ts',
  'src/state/anycast.ts',
  'src/agent/shared-guard.ts',
  'src/dnssec/keys.ts',
  'src/dnssec/sign.ts',
  'src/agent/vip-state.ts',
  'src/health/state.ts',
  'src/bgp/paths.ts',
  'src/bgp/bfd.ts',
  'src/wire/parse.ts',
  'src/wire/rr.ts',
  'src/wire/writer.ts',
  'src/wire/query.ts',
  'src/dns/lookup.ts',
  'src/dns/memo.ts',
  'src/dns/answer-writer.ts',
  'src/dns/answer-signer.ts',
  'src/agent/desired.ts',
  'src/config/names.ts',
  'src/config/zones.ts',
  'src/config/master-file.ts',
  'src/validate/index.ts',
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
    files: (f) => f.startsWith('src/') && f !== 'src/cli/lab.ts',
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
    what: 'etcd3 is loaded only by the etcd store and its RBAC setup (both lazily)',
    files: (f) => f !== 'src/state/etcd-store.ts' && f !== 'src/state/etcd-rbac.ts',
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
/** file -> the files it imports (relative paths, .ts), for the circle check. */
const graph = new Map();
const folderOf = (f) => (f.startsWith('src/') ? f.split('/')[1] : undefined);
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
      if (target) {
        if (!graph.has(file)) graph.set(file, []);
        graph.get(file).push(target);
      }
      const [from, to] = [folderOf(file), target && folderOf(target)];
      if (from && to && from !== to) {
        if (!layerOf.has(from) || !layerOf.has(to))
          problems.push(`${file}: src/${layerOf.has(from) ? to : from} is in no layer — add it to LAYERS`);
        else if (layerOf.get(to) >= layerOf.get(from))
          problems.push(`${file}: imports ${spec} — src/${from} may not import src/${to} (same or higher layer)`);
      }
    }
    if (file.startsWith('src/')) longFunctions(file, text);
  }
}

/** Functions over MAX_FUNCTION_LINES without a stated reason (`// long: WHY` just above them). */
function longFunctions(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node, name) => {
    const body =
      (ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node) ||
        ts.isConstructorDeclaration(node)) &&
      node.body;
    if (body) {
      const line = (pos) => sf.getLineAndCharacterOfPosition(pos).line;
      const lines = line(body.getEnd()) - line(body.getStart()) + 1;
      const before = text.slice(0, node.getStart()).split('\n').slice(-4).join('\n');
      if (lines > MAX_FUNCTION_LINES && !/\/\/ long: \S/.test(before))
        problems.push(
          `${file}:${line(node.getStart()) + 1}: ${node.name?.getText() ?? name ?? 'a function'} is ${lines} lines (over ${MAX_FUNCTION_LINES}: split it, or say why above it with // long: WHY)`,
        );
    }
    ts.forEachChild(node, (c) => visit(c, ts.isVariableDeclaration(node) ? node.name.getText() : name));
  };
  visit(sf);
}

/** Import circles between files (Tarjan's strongly connected components). */
function circles() {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const found = [];
  const connect = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w) && !index.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) found.push(c);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}
for (const c of circles()) problems.push(`import circle: ${c.sort().join(' -> ')}`);
if (problems.length) {
  process.stderr.write(`layering: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}\n`).join('')}`);
  process.exit(1);
}
process.stdout.write(
  `layering: ${files} files, ${LAYERS.length} layers, ${RULES.length} rules, no import circle, no function over ${MAX_FUNCTION_LINES} lines without a reason: no problems\n`,
);
