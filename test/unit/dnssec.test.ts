// DNSSEC decisions without sockets: NSEC type bitmaps (RFC 4034 §4.3's example), key tags, the key
// states a rollover's timing gives, and key files that must be refused.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Authority, compileZones } from '../../src/dns/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  dnskeyRdata,
  generateKey,
  keySet,
  keyTag,
  readKey,
  typeBitmap,
  writeKey,
  loadZoneKeys,
  ZoneSigner,
  type ZoneKey,
  signingUntil,
} from '../../src/dnssec/index.js';
import { tempDir, testConfig } from '../helpers/dns.js';
import { decodeMsg } from '../helpers/dnsmsg.js';

const policy = {
  keyDir: '/x',
  algorithm: 13 as const,
  dnskeyTtl: 60,
  validityS: 86400,
  inceptionOffsetS: 60,
  refreshS: 3600,
};

describe('DNSSEC pieces', () => {
  it('type bitmap: A MX RRSIG NSEC TYPE1234 as RFC 4034 §4.3 writes it', () => {
    const hex = typeBitmap([1, 15, 46, 47, 1234]).toString('hex');
    expect(hex).toBe(`0006400100000003041b${'00'.repeat(26)}20`);
  });

  it('key tag: the sum of RFC 4034 Appendix B, and the same key gives the same tag', () => {
    const rdata = Buffer.from([1, 1, 3, 13, 0xaa, 0xbb, 0xcc]);
    // 0x0101 + 0x030d + 0xaabb + 0xcc00, folded
    const sum = 0x0101 + 0x030d + 0xaabb + 0xcc00;
    expect(keyTag(rdata)).toBe((sum + (sum >> 16)) & 0xffff);
    const k = generateKey('example.test', 'csk', 13, 0);
    expect(keyTag(dnskeyRdata(k))).toBe(keyTag(dnskeyRdata({ ...k })));
    expect(dnskeyRdata(k).readUInt16BE(0)).toBe(257);
    expect(dnskeyRdata(generateKey('example.test', 'zsk', 15, 0)).length).toBe(4 + 32);
  });

  it('a ZSK pre-publish timeline: published before it signs, the old one kept until its signatures expire', () => {
    const ksk = generateKey('example.test', 'ksk', 13, 0);
    const oldZsk: ZoneKey = { ...generateKey('example.test', 'zsk', 13, 0), inactive: 2000, delete: 4000 };
    const newZsk: ZoneKey = { ...generateKey('example.test', 'zsk', 13, 1000), publish: 1000, activate: 2000 };
    const keys = [ksk, oldZsk, newZsk];
    const at = (t: number) => {
      const s = keySet(keys, t);
      return { published: s.published.length, zoneSigning: s.zoneSigning.map((k) => k === newZsk), next: s.nextChange };
    };
    expect(at(500)).toEqual({ published: 2, zoneSigning: [false], next: 1000 });
    expect(at(1500)).toEqual({ published: 3, zoneSigning: [false], next: 2000 });
    expect(at(2500)).toEqual({ published: 3, zoneSigning: [true], next: 4000 });
    expect(at(5000)).toEqual({ published: 2, zoneSigning: [true], next: Infinity });
    expect(keySet(keys, 2500).keySigning).toEqual([ksk]);
    // Only KSK/CSK keys that are not retired belong at the parent (CDS).
    expect(keySet(keys, 2500).atParent).toEqual([ksk]);
  });

  it('a zone whose keys cannot sign it is refused, naming what is missing', () => {
    const zsk = generateKey('example.test', 'zsk', 13, 0);
    expect(() => new ZoneSigner('example.test', [zsk], policy, 10)).toThrow(/no active KSK or CSK/);
    const waiting = { ...generateKey('example.test', 'csk', 13, 0), activate: null };
    expect(() => new ZoneSigner('example.test', [waiting], policy, 10)).toThrow(/no active KSK or CSK/);
  });

  it('signatures are cached by RRset content from the second signing on, not made per query', () => {
    const s = new ZoneSigner('example.test', [generateKey('example.test', 'csk', 13, 0)], policy, 1000);
    const a = [Buffer.from([198, 51, 100, 10])];
    s.sign('www.example.test', 1, 30, a, 1000); // first sight: not kept (a flood's one-off proofs never are)
    const kept = s.sign('www.example.test', 1, 30, a, 1000);
    expect(s.signatures).toBe(2);
    expect(s.sign('www.example.test', 1, 30, [Buffer.from([198, 51, 100, 10])], 2000)).toBe(kept);
    expect(s.signatures).toBe(2);
    s.sign('www.example.test', 1, 30, [Buffer.from([198, 51, 100, 30])], 2000); // another client's set
    expect(s.signatures).toBe(3);
    s.sign('www.example.test', 1, 30, a, 1000 + 3600 * 1000); // refresh due
    expect(s.signatures).toBe(4);
  });

  it('refuses key files others can read, and a public key that is not the private key', () => {
    const dir = tempDir('gtm-keys-');
    const file = writeKey(dir, generateKey('example.test', 'csk', 13, 0));
    expect(readKey(file, 'example.test').role).toBe('csk');
    chmodSync(file, 0o644);
    expect(() => readKey(file, 'example.test')).toThrow(/readable by others \(mode 644\); chmod 600/);
    chmodSync(file, 0o600);
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    j.publicKey = generateKey('example.test', 'csk', 13, 0).publicKey;
    const forged = join(dir, 'Kexample.test+013+00001.json');
    writeFileSync(forged, JSON.stringify(j), { mode: 0o600 });
    expect(() => readKey(forged, 'example.test')).toThrow(/publicKey does not belong to privateKey/);
    expect(() => readKey(file, 'other.test')).toThrow(/a key of zone example\.test, not other\.test/);
  });
});

describe('signatures follow the clock both ways (hardening round 3, item 6)', () => {
  const DAY = 86_400_000;
  /** Inception and expiration (seconds) of every RRSIG in a response. */
  function rrsigTimes(buf: Buffer): { inception: number; expiration: number }[] {
    const out: { inception: number; expiration: number }[] = [];
    const d = decodeMsg(buf);
    for (const rr of [...d.answer, ...d.authority])
      if (rr.type === TYPE.RRSIG) {
        const rdata = Buffer.from(rr.rdata, 'hex');
        out.push({ expiration: rdata.readUInt32BE(8), inception: rdata.readUInt32BE(12) });
      }
    return out;
  }

  it('the zone signer: a signature made on a clock that ran ahead is made again when the clock comes back', () => {
    const t = 1_800_000_000_000;
    // Started while the clock ran 20 days ahead.
    const s = new ZoneSigner('example.test', [generateKey('example.test', 'csk', 13, 0)], policy, t + 20 * DAY);
    const a = [Buffer.from([198, 51, 100, 10])];
    expect(s.tick(t + 21 * DAY)).toBe(false); // nothing scheduled: nothing to take again
    const fromFuture = s.sign('www.example.test', 1, 30, a, t + 20 * DAY);
    const back = s.sign('www.example.test', 1, 30, a, t + 1000);
    expect(back).not.toBe(fromFuture);
    expect((back[0] as Buffer).readUInt32BE(12)).toBeLessThanOrEqual((t + 1000) / 1000);
    expect(s.tick(t + 1000)).toBe(true); // key states taken again for the time it is
    expect(s.tick(t + 2000)).toBe(false);
  });

  it('a signing server: 20 days ahead and back, no RRSIG ever has its inception after now', () => {
    const dir = tempDir();
    const keys = join(dir, 'keys');
    writeKey(keys, generateKey('example.test', 'csk', 13, 0));
    const file = testConfig(dir);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('    ns: [ns1, ns2]\n', `    ns: [ns1, ns2]\n    dnssec: { keys: ${keys} }\n`),
    );
    const config = parseConfigText(readFileSync(file, 'utf8'));
    const geo = GeoResolver.open(config.geo.database);
    const zones = compileZones(config, loadZoneKeys(config));
    const auth = new Authority(config, geo, InMemoryRegionState.fromConfig(config), zones);
    const ask = (name: string) => {
      const q = buildQuery(name, TYPE.A, { id: 7, edns: { udpSize: 4096, dnssecOk: true } });
      return rrsigTimes(auth.respond(q, '198.18.1.1', false).response as Buffer);
    };
    const real = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(real + 20 * DAY); // the clock runs 20 days ahead
      for (const name of ['www.example.test', 'static.example.test']) {
        const sigs = ask(name);
        expect(sigs.length).toBeGreaterThan(0);
        expect(sigs[0]?.inception).toBeGreaterThan((real + 19 * DAY) / 1000);
      }
      vi.setSystemTime(real + 60_000); // corrected: back to now
      for (const name of ['www.example.test', 'static.example.test', 'www.example.test']) {
        const now = Math.floor(Date.now() / 1000);
        for (const sig of ask(name)) {
          expect(sig.inception).toBeLessThanOrEqual(now);
          expect(sig.expiration).toBeGreaterThan(now);
        }
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('signing horizon (gtm_dnssec_signing_until_seconds)', () => {
  const day = 86_400_000;
  const key = (role: 'zsk' | 'ksk' | 'csk', activate: number | null, inactive: number | null) => ({
    ...generateKey('example.test', role, 13, 0),
    activate,
    inactive,
  });
  it('follows the chain of signing keys that covers now, for records and for the key set', () => {
    const now = 100 * day;
    // A CSK with no end: no end.
    expect(signingUntil([key('csk', 0, null)], now)).toBe(Infinity);
    // A ZSK retiring in 5 days, its successor active from day 104 to 200: the chain ends at 200.
    const ksk = key('ksk', 0, null);
    expect(signingUntil([ksk, key('zsk', 0, now + 5 * day), key('zsk', 104 * day, 200 * day)], now)).toBe(200 * day);
    // A successor that starts after the gap: the horizon is the first key's end.
    expect(signingUntil([ksk, key('zsk', 0, now + 5 * day), key('zsk', 110 * day, null)], now)).toBe(now + 5 * day);
    // The key set signer (KSK) retiring first bounds the zone too; nothing signing now: now.
    expect(signingUntil([key('ksk', 0, now + day), key('zsk', 0, null)], now)).toBe(now + day);
    expect(signingUntil([key('zsk', now + day, null), ksk], now)).toBe(now);
  });
});
