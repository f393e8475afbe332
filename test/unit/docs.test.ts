// The documentation stays true to the code: every key the configuration schema accepts is in
// docs/configuration.md, every file ARCHITECTURE.md and the docs name exists, and the README
// stays a page a user reads first.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POLICY_KINDS } from '../../src/policy/index.js';
import { ROOT } from '../helpers/dns.js';

const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');

/** Every key list the schema checks (`obj(p, path, value, [keys])`) in src/config and src/policy. */
function schemaKeys(): { file: string; path: string; keys: string[] }[] {
  const out: { file: string; path: string; keys: string[] }[] = [];
  for (const dir of ['src/config', 'src/policy'])
    for (const f of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) {
      const file = `${dir}/${f}`;
      const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (n: import('typescript').Node) => {
        if (ts.isCallExpression(n) && n.expression.getText() === 'obj') {
          const list = n.arguments[3];
          if (list && ts.isArrayLiteralExpression(list))
            out.push({
              file,
              path: n.arguments[1]?.getText() ?? '',
              keys: list.elements.filter(ts.isStringLiteral).map((e) => e.text),
            });
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
  return out;
}

describe('documentation', () => {
  const reference = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

  it('the configuration reference names every key the schema accepts, and every policy', () => {
    const lists = schemaKeys();
    // The check sees the schema: the top level and the DNS settings are among what it found.
    expect(lists.find((l) => l.path === "''")?.keys).toEqual(
      expect.arrayContaining(['dns', 'geo', 'regions', 'zones', 'services', 'anycast', 'pops', 'control']),
    );
    expect(lists.length).toBeGreaterThan(25);
    const missing = lists.flatMap((l) =>
      l.keys.filter((k) => !reference.includes(`\`${k}\``)).map((k) => `${k} (${l.file}, under ${l.path})`),
    );
    expect(missing).toEqual([]);
    for (const kind of POLICY_KINDS) expect(reference, kind).toContain(`\`${kind}\``);
  });

  it('every file ARCHITECTURE.md and the docs name exists', () => {
    const docs = [
      'ARCHITECTURE.md',
      'README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const missing: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(
        /`((?:src|test|lab|scripts|bench|gobgp|geodata)\/[\w./-]+\.(?:ts|mjs|sh|yml|yaml|proto))`/g,
      ))
        if (!existsSync(join(ROOT, m[1] as string))) missing.push(`${doc}: ${m[1]}`);
      // Test files named on their own, beside a path that gives their folder.
      for (const m of text.matchAll(/`([\w-]+\.test\.ts)`/g))
        if (!['unit', 'integration', 'drills'].some((d) => existsSync(join(ROOT, 'test', d, m[1] as string))))
          missing.push(`${doc}: ${m[1]}`);
      for (const m of text.matchAll(/\]\((docs\/[\w-]+\.md|[\w-]+\.md)(?:#[\w-]+)?\)/g)) {
        const target =
          (m[1] as string).startsWith('docs/') || doc === 'README.md' || doc === 'ARCHITECTURE.md'
            ? (m[1] as string)
            : `docs/${m[1]}`;
        if (!existsSync(join(ROOT, target))) missing.push(`${doc}: link ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the README is what a user reads first: under 250 lines, with the two commands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThan(250);
    expect(readme).toContain('bash scripts/setup.sh && npx gtm lab up');
    expect(readme).toContain('bash scripts/test.sh');
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toContain('bash scripts/test.sh');
  });
});
