// A NOTIFY we receive (RFC 1996 §3): accepted only for a zone we are a secondary of, from one of
// its primaries, signed with its key when `primary_tsig` is set; answered NOERROR with AA and
// the question echoed (signed back when the NOTIFY was). Anything else is REFUSED, or NOTAUTH
// with the TSIG error. Pure: the caller tells the secondary side to refresh.
import type { TsigKey } from '../config/index.js';
import { unmapIPv4 } from '../net/index.js';
import { OPCODE, RCODE, type ResponseWriter } from '../wire/index.js';
import { findTsig, signResponse, timeOther, TSIG_ERROR, unsignedTsigError, verifyRequest } from './tsig.js';
import type { CompiledZone } from './zone.js';

export interface NotifyAnswer {
  response: Buffer;
  rcode: number;
  /** The zone to refresh, when the NOTIFY was accepted. */
  accepted?: string;
  outcome: string;
}

/** Our answer: QR, opcode NOTIFY, AA when accepted, the question, and an OPT when the NOTIFY had one. */
function reply(w: ResponseWriter, msg: Uint8Array, n: NotifyQuestion, rcode: number, udpSize: number): Buffer {
  w.begin(msg, n.id, 0x8000 | (OPCODE.NOTIFY << 11) | (rcode === 0 ? 0x0400 : 0) | rcode, n.questionEnd, undefined);
  if (n.edns) w.opt(udpSize, 0, false);
  return w.finish();
}

interface NotifyQuestion {
  id: number;
  qname: string;
  questionEnd: number;
  edns?: unknown;
}

export function answerNotify(
  msg: Uint8Array,
  n: NotifyQuestion,
  zones: CompiledZone[],
  keys: TsigKey[],
  remoteAddress: string,
  nowS: number,
  w: ResponseWriter,
  udpSize = 1232,
): NotifyAnswer {
  const bytes = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const from = unmapIPv4(remoteAddress);
  const refuse = (outcome: string): NotifyAnswer => ({
    response: reply(w, msg, n, RCODE.REFUSED, udpSize),
    rcode: RCODE.REFUSED,
    outcome,
  });
  const secondary = zones.find((z) => z.zone.name === n.qname)?.zone.secondary;
  if (!secondary) return refuse('not a zone this server is a secondary of');
  if (!secondary.primaries.some((p) => p.host === from)) return refuse(`${from} is not a primary of the zone`);
  let tsig;
  try {
    tsig = findTsig(bytes);
  } catch (err) {
    return { ...refuse(`malformed TSIG (${(err as Error).message})`), rcode: RCODE.FORMERR };
  }
  if (!tsig) {
    if (secondary.tsig) return refuse(`not signed (the zone's primary_tsig is ${secondary.tsig})`);
    return { response: reply(w, msg, n, 0, udpSize), rcode: 0, accepted: n.qname, outcome: 'accepted' };
  }
  const usable = secondary.tsig ? keys.filter((k) => k.name === secondary.tsig) : keys;
  const v = verifyRequest(bytes, tsig, usable, nowS);
  if (!v.ok) {
    const notauth = reply(w, msg, n, RCODE.NOTAUTH, udpSize);
    const [response] =
      v.error === TSIG_ERROR.BADTIME && v.key
        ? signResponse([notauth], v.key, tsig, tsig.timeSigned, v.error, timeOther(nowS))
        : [unsignedTsigError(notauth, tsig, v.error, nowS)];
    return { response: response as Buffer, rcode: RCODE.NOTAUTH, outcome: `TSIG ${v.why}` };
  }
  const [response] = signResponse([reply(w, msg, n, 0, udpSize)], v.key, tsig, nowS);
  return { response: response as Buffer, rcode: 0, accepted: n.qname, outcome: `accepted, signed with ${v.key.name}` };
}
