// Configs are read with js-yaml (fast) and, for texts it refuses, with `yaml` (clear
// messages). Both must give the same values for every config we ship or test with, and a
// hostile text (alias bomb, duplicate keys, junk) must be refused with a clear problem.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import { readYaml } from '../../src/config/yaml.js';
import { bigZoneConfig, manyRegionsConfig } from '../../bench/scale-configs.js';
import { renderLab } from '../../lab/render.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';

/** The lab's rendered config (PoPs, shared state, tokens): the largest hand-shaped one. */
function labText(): string {
  const dir = tempDir();
  renderLab(dir);
  return readFileSync(join(dir, 'config.yaml'), 'utf8');
}

const viaYaml = (text: string) => parseDocument(text, { uniqueKeys: true }).toJS({ maxAliasCount: 100 });

describe('config YAML', () => {
  const texts: [string, string][] = [
    ['example', readFileSync(EXAMPLE, 'utf8')],
    ['lab', labText()],
    ['100 regions', manyRegionsConfig(100, '/x.mmdb')],
    ['1,000 records', bigZoneConfig(1000)],
    [
      'scalars',
      [
        'a: [yes, no, on, off, true, False, ~, null, 0o17, 0x1f, 017, 1e3, .inf, -.5, "2026-11-23", 2026-11-23T10:00:00Z]',
        'b:\n  "quoted key": |\n    two\n    lines\n  c: >-\n    folded\n    text',
        'anchors: { base: &b { x: 1 }, copy: *b }',
      ].join('\n'),
    ],
  ];
  for (const [name, text] of texts)
    it(`js-yaml and yaml read the ${name} config alike`, () => {
      const r = readYaml(text);
      expect(r.ok).toBe(true);
      expect(r.ok && r.value).toEqual(viaYaml(text));
    });

  it('refuses an alias bomb quickly, with a clear problem', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const t0 = Date.now();
    const r = readYaml(lines.join('\n'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]).toMatch(/^YAML: .*alias/i);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses duplicate keys and broken YAML in `yaml`’s words; reads an empty file as empty', () => {
    const dup = readYaml('regions: {}\nregions: {}\n');
    expect(!dup.ok && dup.problems[0]).toMatch(/^YAML: .*(unique|duplicate)/i);
    const broken = readYaml('regions: [oops');
    expect(!broken.ok && broken.problems[0]).toMatch(/^YAML: /);
    expect(readYaml('# only a comment\n')).toEqual({ ok: true, value: null });
    expect(() => parseConfigText('')).toThrow(ConfigError);
  });

  it('reads a 100,000-record zone (the config a big deployment carries)', () => {
    const config = parseConfigText(bigZoneConfig(100_000), join('bench', 'big.yaml'));
    expect(config.zones[0]?.records).toHaveLength(100_002);
  });
});
