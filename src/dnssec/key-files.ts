// Key files: one JSON file per key in the zone's key directory, `K<zone>+<alg>+<tag>.json`,
// written with mode 0600 (the private key is in it) and refused when others may read it.
// Every DNS node of a zone signs with the same keys: the operator distributes the directory
// (configuration management, a shared volume); see README "DNSSEC".
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { publicKeyField, tagOf, type KeyRole, type ZoneKey } from './keys.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function keyFileName(k: ZoneKey): string {
  return `K${k.zone}+${String(k.algorithm).padStart(3, '0')}+${String(tagOf(k)).padStart(5, '0')}.json`;
}

/** Makes a key (not yet written): published and active from `now` unless told otherwise. */
export function generateKey(
  zone: string,
  role: KeyRole,
  algorithm: 13 | 15,
  now: number,
  timing: Partial<Pick<ZoneKey, 'publish' | 'activate' | 'inactive' | 'delete'>> = {},
): ZoneKey {
  const { privateKey } =
    algorithm === 13 ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    zone,
    role,
    algorithm,
    publicKey: publicKeyField(pem),
    privateKey: pem,
    created: now,
    publish: now,
    activate: now,
    inactive: null,
    delete: null,
    ...timing,
  };
}

/** Writes (or rewrites) a key's file atomically, readable by its owner only. */
export function writeKey(dir: string, k: ZoneKey): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, keyFileName(k));
  const text = JSON.stringify(
    {
      ...k,
      tag: tagOf(k),
      created: iso(k.created),
      publish: iso(k.publish),
      activate: iso(k.activate),
      inactive: iso(k.inactive),
      delete: iso(k.delete),
    },
    null,
    2,
  );
  writeFileSync(`${file}.tmp`, `${text}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}

function time(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new Error(`${what}: not an ISO time (or null)`);
  return t;
}

/** Reads one key file; every problem is an error naming the file. */
export function readKey(file: string, zone: string): ZoneKey {
  const mode = statSync(file).mode;
  if (mode & 0o077) throw new Error(`${file}: readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  if (j.zone !== zone) throw new Error(`${file}: a key of zone ${String(j.zone)}, not ${zone}`);
  if (j.role !== 'csk' && j.role !== 'ksk' && j.role !== 'zsk')
    throw new Error(`${file}: role must be csk, ksk or zsk`);
  if (j.algorithm !== 13 && j.algorithm !== 15) throw new Error(`${file}: algorithm must be 13 or 15`);
  if (typeof j.privateKey !== 'string') throw new Error(`${file}: no privateKey`);
  let publicKey: string;
  try {
    publicKey = publicKeyField(j.privateKey);
  } catch {
    throw new Error(`${file}: privateKey is not a PKCS#8 PEM key`);
  }
  if (j.publicKey !== undefined && j.publicKey !== publicKey)
    throw new Error(`${file}: publicKey does not belong to privateKey`);
  return {
    zone,
    role: j.role,
    algorithm: j.algorithm,
    publicKey,
    privateKey: j.privateKey,
    created: time(j.created, `${file}: created`) ?? 0,
    publish: time(j.publish, `${file}: publish`),
    activate: time(j.activate, `${file}: activate`),
    inactive: time(j.inactive, `${file}: inactive`),
    delete: time(j.delete, `${file}: delete`),
  };
}

/** Every key of a zone in its directory. */
export function readKeys(dir: string, zone: string): ZoneKey[] {
  if (!existsSync(dir)) throw new Error(`zone ${zone}: key directory ${dir} does not exist (gtm dnssec keygen)`);
  return readdirSync(dir)
    .filter((f) => f.startsWith(`K${zone}+`) && f.endsWith('.json'))
    .sort()
    .map((f) => readKey(join(dir, f), zone));
}

/** The keys of every signed zone of a config, by zone name. */
export function loadZoneKeys(config: Pick<Config, 'zones'>): Map<string, ZoneKey[]> {
  const out = new Map<string, ZoneKey[]>();
  for (const z of config.zones) if (z.dnssec) out.set(z.name, readKeys(z.dnssec.keyDir, z.name));
  return out;
}
