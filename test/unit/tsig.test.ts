// TSIG verification without sockets: a request signed here by hand (RFC 8945 §4.3.3, written
// out independently of src/dns/tsig.ts) verifies, and each way it can be wrong gets its error.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findTsig, TSIG_ERROR, verifyRequest } from '../../src/dns/tsig.js';
import { buildQuery, encodeName, TYPE } from '../../src/wire/index.js';
import type { TsigKey } from '../../src/config/index.js';

const key: TsigKey = {
  name: 'xfr-key',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('0123456789abcdef0123456789abcdef'),
};

/** A query for the zone's AXFR, signed with `k` at `time` (MAC cut to `macLen` bytes). */
function signedQuery(k: TsigKey, time: number, macLen = 32): Buffer {
  const query = buildQuery('example.test', TYPE.AXFR, { id: 777 });
  const t48 = Buffer.alloc(6);
  t48.writeUIntBE(time, 0, 6);
  const fudge = Buffer.from([0x01, 0x2c]); // 300
  const vars = Buffer.concat([
    encodeName(k.name),
    Buffer.from([0, 255, 0, 0, 0, 0]),
    encodeName(k.algorithm),
    t48,
    fudge,
    Buffer.from([0, 0, 0, 0]),
  ]);
  const mac = createHmac('sha256', k.secret).update(query).update(vars).digest().subarray(0, macLen);
  const rdata = Buffer.concat([
    encodeName(k.algorithm),
    t48,
    fudge,
    Buffer.from([0, mac.length]),
    mac,
    Buffer.from([0x03, 0x09, 0, 0, 0, 0]),
  ]);
  const rr = Buffer.concat([
    encodeName(k.name),
    Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, rdata.length >> 8, rdata.length & 0xff]),
    rdata,
  ]);
  const msg = Buffer.concat([query, rr]);
  msg.writeUInt16BE(1, 10);
  return msg;
}

const now = 1_800_000_000;
const verify = (msg: Buffer, keys = [key], at = now) =>
  verifyRequest(msg, findTsig(msg) as NonNullable<ReturnType<typeof findTsig>>, keys, at);

describe('TSIG requests', () => {
  it('verifies a request signed with a key we hold', () => {
    const msg = signedQuery(key, now);
    expect(findTsig(msg)).toMatchObject({
      keyName: 'xfr-key',
      algorithm: 'hmac-sha256',
      timeSigned: now,
      fudge: 300,
      originalId: 777,
    });
    expect(verify(msg)).toEqual({ ok: true, key });
  });

  it('says BADKEY for a key or algorithm we do not hold, BADSIG for a wrong secret or a cut MAC, BADTIME outside the fudge', () => {
    expect(verify(signedQuery({ ...key, name: 'other' }, now))).toMatchObject({ ok: false, error: TSIG_ERROR.BADKEY });
    expect(verify(signedQuery({ ...key, secret: Buffer.from('fedcba9876543210fedcba9876543210') }, now))).toMatchObject(
      {
        ok: false,
        error: TSIG_ERROR.BADSIG,
      },
    );
    expect(verify(signedQuery(key, now, 8))).toMatchObject({
      ok: false,
      error: TSIG_ERROR.BADSIG,
      why: 'MAC of a length not allowed',
    });
    expect(verify(signedQuery(key, now, 16))).toEqual({ ok: true, key }); // half the hash is allowed
    expect(verify(signedQuery(key, now - 301))).toMatchObject({ ok: false, error: TSIG_ERROR.BADTIME });
    expect(verify(signedQuery(key, now + 299))).toEqual({ ok: true, key });
  });

  it('refuses a TSIG that is not the last record, and reads an unsigned message as unsigned', () => {
    const msg = signedQuery(key, now);
    const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    const after = Buffer.concat([msg, opt]);
    after.writeUInt16BE(2, 10);
    expect(() => findTsig(after)).toThrow(/not the last record/);
    expect(findTsig(buildQuery('example.test', TYPE.AXFR))).toBeUndefined();
  });
});
