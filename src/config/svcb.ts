// SVCB and HTTPS records (RFC 9460) read in their own presentation form, as zone files and
// `records` give them: `1 . alpn="h3,h2" ipv4hint=192.0.2.1 port=8443`. Encoded to RDATA
// (priority, target name, the parameters in key order) and served as bytes, like RFC 3597's form.
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4Bytes, ipv6Bytes } from '../net/index.js';
import { presentedBytes } from './master-file.js';
import { encodeName, type SvcbParts } from '../wire/index.js';
import type { Problems } from '../validate/index.js';
import { domain } from './names.js';

export type { SvcbParts };

/** The parameter keys by name (RFC 9460 §14.3.2); others as keyNNNNN. */
const KEYS: Record<string, number> = {
  mandatory: 0,
  alpn: 1,
  'no-default-alpn': 2,
  port: 3,
  ipv4hint: 4,
  ech: 5,
  ipv6hint: 6,
  dohpath: 7,
};
const NAMES = Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [v, k]));

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** A comma-separated list, where `\,` is a comma inside an item (RFC 9460 Appendix A.1). */
function items(s: string): string[] {
  const out = [''];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) out[out.length - 1] += c + s[++i];
    else if (c === ',') out.push('');
    else out[out.length - 1] += c;
  }
  return out;
}

function keyOf(name: string): number | undefined {
  const m = /^key(\d{1,5})$/.exec(name);
  const n = m ? Number(m[1]) : KEYS[name];
  return n !== undefined && n <= 65535 && n !== 65535 ? n : undefined;
}

/** One parameter's value in wire form, or why it cannot be. */
function paramValue(key: number, value: string | undefined): Buffer | string {
  const need = () => (value === undefined || value === '' ? `${NAMES[key]} needs a value` : undefined);
  switch (key) {
    case 0: {
      if (need()) return need() as string;
      const keys = items(value as string).map(keyOf);
      if (keys.some((k) => k === undefined)) return `mandatory lists a key that is not one: ${value}`;
      if (keys.includes(0)) return 'mandatory may not list itself';
      if (new Set(keys).size !== keys.length) return 'mandatory lists a key twice';
      return Buffer.concat((keys as number[]).sort((a, b) => a - b).map(u16));
    }
    case 1: {
      if (need()) return need() as string;
      const ids = items(value as string).map(presentedBytes);
      if (ids.some((id) => id.length === 0 || id.length > 255)) return 'alpn ids are 1-255 bytes each';
      return Buffer.concat(ids.flatMap((id) => [Buffer.from([id.length]), id]));
    }
    case 2:
      return value === undefined ? Buffer.alloc(0) : 'no-default-alpn takes no value';
    case 3: {
      const port = Number(value);
      return /^\d+$/.test(value ?? '') && port <= 65535 ? u16(port) : 'port must be 0-65535';
    }
    case 4:
    case 6: {
      if (need()) return need() as string;
      const family = key === 4 ? isIPv4 : isIPv6;
      const list = items(value as string);
      if (!list.every((a) => family(a))) return `${NAMES[key]} must list ${key === 4 ? 'IPv4' : 'IPv6'} addresses`;
      return Buffer.concat(list.map((a) => Buffer.from(key === 4 ? ipv4Bytes(a) : ipv6Bytes(a))));
    }
    case 5: {
      if (need()) return need() as string;
      const b = Buffer.from(value as string, 'base64');
      return b.toString('base64').replace(/=+$/, '') === (value as string).replace(/=+$/, '')
        ? b
        : 'ech must be base64';
    }
    default:
      return value === undefined ? Buffer.alloc(0) : presentedBytes(value);
  }
}

/** A value's fields: split on blanks outside quotes (`key="a b"` is one). */
export const svcbFields = (value: string): string[] => value.trim().match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];

/**
 * The fields of `PRIORITY TARGET key=value ...` read, TARGET (`.` or a name) relative to `zone`;
 * a problem is added at `path` after `what`, and nothing returned.
 */
export function readSvcb(p: Problems, path: string, fields: string[], zone: string, what = ''): SvcbParts | undefined {
  const target = fields[1] === '.' ? '' : domain(p, path, fields[1], zone);
  if (target === undefined) return undefined;
  const parts = svcbParts(fields, target);
  if ('problem' in parts) p.add(path, `${what}${parts.problem}`);
  return 'problem' in parts ? undefined : parts;
}

/** The fields read, `target` already absolute (no trailing dot; '' the root), or the problem. */
function svcbParts(fields: string[], target: string): SvcbParts | { problem: string } {
  const [priorityText, , ...params] = fields;
  const priority = Number(priorityText);
  if (!/^\d+$/.test(priorityText ?? '') || priority > 65535)
    return { problem: 'SvcPriority must be 0-65535 (0: an alias)' };
  if (target.split('.').some((l) => l.length > 63) || target.length > 253) return { problem: 'target name too long' };
  if (priority === 0 && params.length) return { problem: 'an alias (priority 0) takes no parameters' };
  const seen = new Map<number, Buffer>();
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).toLowerCase();
    const raw = eq < 0 ? undefined : param.slice(eq + 1).replace(/^"(.*)"$/s, '$1');
    const key = keyOf(name);
    if (key === undefined)
      return { problem: `${name} is not an SvcParamKey (${Object.keys(KEYS).join(', ')}, keyNNNNN)` };
    if (seen.has(key)) return { problem: `${name} given twice` };
    const value = paramValue(key, raw);
    if (typeof value === 'string') return { problem: value };
    if (value.length > 65535) return { problem: `${name} value too long` };
    seen.set(key, value);
  }
  const mandatory = seen.get(0);
  for (let i = 0; mandatory && i < mandatory.length; i += 2)
    if (!seen.has(mandatory.readUInt16BE(i)))
      return { problem: `mandatory names key${mandatory.readUInt16BE(i)}, which is not given` };
  return { priority, target: encodeName(target), params: [...seen.entries()] };
}
