// DNSSEC decisions without sockets: NSEC type bitmaps (RFC 4034 §4.3's example), key tags, the key
// states a rollover's timing gives, and key files that must be refused.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dnskeyRdata,
  generateKey,
  keySet,
  keyTag,
  readKey,
  typeBitmap,
  writeKey,
  ZoneSigner,
  type ZoneKey,
} from '../../src/dnssec/index.js';
import { tempDir } from '../helpers/dns.js';

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

  it('signatures are cached by RRset content, not made per query', () => {
    const s = new ZoneSigner('example.test', [generateKey('example.test', 'csk', 13, 0)], policy, 1000);
    const a = [Buffer.from([198, 51, 100, 10])];
    const first = s.sign('www.example.test', 1, 30, a, 1000);
    expect(s.sign('www.example.test', 1, 30, [Buffer.from([198, 51, 100, 10])], 2000)).toBe(first);
    expect(s.signatures).toBe(1);
    s.sign('www.example.test', 1, 30, [Buffer.from([198, 51, 100, 30])], 2000); // another client's set
    expect(s.signatures).toBe(2);
    s.sign('www.example.test', 1, 30, a, 1000 + 3600 * 1000); // refresh due
    expect(s.signatures).toBe(3);
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
