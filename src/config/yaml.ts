// YAML text to plain values. Two parsers, for a measured reason (README, Speed): js-yaml
// reads a 100,000-record zone more than ten times faster than `yaml`, so every config is
// read with it; `yaml` reads only a text js-yaml refused, because its messages say better
// where the mistake is (and takes what js-yaml will not, such as an empty file). Both read YAML 1.2's core schema (no timestamps, no `<<` merges),
// refuse duplicate keys, and give the same values (test/unit/config-yaml.test.ts).
import { CORE_SCHEMA, load } from 'js-yaml';
import { parseDocument } from 'yaml';

/** Aliases a config may use (both parsers enforce it). */
const MAX_ALIASES = 100;

export type YamlResult = { ok: true; value: unknown } | { ok: false; problems: string[] };

export function readYaml(text: string): YamlResult {
  let value: unknown;
  try {
    value = load(text, { schema: CORE_SCHEMA, maxAliases: MAX_ALIASES });
  } catch (fast) {
    return slow(text, fast as Error);
  }
  // An alias is a shared reference, not a copy: a few of them nested can stand for billions of
  // nodes ("billion laughs"). Refuse a document that expands far beyond its own size.
  if (expandsBeyond(value, 16 * text.length + 10_000))
    return { ok: false, problems: ['YAML: aliases expand the document too far (billion laughs?)'] };
  return { ok: true, value };
}

/**
 * A text js-yaml refused, read by `yaml`: its problems in `yaml`'s words, or its value where
 * `yaml` accepts it (an empty or comment-only file is a null document to `yaml`).
 */
function slow(text: string, fast: Error): YamlResult {
  try {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0)
      return { ok: false, problems: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIASES }) };
  } catch (err) {
    return { ok: false, problems: [`YAML: ${(err as Error).message.split('\n')[0] || fast.message.split('\n')[0]}`] };
  }
}

/** Whether walking the value (aliases followed every time) visits more than `limit` nodes. */
function expandsBeyond(root: unknown, limit: number): boolean {
  let visits = 0;
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (++visits > limit) return true;
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x);
  }
  return false;
}
