// zones: SOA, NS and static records, with the checks a record set must pass (CNAME rules).
import type { Soa, StaticRecord, Zone, ZoneDnssec } from './types.js';
import { MAX_CNAME_CHAIN } from './limits.js';
import { Problems, hostPort, int, ipv4, ipv6, join, list, obj, str } from '../validate/index.js';
import { TTL_MAX, absoluteName, absoluteOf, validDomainName, domain, inZone } from './names.js';
import { parseMasterFile, parseTtl, presentedBytes } from './master-file.js';
import { readSvcb, svcbFields } from './svcb.js';
import { svcbWire } from '../wire/index.js';
import { parseCidr } from '../net/index.js';
import { fnvString } from '../runtime/index.js';

/** Reads a zone's master file (`zones.<name>.file`) and what it includes: the config loader's I/O. */
export type ZoneFileReader = (path: string, from?: string) => { text: string; name: string };

export function parseZones(p: Problems, v: unknown, readFile?: ZoneFileReader): Zone[] {
  const zones: Zone[] = [];
  const zs = obj(p, 'zones', v);
  if (!zs) return zones;
  for (const [rawName, zv] of Object.entries(zs)) {
    const path = join('zones', rawName);
    const name = absoluteOf(rawName);
    if (!validDomainName(name)) p.add(path, 'not a valid zone name');
    if (typeof zv === 'object' && zv !== null && 'catalog' in zv) {
      const catalog = catalogZone(p, path, name, zv);
      if (catalog) zones.push(catalog);
      continue;
    }
    if (typeof zv === 'object' && zv !== null && 'primary' in zv) {
      const secondary = secondaryZone(p, path, name, zv);
      if (secondary) zones.push(secondary);
      continue;
    }
    const z = obj(p, path, zv, ['file', 'soa', 'ns', 'ns_ttl', 'records', 'dnssec', 'transfer']);
    if (!z) continue;
    const fromFile = z.file === undefined ? undefined : zoneFile(p, join(path, 'file'), z.file, name, readFile);
    if (fromFile?.soa && z.soa !== undefined)
      p.add(join(path, 'soa'), 'the zone file has the SOA: give it in one place');
    if (fromFile?.ns.length && z.ns !== undefined)
      p.add(join(path, 'ns'), 'the zone file has the apex NS: give them in one place');
    // With a file, the SOA and apex NS come from it (a file without them is its own problem).
    const soa = fromFile && z.soa === undefined ? fromFile.soa : parseSoa(p, join(path, 'soa'), z.soa, name);
    const nsList = fromFile && z.ns === undefined ? [] : (list(p, join(path, 'ns'), z.ns, { nonEmpty: true }) ?? []);
    const ns = [
      ...(fromFile?.ns ?? []),
      ...nsList
        .map((n, i) => domain(p, join(join(path, 'ns'), i), n, name))
        .filter((n): n is string => n !== undefined),
    ];
    const yamlRecords = (list(p, join(path, 'records'), z.records, { optional: true }) ?? [])
      .map((rv, i) => parseRecord(p, join(join(path, 'records'), i), rv, name))
      .filter((r): r is StaticRecord => r !== undefined);
    // YAML records are laid over the file's; the same name and type in both is a conflict.
    for (const [i, r] of yamlRecords.entries()) {
      const clash = fromFile?.records.find((f) => f.record.name === r.name && f.record.type === r.type);
      if (clash)
        p.add(
          join(join(path, 'records'), i),
          `${r.name} ${r.type} is also in the zone file (${clash.at}): give it in one place`,
        );
    }
    const records = [...(fromFile?.records.map((f) => f.record) ?? []), ...yamlRecords];
    for (const [i, r] of records.entries()) {
      if (!inZone(r.name, name)) p.add(join(join(path, 'records'), i), `name ${r.name} is outside zone ${name}`);
    }
    checkRecords(p, path, records, name);
    zones.push({
      name,
      soa: soa ?? defaultSoa(name),
      ns,
      nsTtl: fromFile?.nsTtl ?? int(p, join(path, 'ns_ttl'), z.ns_ttl, 0, TTL_MAX, 86400) ?? 86400,
      records,
      dnssec: z.dnssec === undefined ? undefined : parseDnssec(p, join(path, 'dnssec'), z.dnssec),
      ...(fromFile ? { files: fromFile.files } : {}),
      ...(z.transfer === undefined ? {} : { transfer: parseTransfer(p, join(path, 'transfer'), z.transfer) }),
    });
  }
  const seen = new Set<string>();
  for (const z of zones) {
    if (seen.has(z.name)) p.add(join('zones', z.name), 'zone declared twice');
    seen.add(z.name);
  }
  for (const c of zones)
    if (c.catalog)
      c.records = catalogRecords(
        c.name,
        zones.filter((z) => !z.catalog),
      );
  return zones;
}

/** The checks every record set of a zone passes, from YAML, a zone file or a transfer. */
function checkRecords(p: Problems, path: string, records: StaticRecord[], zone: string): void {
  checkCnameExclusive(p, path, records, zone);
  checkCnameChains(p, path, records);
  checkDelegations(p, path, records, zone);
}

/**
 * `primary: [address[:port], ...]` (and `primary_tsig: KEY`): a zone this server is a secondary
 * of. Its content is not in the config: until the first transfer (or the copy kept on disk) it
 * is unavailable (SERVFAIL); `dnssec` signs what arrives, `transfer` passes it on.
 */
function secondaryZone(p: Problems, path: string, name: string, v: unknown): Zone | undefined {
  const z = obj(p, path, v, ['primary', 'primary_tsig', 'dnssec', 'transfer']);
  if (!z) return undefined;
  const primaries = (list(p, join(path, 'primary'), z.primary, { nonEmpty: true }) ?? []).flatMap((a, i) => {
    const parsed = hostPort(p, join(join(path, 'primary'), i), withPort(a));
    return parsed ? [parsed] : [];
  });
  const tsig = z.primary_tsig === undefined ? undefined : str(p, join(path, 'primary_tsig'), z.primary_tsig);
  return {
    name,
    soa: defaultSoa(name),
    ns: [],
    nsTtl: 0,
    records: [],
    secondary: { primaries, ...(tsig ? { tsig: absoluteOf(tsig) } : {}) },
    unavailable: 'not transferred yet',
    dnssec: z.dnssec === undefined ? undefined : parseDnssec(p, join(path, 'dnssec'), z.dnssec),
    ...(z.transfer === undefined ? {} : { transfer: parseTransfer(p, join(path, 'transfer'), z.transfer) }),
  };
}

/** An address with port 53 unless it has one: 192.0.2.1, 192.0.2.1:5300, 2001:db8::1, [2001:db8::1]:5300. */
function withPort(v: unknown): string {
  const text = typeof v === 'string' ? v : '';
  if (/^[0-9a-f:]+$/i.test(text) && text.includes(':')) return `[${text}]:53`;
  return /:\d+$/.test(text) ? text : `${text}:53`;
}

/**
 * A zone's content read from a master file's text (a zone transferred in, as kept on disk):
 * SOA, apex NS and records, checked as a configured zone file is, or the problems found.
 */
export function zoneContentOf(
  text: string,
  file: string,
  zone: string,
): { content: Pick<Zone, 'soa' | 'ns' | 'nsTtl' | 'records'> } | { problems: string[] } {
  const p = new Problems();
  const path = join('zones', zone);
  const read = zoneFile(p, path, file, zone, () => ({ text, name: file }));
  const records = read?.records.map((r) => r.record) ?? [];
  checkRecords(p, path, records, zone);
  if (!read?.soa || !p.ok) return { problems: p.list };
  return { content: { soa: read.soa, ns: read.ns, nsTtl: read.nsTtl ?? read.soa.ttl, records } };
}

/**
 * `catalog: true` (RFC 9432, version 2): a zone that lists the others, so a secondary that
 * consumes catalogs (Knot, BIND, NSD 4.9+) picks up new zones without being told. Its SOA and NS
 * point at `invalid.` as the RFC suggests; its serial is automatic, so a reload that changes the
 * list also changes the serial (and NOTIFY tells the secondaries).
 */
function catalogZone(p: Problems, path: string, name: string, v: unknown): Zone | undefined {
  const c = obj(p, path, v, ['catalog', 'transfer']);
  if (!c) return undefined;
  if (c.catalog !== true) p.add(join(path, 'catalog'), 'must be true (this zone lists the others)');
  return {
    name,
    soa: {
      mname: 'invalid',
      rname: 'invalid',
      serial: 0,
      auto: true,
      refresh: 3600,
      retry: 600,
      expire: 2147483646,
      minimum: 0,
      ttl: 0,
    },
    ns: ['invalid'],
    nsTtl: 0,
    records: [],
    catalog: true,
    ...(c.transfer === undefined ? {} : { transfer: parseTransfer(p, join(path, 'transfer'), c.transfer) }),
  };
}

/** The catalog's records: its schema version, and one PTR per member under a stable unique label. */
function catalogRecords(catalog: string, members: Zone[]): StaticRecord[] {
  const used = new Set<string>();
  return [
    { type: 'TXT', name: `version.${catalog}`, ttl: 0, strings: ['2'] },
    ...members.map((m): StaticRecord => {
      let id = fnvString(m.name).toString(16);
      while (used.has(id)) id = fnvString(id).toString(16);
      used.add(id);
      return { type: 'PTR', name: `${id}.zones.${catalog}`, ttl: 0, target: m.name };
    }),
  ];
}

/** `transfer: { allow: [prefix or address, ...] }`: who may AXFR the zone (nobody without it). */
function parseTransfer(p: Problems, path: string, v: unknown): NonNullable<Zone['transfer']> {
  const t = obj(p, path, v, ['allow', 'tsig', 'notify']);
  const allow = (list(p, join(path, 'allow'), t?.allow, { nonEmpty: true }) ?? []).flatMap((a, i) => {
    const text = typeof a === 'string' && !a.includes('/') ? `${a}/${a.includes(':') ? 128 : 32}` : a;
    const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
    if (!cidr) p.add(join(join(path, 'allow'), i), 'must be an address or a prefix (192.0.2.0/24, 2001:db8::/32)');
    return cidr ? [cidr] : [];
  });
  const tsig = (list(p, join(path, 'tsig'), t?.tsig, { optional: true }) ?? []).flatMap((k, i) => {
    const name = str(p, join(join(path, 'tsig'), i), k);
    return name ? [absoluteOf(name)] : [];
  });
  // Secondaries to NOTIFY: an address (port 53) or address:port, [v6]:port.
  const notify = (list(p, join(path, 'notify'), t?.notify, { optional: true }) ?? []).flatMap((n, i) => {
    const parsed = hostPort(p, join(join(path, 'notify'), i), withPort(n));
    return parsed ? [parsed] : [];
  });
  return { allow, tsig, notify };
}

/** What a zone file gives: its SOA and apex NS (when it has them) and its other records, each with where it is. */
interface FromFile {
  /** Every file read: the zone file and its $INCLUDEs. */
  files: string[];
  soa?: Soa;
  ns: string[];
  nsTtl?: number;
  records: { record: StaticRecord; at: string }[];
}

/** `zones.<name>.file`: an RFC 1035 master file read into the same records YAML gives, checked alike. */
function zoneFile(
  p: Problems,
  path: string,
  v: unknown,
  zone: string,
  readFile?: ZoneFileReader,
): FromFile | undefined {
  const file = str(p, path, v);
  if (file === undefined) return undefined;
  if (!readFile) {
    p.add(path, 'zone files are read only when the config is loaded from a file');
    return undefined;
  }
  let top: { text: string; name: string };
  try {
    top = readFile(file);
  } catch (err) {
    p.add(path, (err as Error).message);
    return undefined;
  }
  const files = [top.name];
  const parsed = parseMasterFile(top.text, top.name, zone, (inc, from) => {
    const read = readFile(inc, from);
    files.push(read.name);
    return read;
  });
  for (const problem of parsed.problems) p.add(path, problem);
  const out: FromFile = { files, ns: [], records: [] };
  for (const e of parsed.entries) {
    const at = `${path} (${e.at})`;
    if (!inZone(e.owner, zone)) {
      p.add(at, `${e.owner} is outside zone ${zone}`);
      continue;
    }
    if (e.type === 'SOA') {
      if (e.owner !== zone) p.add(at, 'an SOA belongs at the zone apex');
      else if (out.soa) p.add(at, 'a second SOA');
      else out.soa = soaOf(p, at, e.rdata, e.ttl, zone);
      continue;
    }
    if (e.type === 'NS' && e.owner === zone) {
      const target = domain(p, at, e.rdata[0], zone);
      if (target) out.ns.push(target);
      out.nsTtl ??= e.ttl;
      continue;
    }
    const value =
      e.type === 'SVCB' || e.type === 'HTTPS'
        ? svcbText(e.rdata, e.quoted)
        : e.type === 'TXT'
          ? e.rdata.map(unescapeText)
          : e.type === 'CAA'
            ? `${e.rdata[0]} ${e.rdata[1]} "${unescapeText(e.rdata[2] ?? '')}"`
            : e.rdata.join(' ');
    const record = parseRecord(p, at, { name: `${e.owner}.`, type: e.type, ttl: e.ttl, value }, zone);
    if (record) out.records.push({ record, at: e.at });
  }
  if (!out.soa) p.add(path, `${top.name} has no SOA record for ${zone}`);
  if (!out.ns.length) p.add(path, `${top.name} has no NS records at the apex of ${zone}`);
  return out;
}

function soaOf(p: Problems, at: string, f: string[], ttl: number, zone: string): Soa | undefined {
  if (f.length !== 7) {
    p.add(at, 'SOA needs 7 fields: mname rname serial refresh retry expire minimum');
    return undefined;
  }
  const [serial, refresh, retry, expire, minimum] = f.slice(2).map((x) => parseTtl(x as string));
  if ([serial, refresh, retry, expire, minimum].some((x) => x === undefined)) {
    p.add(at, 'SOA serial and timers must be numbers (timers may use units: 1h, 2d)');
    return undefined;
  }
  const mname = domain(p, at, f[0], zone);
  const rname = domain(p, at, f[1], zone);
  if (!mname || !rname) return undefined;
  return {
    mname,
    rname,
    serial: serial as number,
    refresh: refresh as number,
    retry: retry as number,
    expire: expire as number,
    minimum: minimum as number,
    ttl,
  };
}

/** A zone file's SVCB/HTTPS fields as one value: a quoted value joined again to its `key=`. */
function svcbText(fields: string[], quoted: boolean[]): string {
  const out: string[] = [];
  fields.forEach((f, i) => {
    const text = quoted[i] ? `"${f}"` : f;
    if (quoted[i] && out.at(-1)?.endsWith('=')) out[out.length - 1] += text;
    else out.push(text);
  });
  return out.join(' ');
}

/** A character-string as written in a master file: \X is X, \DDD is the byte DDD (RFC 1035 §5.1). */
const unescapeText = (s: string): string => (s.includes('\\') ? presentedBytes(s).toString() : s);

const ALGORITHMS: Record<string, 13 | 15> = { ecdsap256sha256: 13, ed25519: 15 };

/** `dnssec: { keys: DIR, algorithm, dnskey_ttl, signature_validity_s, signature_refresh_s, inception_offset_s }`. */
function parseDnssec(p: Problems, path: string, v: unknown): ZoneDnssec | undefined {
  const d = obj(p, path, v, [
    'keys',
    'algorithm',
    'dnskey_ttl',
    'signature_validity_s',
    'signature_refresh_s',
    'inception_offset_s',
  ]);
  if (!d) return undefined;
  const keyDir = str(p, join(path, 'keys'), d.keys, { pattern: /^\//, what: 'an absolute directory path' });
  const alg = d.algorithm ?? 'ecdsap256sha256';
  const algorithm = typeof alg === 'string' ? ALGORITHMS[alg.toLowerCase()] : undefined;
  if (!algorithm) p.add(join(path, 'algorithm'), `must be one of ${Object.keys(ALGORITHMS).join(', ')}`);
  const validityS = int(p, join(path, 'signature_validity_s'), d.signature_validity_s, 60, 90 * 86400, 14 * 86400) ?? 0;
  const refreshS = int(p, join(path, 'signature_refresh_s'), d.signature_refresh_s, 1, 30 * 86400, 86400) ?? 0;
  if (refreshS * 2 > validityS)
    p.add(
      join(path, 'signature_refresh_s'),
      'must be at most half of signature_validity_s (a cached answer must stay valid)',
    );
  if (!keyDir || !algorithm) return undefined;
  return {
    keyDir,
    algorithm,
    dnskeyTtl: int(p, join(path, 'dnskey_ttl'), d.dnskey_ttl, 0, TTL_MAX, 3600) ?? 3600,
    validityS,
    refreshS,
    inceptionOffsetS: int(p, join(path, 'inception_offset_s'), d.inception_offset_s, 0, 86400, 3600) ?? 3600,
  };
}

function defaultSoa(zone: string): Soa {
  return {
    mname: `ns1.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 604800,
    minimum: 60,
    ttl: 3600,
  };
}

function parseSoa(p: Problems, path: string, v: unknown, zone: string): Soa | undefined {
  const s = obj(p, path, v, ['mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum', 'ttl']);
  if (!s) return undefined;
  const u32 = (k: string, fallback?: number) => int(p, join(path, k), s[k], 0, 0xffffffff, fallback);
  return {
    mname: domain(p, join(path, 'mname'), s.mname, zone) ?? '',
    rname: domain(p, join(path, 'rname'), s.rname, zone) ?? '',
    // `auto`: set by the DNS primary from the content (src/dns/serials.ts).
    serial: s.serial === 'auto' ? 0 : (u32('serial') ?? 0),
    ...(s.serial === 'auto' ? { auto: true } : {}),
    refresh: u32('refresh', 3600) ?? 0,
    retry: u32('retry', 600) ?? 0,
    expire: u32('expire', 604800) ?? 0,
    minimum: u32('minimum', 60) ?? 0,
    ttl: u32('ttl', 3600) ?? 0,
  };
}

const RECORD_TYPES = ['A', 'AAAA', 'NS', 'CNAME', 'PTR', 'MX', 'TXT', 'SRV', 'CAA', 'DS'] as const;
/** Digest length in hex per DS digest type (RFC 4509, 6605 registry): SHA-1, SHA-256, SHA-384. */
const DS_DIGEST_HEX: Record<number, number> = { 1: 40, 2: 64, 4: 96 };

/** One `records` entry's value, read for its type (presentation format, as in a zone file). */
interface ValueInput {
  p: Problems;
  /** Where the value is (problems are reported there). */
  vp: string;
  value: unknown;
  /** The value split on blanks. */
  fields: string[];
  zone: string;
  /** The value must have exactly n fields (else a problem, false). */
  needFields(n: number): boolean;
  u16(s: string | undefined, what: string): number | undefined;
}
/** The record variant that type T belongs to (NS, CNAME and PTR share one). */
type RecordOf<T, R = StaticRecord> = R extends { type: infer U } ? (T extends U ? R : never) : never;
type RecordData<T extends StaticRecord['type']> = Omit<RecordOf<T>, 'name' | 'ttl' | 'type'>;

const target = (i: ValueInput) => {
  const t = domain(i.p, i.vp, i.value, i.zone);
  return t ? { target: t } : undefined;
};

/** How each record type's value is read. */
const VALUES: { [T in Exclude<StaticRecord['type'], 'GENERIC'>]: (i: ValueInput) => RecordData<T> | undefined } = {
  A: (i) => {
    const address = ipv4(i.p, i.vp, i.value);
    return address ? { address } : undefined;
  },
  AAAA: (i) => {
    const address = ipv6(i.p, i.vp, i.value);
    return address ? { address } : undefined;
  },
  NS: target,
  CNAME: target,
  PTR: target,
  MX: (i) => {
    if (!i.needFields(2)) return undefined;
    const preference = i.u16(i.fields[0], 'preference');
    const exchange = domain(i.p, i.vp, i.fields[1], i.zone);
    return preference !== undefined && exchange ? { preference, exchange } : undefined;
  },
  SRV: (i) => {
    if (!i.needFields(4)) return undefined;
    const [priority, weight, port] = [
      i.u16(i.fields[0], 'priority'),
      i.u16(i.fields[1], 'weight'),
      i.u16(i.fields[2], 'port'),
    ];
    const t = domain(i.p, i.vp, i.fields[3], i.zone);
    if (priority === undefined || weight === undefined || port === undefined || !t) return undefined;
    return { priority, weight, port, target: t };
  },
  TXT: (i) => {
    const strings = typeof i.value === 'string' ? splitTxt(i.value) : Array.isArray(i.value) ? i.value : undefined;
    if (
      !strings ||
      strings.length === 0 ||
      !strings.every((s) => typeof s === 'string' && Buffer.byteLength(s) <= 255)
    ) {
      i.p.add(i.vp, 'TXT value must be a string or a list of strings of at most 255 bytes each');
      return undefined;
    }
    return { strings: strings as string[] };
  },
  DS: (i) => {
    if (!i.needFields(4)) return undefined;
    const keyTag = i.u16(i.fields[0], 'key tag');
    const [algorithm, digestType] = [Number(i.fields[1]), Number(i.fields[2])];
    const digest = (i.fields[3] as string).toLowerCase();
    if (!Number.isInteger(algorithm) || algorithm < 0 || algorithm > 255) i.p.add(i.vp, 'algorithm must be 0-255');
    else if (!DS_DIGEST_HEX[digestType]) i.p.add(i.vp, 'digest type must be 1 (SHA-1), 2 (SHA-256) or 4 (SHA-384)');
    else if (!/^[0-9a-f]+$/.test(digest) || digest.length !== DS_DIGEST_HEX[digestType])
      i.p.add(i.vp, `digest must be ${DS_DIGEST_HEX[digestType]} hex digits for digest type ${digestType}`);
    else if (keyTag !== undefined) return { keyTag, algorithm, digestType, digest };
    return undefined;
  },
  CAA: (i) => {
    const m = typeof i.value === 'string' ? /^(\d+)\s+([A-Za-z0-9]+)\s+"?([^"]*)"?$/.exec(i.value.trim()) : null;
    if (!m || Number(m[1]) > 255) {
      i.p.add(i.vp, 'CAA value must look like: 0 issue "ca.example"');
      return undefined;
    }
    return { flags: Number(m[1]), tag: m[2] as string, value: m[3] as string };
  },
};

function parseRecord(p: Problems, path: string, v: unknown, zone: string): StaticRecord | undefined {
  const r = obj(p, path, v, ['name', 'type', 'ttl', 'value']);
  if (!r) return undefined;
  const name = domain(p, join(path, 'name'), r.name, zone);
  const type = typeof r.type === 'string' ? r.type.toUpperCase() : undefined;
  const ttl = int(p, join(path, 'ttl'), r.ttl, 0, TTL_MAX, 300) ?? 300;
  const code = type && !(RECORD_TYPES as readonly string[]).includes(type) ? genericCode(type) : undefined;
  const presented = typeof r.value === 'string' && !r.value.trim().startsWith('\\#');
  if ((type === 'SVCB' || type === 'HTTPS') && presented) {
    const data = svcbData(p, join(path, 'value'), type, r.value as string, zone);
    return name === undefined || data === undefined
      ? undefined
      : { type: 'GENERIC', name, ttl, code: GENERIC_TYPES[type] as number, data };
  }
  if (type && code !== undefined) {
    const data = genericData(p, join(path, 'value'), type, r.value);
    return name === undefined || data === undefined ? undefined : { type: 'GENERIC', name, ttl, code, data };
  }
  if (!type || !(RECORD_TYPES as readonly string[]).includes(type)) {
    p.add(
      join(path, 'type'),
      `must be one of ${RECORD_TYPES.join(', ')}, or another type (${Object.keys(GENERIC_TYPES).join(', ')}, TYPEnnn) in RFC 3597 form`,
    );
    return undefined;
  }
  const vp = join(path, 'value');
  if (name === undefined) return undefined;
  const fields = typeof r.value === 'string' ? r.value.trim().split(/\s+/) : [];
  const input: ValueInput = {
    p,
    vp,
    value: r.value,
    fields,
    zone,
    needFields(n) {
      if (typeof r.value === 'string' && fields.length === n) return true;
      p.add(vp, `${type} needs ${n} field(s)`);
      return false;
    },
    u16(s, what) {
      const n = Number(s);
      if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
      p.add(vp, `${what} must be 0-65535`);
      return undefined;
    },
  };
  const data = VALUES[type as Exclude<StaticRecord['type'], 'GENERIC'>](input);
  return data ? ({ type, name, ttl, ...data } as StaticRecord) : undefined;
}

/**
 * Types served from RFC 3597's generic form (`\# LENGTH HEX`): these by name, and any TYPEnnn
 * but those the server makes or reads in their own form (SOA, NS, CNAME, DNAME, the DNSSEC and
 * meta types: a zone cut or a signature given as opaque bytes would be misread).
 */
const GENERIC_TYPES: Record<string, number> = {
  HINFO: 13,
  NAPTR: 35,
  SSHFP: 44,
  TLSA: 52,
  SMIMEA: 53,
  OPENPGPKEY: 61,
  SVCB: 64,
  HTTPS: 65,
  URI: 256,
};
const NOT_GENERIC = new Set([0, 1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 41, 43, 46, 47, 48, 50, 51, 257]);

function genericCode(type: string): number | undefined {
  const m = /^TYPE(\d{1,5})$/.exec(type);
  const code = m ? Number(m[1]) : GENERIC_TYPES[type];
  if (code === undefined || code > 65535 || NOT_GENERIC.has(code) || (code >= 128 && code <= 255)) return undefined;
  return code;
}

/**
 * SVCB/HTTPS in their own form (RFC 9460): `PRIORITY TARGET key=value ...`, TARGET relative to the
 * zone or `.`.
 */
function svcbData(p: Problems, vp: string, type: string, value: string, zone: string): string | undefined {
  const fields = svcbFields(value);
  if (fields.length < 2) {
    p.add(vp, `${type} needs at least a priority and a target: 1 . alpn=h2`);
    return undefined;
  }
  const parts = readSvcb(p, vp, fields, zone, `${type}: `);
  return parts && svcbWire(parts).toString('hex');
}

/** `\# LENGTH HEX...` (RFC 3597 §5): the RDATA as hex, its length checked. */
function genericData(p: Problems, vp: string, type: string, v: unknown): string | undefined {
  const f = typeof v === 'string' ? v.trim().split(/\s+/) : [];
  if (f[0] !== '\\#') {
    p.add(
      vp,
      `${type} is read in RFC 3597 form: \\# LENGTH HEX (its own presentation form is not read; SVCB and HTTPS are)`,
    );
    return undefined;
  }
  const len = Number(f[1]);
  const hex = f.slice(2).join('').toLowerCase();
  if (!Number.isInteger(len) || len < 0 || len > 65535 || !/^([0-9a-f]{2})*$/.test(hex) || hex.length !== len * 2) {
    p.add(vp, `\\# ${f[1] ?? ''}: the length must be the number of bytes the hex gives (${hex.length / 2})`);
    return undefined;
  }
  return hex;
}

/** Long TXT values are split in 255-byte character-strings, as zone files do. */
function splitTxt(s: string): string[] {
  const buf = Buffer.from(s);
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255).toString());
  return out.length ? out : [''];
}

/** Names below the apex that own NS records: the zone cuts (delegations to child zones). */
export function delegationsOf(zone: Pick<Zone, 'name' | 'records'>): Set<string> {
  return new Set(zone.records.filter((r) => r.type === 'NS' && r.name !== zone.name).map((r) => r.name));
}

/** The delegation at or above `name`, if any (RFC 1034 §4.2.1: data below a cut is not ours). */
export function cutAbove(cuts: { has(name: string): boolean }, name: string, zone: string): string | undefined {
  let found: string | undefined;
  for (let n = name; n !== zone && n.includes('.'); n = n.slice(n.indexOf('.') + 1)) if (cuts.has(n)) found = n;
  return found;
}

/**
 * At a cut only NS and DS may be; below it only glue (A/AAAA of the cut's own name servers).
 * Anything else would be occluded (never served, RFC 2181 §6.1): refused, with the reason.
 */
function checkDelegations(p: Problems, path: string, records: StaticRecord[], zone: string): void {
  const cuts = delegationsOf({ name: zone, records });
  const servers = new Map<string, Set<string>>();
  for (const r of records)
    if (r.type === 'NS' && cuts.has(r.name)) servers.set(r.name, (servers.get(r.name) ?? new Set()).add(r.target));
  records.forEach((r, i) => {
    const at = join(join(path, 'records'), i);
    // A wildcard cannot be a delegation (RFC 4592 §4.2: NS at a wildcard is not to be used).
    if ((r.type === 'NS' || r.type === 'DS') && r.name.startsWith('*.'))
      return p.add(at, `${r.name}: a wildcard cannot hold ${r.type} (a delegation is a name of its own)`);
    if (r.type === 'DS' && !cuts.has(r.name))
      return p.add(at, `DS belongs at a delegation (a name below the apex with NS records); ${r.name} is none`);
    const cut = cutAbove(cuts, r.name, zone);
    if (!cut) return;
    if (r.name === cut) {
      if (r.type !== 'NS' && r.type !== 'DS')
        p.add(at, `${r.name} is delegated: only NS and DS records may be at a delegation, not ${r.type}`);
      return;
    }
    const glue = (r.type === 'A' || r.type === 'AAAA') && servers.get(cut)?.has(r.name);
    if (!glue)
      p.add(
        at,
        `${r.name} is below the delegation at ${cut}: only glue (A/AAAA of its name servers) may be there; this ${r.type} would never be served`,
      );
  });
  // A name server inside its own delegation is unreachable without glue.
  for (const [cut, targets] of servers) {
    for (const t of targets) {
      if (
        (t === cut || t.endsWith(`.${cut}`)) &&
        !records.some((r) => r.name === t && (r.type === 'A' || r.type === 'AAAA'))
      )
        p.add(
          join(path, 'records'),
          `name server ${t} of the delegation at ${cut} is inside it and needs glue (an A or AAAA record)`,
        );
    }
  }
}

function checkCnameExclusive(p: Problems, path: string, records: StaticRecord[], zone: string): void {
  const byName = new Map<string, string[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r.type]);
  for (const [name, types] of byName) {
    if (types.includes('CNAME') && types.length > 1) p.add(join(path, 'records'), `${name} has a CNAME and other data`);
    if (name === zone && types.includes('CNAME')) p.add(join(path, 'records'), 'the zone apex cannot be a CNAME');
  }
}

/** CNAME loops and over-long chains are refused (the server would otherwise repeat records). */
function checkCnameChains(p: Problems, path: string, records: StaticRecord[]): void {
  const target = new Map<string, string>();
  const index = new Map<string, number>();
  records.forEach((r, i) => {
    if (r.type === 'CNAME') (target.set(r.name, r.target), index.set(r.name, i));
  });
  for (const start of target.keys()) {
    const chain = [start];
    for (let next = target.get(start); next !== undefined; next = target.get(next)) {
      if (chain.includes(next)) {
        // Reported once, at the loop's first name in record order.
        const loop = chain.slice(chain.indexOf(next));
        if (Math.min(...loop.map((n) => index.get(n) as number)) === index.get(start))
          p.add(join(join(path, 'records'), index.get(start) as number), `CNAME loop: ${[...loop, next].join(' -> ')}`);
        break;
      }
      chain.push(next);
      if (chain.length > MAX_CNAME_CHAIN + 1) {
        p.add(
          join(join(path, 'records'), index.get(start) as number),
          `CNAME chain longer than ${MAX_CNAME_CHAIN}: ${chain.join(' -> ')} ...`,
        );
        break;
      }
    }
  }
}
