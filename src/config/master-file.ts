// RFC 1035 §5 master files ("zone files"), read into entries the zone parser checks like YAML
// records: $ORIGIN, $TTL, $INCLUDE (with its own origin), relative names and '@', a blank owner
// meaning the previous one, TTL and class in either order, TTL units (1h30m, BIND's), parentheses
// across lines, ';' comments, quoted strings and \X / \DDD escapes. Pure: the caller reads files.

export interface MasterEntry {
  /** Where the record is ("db.example:12"), for problems. */
  at: string;
  /** Absolute owner name, lower case, no trailing dot. */
  owner: string;
  ttl: number;
  type: string;
  /** RDATA fields as written; names made absolute (with a trailing dot) where the type has them. */
  rdata: string[];
  /** Which fields were quoted (TXT character-strings, CAA values). */
  quoted: boolean[];
}

export interface MasterFile {
  entries: MasterEntry[];
  problems: string[];
}

/** RDATA fields that are domain names, per type (made absolute against the origin in force). */
const NAME_FIELDS: Record<string, number[]> = {
  NS: [0],
  CNAME: [0],
  PTR: [0],
  DNAME: [0],
  MX: [1],
  SRV: [3],
  SOA: [0, 1],
  SVCB: [1],
  HTTPS: [1],
};

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A TTL: seconds, or BIND's units (1h30m); undefined when it is not one. */
/** A presentation value's bytes: \X is X, \DDD the byte DDD (RFC 1035 §5.1). */
export function presentedBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && /^\d{3}$/.test(s.slice(i + 1, i + 4))) {
      out.push(Number(s.slice(i + 1, i + 4)));
      i += 3;
    } else if (c === '\\' && i + 1 < s.length) out.push(...Buffer.from(s[++i] as string));
    else out.push(...Buffer.from(c));
  }
  return Buffer.from(out);
}

export function parseTtl(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) <= 0x7fffffff ? Number(s) : undefined;
  const m = s.toLowerCase().match(/^(\d+[smhdw])+$/);
  if (!m) return undefined;
  let total = 0;
  for (const part of s.toLowerCase().matchAll(/(\d+)([smhdw])/g))
    total += Number(part[1]) * (UNITS[part[2] as string] ?? 0);
  return total <= 0x7fffffff ? total : undefined;
}

interface Token {
  text: string;
  quoted: boolean;
}

/** One token: a quoted string, a parenthesis, a comment (to the end of the line), or a word (with \\ escapes). */
const TOKEN = /"((?:[^"\\]|\\.)*)("?)|([()])|;.*|((?:[^\s;()"\\]|\\.)+)/g;

/**
 * Splits a file into logical lines (parentheses joined), each with its first physical line
 * number. A quoted string ends on its own line (as BIND and NSD read them).
 */
function logicalLines(
  text: string,
  file: string,
  problems: string[],
): { line: number; tokens: Token[]; ownerBlank: boolean }[] {
  const out: { line: number; tokens: Token[]; ownerBlank: boolean }[] = [];
  let tokens: Token[] = [];
  let depth = 0;
  let startLine = 1;
  let ownerBlank = false;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (depth === 0) {
      startLine = n + 1;
      ownerBlank = line.startsWith(' ') || line.startsWith('\t');
    }
    for (const m of line.matchAll(TOKEN)) {
      if (m[1] !== undefined) {
        if (m[2] !== '"') problems.push(`${file}:${n + 1}: a quoted string is not closed on its line`);
        tokens.push({ text: m[1], quoted: true });
      } else if (m[3] === '(') depth++;
      else if (m[3] === ')') {
        if (depth === 0) problems.push(`${file}:${n + 1}: ')' without '('`);
        else depth--;
      } else if (m[4] !== undefined) tokens.push({ text: m[4], quoted: false });
    }
    if (depth === 0 && tokens.length) {
      out.push({ line: startLine, tokens, ownerBlank });
      tokens = [];
    }
  }
  if (depth > 0) problems.push(`${file}:${startLine}: '(' is not closed`);
  if (tokens.length) out.push({ line: startLine, tokens, ownerBlank });
  return out;
}

/** A name written in the file, made absolute against the origin in force. */
function absolute(name: string, origin: string): string {
  if (name === '@') return origin;
  const lower = name.toLowerCase();
  if (lower.endsWith('.') && !lower.endsWith('\\.')) return lower.slice(0, -1);
  return origin ? `${lower}.${origin}` : lower;
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS']);

/**
 * Reads a master file and what it includes. `read(path, from)` returns an included file's text
 * and the name it is known by (relative paths resolve against the including file: the caller's
 * business); an include cycle or more than 16 levels is a problem, not a hang.
 */
export function parseMasterFile(
  text: string,
  file: string,
  origin: string,
  read: (path: string, from: string) => { text: string; name: string },
  opts: { defaultTtl?: number; depth?: number } = {},
): MasterFile {
  const problems: string[] = [];
  const entries: MasterEntry[] = [];
  let ttl = opts.defaultTtl;
  let owner: string | undefined;
  let cur = origin;
  for (const { line, tokens, ownerBlank } of logicalLines(text, file, problems)) {
    const at = `${file}:${line}`;
    const first = tokens[0] as Token;
    if (!first.quoted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      const arg = tokens[1]?.text;
      if (directive === '$ORIGIN' && arg) cur = absolute(arg, cur);
      else if (directive === '$TTL' && arg && parseTtl(arg) !== undefined) ttl = parseTtl(arg);
      else if (directive === '$INCLUDE' && arg) {
        if ((opts.depth ?? 0) >= 16) {
          problems.push(`${at}: $INCLUDE nested more than 16 deep (a cycle?)`);
          continue;
        }
        let inc: { text: string; name: string };
        try {
          inc = read(arg, file);
        } catch (err) {
          problems.push(`${at}: $INCLUDE ${arg}: ${(err as Error).message}`);
          continue;
        }
        const sub = parseMasterFile(inc.text, inc.name, tokens[2] ? absolute(tokens[2].text, cur) : cur, read, {
          defaultTtl: ttl,
          depth: (opts.depth ?? 0) + 1,
        });
        entries.push(...sub.entries);
        problems.push(...sub.problems);
      } else problems.push(`${at}: ${first.text}${arg ? '' : ' needs an argument'}${arg ? ' is not understood' : ''}`);
      continue;
    }
    let k = 0;
    if (!ownerBlank) {
      owner = absolute(first.text, cur);
      k = 1;
    }
    if (owner === undefined) {
      problems.push(`${at}: the first record has no owner name`);
      continue;
    }
    let rrTtl: number | undefined;
    // TTL and class, in either order, both optional (RFC 1035 §5.1).
    for (let n = 0; n < 2 && k < tokens.length; n++) {
      const t = (tokens[k] as Token).text;
      if (rrTtl === undefined && parseTtl(t) !== undefined) {
        rrTtl = parseTtl(t);
        k++;
      } else if (CLASSES.has(t.toUpperCase())) {
        if (t.toUpperCase() !== 'IN') problems.push(`${at}: class ${t}: only IN is served`);
        k++;
      }
    }
    const type = tokens[k]?.text.toUpperCase();
    if (!type) {
      problems.push(`${at}: no record type`);
      continue;
    }
    const rest = tokens.slice(k + 1);
    const effective = rrTtl ?? ttl;
    if (effective === undefined && type !== 'SOA') {
      problems.push(`${at}: no TTL (give one, or $TTL before the first record)`);
      continue;
    }
    // RFC 3597's generic form (`\\# LENGTH HEX`) holds no names.
    const names = rest[0]?.text === '\\#' ? [] : (NAME_FIELDS[type] ?? []);
    const rdata = rest.map((t, i) => (!t.quoted && names.includes(i) ? `${absolute(t.text, cur)}.` : t.text));
    entries.push({ at, owner, ttl: effective ?? 0, type, rdata, quoted: rest.map((t) => t.quoted) });
    // An SOA without a TTL and no $TTL takes its minimum (RFC 2308 §4 practice).
    if (effective === undefined && type === 'SOA') {
      const min = parseTtl(rdata[6] ?? '');
      (entries.at(-1) as MasterEntry).ttl = min ?? 0;
      ttl ??= min;
    }
  }
  return { entries, problems };
}
