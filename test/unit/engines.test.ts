// The engines the package declares are the engines it runs on: every package in the lockfile
// accepts the oldest Node our package.json admits (npm ci runs with engine-strict too, .npmrc).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/dns.js';

type Version = [number, number, number];
const parse = (v: string): Version => {
  const [a = 0, b = 0, c = 0] = v
    .replace(/^[v=]/, '')
    .split('.')
    .map((x) => (x === 'x' || x === '*' ? 0 : Number(x)));
  return [a, b, c];
};
const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `v` satisfies an npm range of the forms engines use (>=, >, <, <=, ^, ~, x, ||). */
export function satisfies(v: string, range: string): boolean {
  const version = parse(v);
  return range.split('||').some((alt) =>
    alt
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((c) => {
        const m = /^(>=|<=|>|<|\^|~|=)?\s*(.+)$/.exec(c);
        if (!m || c === '*') return true;
        const [op = '=', target] = [m[1], m[2] as string];
        const t = parse(target);
        const d = cmp(version, t);
        if (op === '>=') return d >= 0;
        if (op === '>') return d > 0;
        if (op === '<=') return d <= 0;
        if (op === '<') return d < 0;
        if (op === '^') return d >= 0 && version[0] === t[0];
        if (op === '~') return d >= 0 && version[0] === t[0] && version[1] === t[1];
        const parts = target.split('.').length;
        return version.slice(0, parts).every((x, i) => x === t[i] || /[x*]/.test(target.split('.')[i] ?? ''));
      }),
  );
}

describe('engines', () => {
  it('every package in the lockfile runs on the oldest Node the package declares', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(pkg.engines.node)?.[1];
    expect(oldest, 'package.json engines.node is >=X.Y').toBeDefined();
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };
    const refusing = Object.entries(lock.packages).flatMap(([name, p]) => {
      const node = !p.engines || Array.isArray(p.engines) ? undefined : p.engines.node;
      return node && !satisfies(oldest as string, node) ? [`${name || 'this package'}: node ${node}`] : [];
    });
    expect(refusing).toEqual([]);
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
  });

  it('reads ranges as npm does', () => {
    expect(satisfies('20.19.0', '>=22')).toBe(false);
    expect(satisfies('20.19.0', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('20.19.0', '^18.0.0 || ^20.0.0 || >=22.0.0')).toBe(true);
    expect(satisfies('20.19.0', '>= 14')).toBe(true);
    expect(satisfies('20.19.0', '^21')).toBe(false);
  });
});
