// `gtm dnssec`: keys for a signed zone (keygen), the DS for the registrar (ds), what the keys do
// now and next (status), and rollovers (rollover, activate). Each step writes key files with
// their timing; `gtm dns` reads them at start and on SIGHUP, and follows the timing by itself.
import { inZone } from '../wire/index.js';
import { parseArgs } from 'node:util';
import { loadConfigFile, type Config, type Zone } from '../config/index.js';
import {
  ALGORITHM_NAMES,
  dsText,
  generateKey,
  isPublished,
  isSigning,
  keyFileName,
  readKeys,
  tagOf,
  writeKey,
  type KeyRole,
  type ZoneKey,
} from '../dnssec/index.js';

const USAGE = `usage: gtm dnssec keygen   --config FILE --zone ZONE [--split]
       gtm dnssec ds       --config FILE --zone ZONE
       gtm dnssec status   --config FILE --zone ZONE
       gtm dnssec rollover --config FILE --zone ZONE --role zsk|csk|ksk [--margin-s N]
       gtm dnssec activate --config FILE --zone ZONE --tag N [--margin-s N]
(after each change: SIGHUP every gtm dns of the zone, once its key directory holds the new files)
`;

export function dnssecCommand(args: string[], now = Date.now()): number {
  const [verb, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      zone: { type: 'string' },
      split: { type: 'boolean' },
      role: { type: 'string' },
      tag: { type: 'string' },
      'margin-s': { type: 'string' },
    },
  });
  if (!verb || !values.config || !values.zone) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfigFile(values.config);
  const zone = config.zones.find((z) => z.name === values.zone?.replace(/\.$/, '').toLowerCase());
  if (!zone?.dnssec) throw new Error(`zone ${values.zone}: not in ${values.config}, or it has no dnssec section`);
  const margin = Number(values['margin-s'] ?? 60) * 1000;
  if (!Number.isFinite(margin) || margin < 0) throw new Error('--margin-s must be a number of seconds');
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const keys = verb === 'keygen' ? [] : readKeys(zone.dnssec.keyDir, zone.name);
  switch (verb) {
    case 'keygen':
      return keygen(zone, values.split === true, now, out);
    case 'ds':
      for (const k of keys.filter((k) => k.role !== 'zsk' && isPublished(k, now) && k.inactive === null))
        out(dsText(zone.name, k));
      return 0;
    case 'status':
      for (const line of status(zone, keys, now)) out(line);
      return 0;
    case 'rollover': {
      const role = values.role as KeyRole;
      if (!['zsk', 'csk', 'ksk'].includes(role)) throw new Error('--role must be zsk, csk or ksk');
      return rollover(config, zone, keys, role, margin, now, out);
    }
    case 'activate': {
      const key = keys.find((k) => String(tagOf(k)) === values.tag);
      if (!key) throw new Error(`zone ${zone.name}: no key with tag ${values.tag}`);
      return activate(config, zone, keys, key, margin, now, out);
    }
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

function keygen(zone: Zone, split: boolean, now: number, out: (s: string) => void): number {
  const dir = (zone.dnssec as NonNullable<Zone['dnssec']>).keyDir;
  let existing: ZoneKey[] = [];
  try {
    existing = readKeys(dir, zone.name);
  } catch {
    /* no directory yet */
  }
  if (existing.length)
    throw new Error(`zone ${zone.name} already has keys in ${dir}: change them with gtm dnssec rollover`);
  const alg = (zone.dnssec as NonNullable<Zone['dnssec']>).algorithm;
  const made = split
    ? [generateKey(zone.name, 'ksk', alg, now), generateKey(zone.name, 'zsk', alg, now)]
    : [generateKey(zone.name, 'csk', alg, now)];
  for (const k of made) out(`wrote ${writeKey(dir, k)} (${k.role.toUpperCase()}, tag ${tagOf(k)}, mode 0600)`);
  out('give the parent (registrar) this DS:');
  for (const k of made.filter((k) => k.role !== 'zsk')) out(`  ${dsText(zone.name, k)}`);
  return 0;
}

/** The longest TTL the zone hands out: how long a resolver may keep a signature made by a key. */
function maxTtl(config: Config, zone: Zone): number {
  const services = config.services.filter((s) => inZone(s.name, zone.name));
  return Math.max(
    zone.soa.ttl,
    zone.nsTtl,
    zone.soa.minimum,
    ...zone.records.map((r) => r.ttl),
    ...services.map((s) => s.ttl),
    zone.dnssec?.dnskeyTtl ?? 0,
  );
}

function rollover(
  config: Config,
  zone: Zone,
  keys: ZoneKey[],
  role: KeyRole,
  margin: number,
  now: number,
  out: (s: string) => void,
): number {
  const d = zone.dnssec as NonNullable<Zone['dnssec']>;
  const current = keys.filter((k) => k.role === role && isSigning(k, now) && k.inactive === null);
  if (current.length === 0) throw new Error(`zone ${zone.name}: no active ${role.toUpperCase()} to roll`);
  if (keys.some((k) => k.role === role && k.activate === null))
    throw new Error(`zone ${zone.name}: a ${role.toUpperCase()} rollover is already waiting (gtm dnssec status)`);
  if (role === 'zsk') {
    // Pre-publish (RFC 6781 §4.1.1.1): the new key is in the DNSKEY set for a DNSKEY TTL before it
    // signs; the old one stays published until every signature it made has left the caches.
    const switchAt = now + d.dnskeyTtl * 1000 + margin;
    const next = generateKey(zone.name, 'zsk', d.algorithm, now, { publish: now, activate: switchAt });
    out(`wrote ${writeKey(d.keyDir, next)} (ZSK ${tagOf(next)}: published now, signs from ${iso(switchAt)})`);
    for (const k of current) {
      k.inactive = switchAt;
      k.delete = switchAt + maxTtl(config, zone) * 1000 + margin;
      writeKey(d.keyDir, k);
      out(`ZSK ${tagOf(k)}: stops signing at ${iso(k.inactive)}, leaves the DNSKEY set at ${iso(k.delete)}`);
    }
    out('now: SIGHUP gtm dns on every node of the zone; the rest follows the timing');
    return 0;
  }
  // KSK/CSK, double-DS (RFC 6781 §4.1.2): the new key is published (and in CDS) but does not sign
  // until its DS is at the parent and the parent's DS TTL has passed: `gtm dnssec activate`.
  const next = generateKey(zone.name, role, d.algorithm, now, { publish: now, activate: null });
  out(`wrote ${writeKey(d.keyDir, next)} (${role.toUpperCase()} ${tagOf(next)}: published now, not signing yet)`);
  out(`now: SIGHUP gtm dns; then add this DS at the parent (CDS/CDNSKEY list it too):\n  ${dsText(zone.name, next)}`);
  out(
    `when the parent serves it and its DS TTL has passed: gtm dnssec activate --zone ${zone.name} --tag ${tagOf(next)}`,
  );
  return 0;
}

function activate(
  config: Config,
  zone: Zone,
  keys: ZoneKey[],
  key: ZoneKey,
  margin: number,
  now: number,
  out: (s: string) => void,
): number {
  const d = zone.dnssec as NonNullable<Zone['dnssec']>;
  if (key.activate !== null && key.activate <= now) throw new Error(`key ${tagOf(key)} is already active`);
  if (!isPublished(key, now)) throw new Error(`key ${tagOf(key)} is not published yet`);
  key.activate = now;
  writeKey(d.keyDir, key);
  out(`${key.role.toUpperCase()} ${tagOf(key)}: signs from now`);
  const old = keys.filter((k) => k !== key && k.role === key.role && isSigning(k, now));
  for (const k of old) {
    k.inactive = now;
    // Published until signatures it made (the DNSKEY set's too) have left every cache.
    k.delete = now + maxTtl(config, zone) * 1000 + margin;
    writeKey(d.keyDir, k);
    out(
      `${k.role.toUpperCase()} ${tagOf(k)}: stops signing now, leaves the DNSKEY set at ${iso(k.delete)}; ` +
        'it is out of CDS now: remove its DS at the parent',
    );
  }
  out('now: SIGHUP gtm dns on every node of the zone');
  return 0;
}

const iso = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());

export function status(zone: Zone, keys: ZoneKey[], now: number): string[] {
  const lines = [`zone ${zone.name}: ${keys.length} key(s) in ${zone.dnssec?.keyDir}`];
  const next: { at: number; what: string }[] = [];
  for (const k of keys) {
    const tag = tagOf(k);
    const state = isSigning(k, now)
      ? 'published, signing'
      : isPublished(k, now)
        ? k.activate === null || k.activate > now
          ? 'published, not signing yet'
          : 'published, retired (no longer signing)'
        : k.delete !== null && k.delete <= now
          ? 'removed'
          : 'not yet published';
    lines.push(
      `  ${k.role.toUpperCase()} tag ${tag} ${ALGORITHM_NAMES[k.algorithm]} (${keyFileName(k)}): ${state}` +
        `; publish ${iso(k.publish)}, activate ${iso(k.activate)}, inactive ${iso(k.inactive)}, delete ${iso(k.delete)}`,
    );
    for (const [t, what] of [
      [k.publish, 'enters the DNSKEY set'],
      [k.activate, 'starts signing'],
      [k.inactive, 'stops signing'],
      [k.delete, 'leaves the DNSKEY set'],
    ] as const)
      if (t !== null && t > now) next.push({ at: t, what: `${k.role.toUpperCase()} ${tag} ${what}` });
    if (k.role !== 'zsk' && isPublished(k, now) && k.activate === null)
      next.push({
        at: Infinity,
        what: `${k.role.toUpperCase()} ${tag} waits for its DS at the parent, then: gtm dnssec activate --tag ${tag}`,
      });
    if (k.role !== 'zsk' && k.inactive !== null && k.inactive <= now && isPublished(k, now))
      next.push({ at: now, what: `remove the DS of ${k.role.toUpperCase()} ${tag} at the parent (it is out of CDS)` });
  }
  next.sort((a, b) => a.at - b.at);
  lines.push(next.length ? 'next:' : 'next: nothing scheduled');
  for (const n of next) lines.push(`  ${n.at === Infinity ? 'operator' : iso(n.at)}: ${n.what}`);
  return lines;
}
