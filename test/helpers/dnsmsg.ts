// A small, strict DNS message decoder for comparing two servers' answers: every record is
// reduced to a canonical form (owner lower case, names inside RDATA decompressed), so that
// differences in compression or record order do not count and differences in content do.
// Written for the tests on purpose: it is independent of the server's own codec.

export interface Rr {
  name: string;
  type: number;
  cls: number;
  ttl: number;
  /** RDATA with names decompressed and lower-cased (hex), for the types that hold names. */
  rdata: string;
}

export interface Msg {
  id: number;
  flags: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  cd: boolean;
  /** The 12-bit rcode (header low bits + OPT extended bits). */
  rcode: number;
  question: { name: string; type: number; cls: number }[];
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
  opt?: { udpSize: number; version: number; do: boolean; options: { code: number; data: string }[] };
}

function readName(b: Buffer, start: number): [string, number] {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= b.length) throw new Error('name runs past the message');
    const len = b[pos] as number;
    if (len === 0) return [labels.join('.').toLowerCase(), end < 0 ? pos + 1 : end];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | (b[pos + 1] as number);
      continue;
    }
    if (len > 63) throw new Error('bad label type');
    labels.push(b.subarray(pos + 1, pos + 1 + len).toString('latin1'));
    pos += 1 + len;
  }
  throw new Error('compression loop');
}

/** Types whose RDATA starts (or is) domain names that may be compressed (RFC 3597 §4). */
function canonicalRdata(b: Buffer, type: number, start: number, len: number): string {
  const end = start + len;
  const nameAt = (p: number): [string, number] => readName(b, p);
  switch (type) {
    case 2: // NS
    case 5: // CNAME
    case 12: // PTR
      return nameAt(start)[0];
    case 15: {
      // MX
      return `${b.readUInt16BE(start)} ${nameAt(start + 2)[0]}`;
    }
    case 6: {
      // SOA
      const [m, p1] = nameAt(start);
      const [r, p2] = nameAt(p1);
      return `${m} ${r} ${b.subarray(p2, end).toString('hex')}`;
    }
    default:
      return b.subarray(start, end).toString('hex');
  }
}

export function decodeMsg(b: Buffer): Msg {
  if (b.length < 12) throw new Error('shorter than a header');
  const flags = b.readUInt16BE(2);
  const counts = [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)];
  let pos = 12;
  const question: Msg['question'] = [];
  for (let i = 0; i < (counts[0] as number); i++) {
    const [name, p] = readName(b, pos);
    question.push({ name, type: b.readUInt16BE(p), cls: b.readUInt16BE(p + 2) });
    pos = p + 4;
  }
  const sections: Rr[][] = [[], [], []];
  let opt: Msg['opt'];
  let extRcode = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < (counts[s + 1] as number); i++) {
      const [name, p] = readName(b, pos);
      const type = b.readUInt16BE(p);
      const cls = b.readUInt16BE(p + 2);
      const ttl = b.readUInt32BE(p + 4);
      const rdlen = b.readUInt16BE(p + 8);
      const rd = p + 10;
      if (rd + rdlen > b.length) throw new Error('RDATA runs past the message');
      if (type === 41) {
        const options: { code: number; data: string }[] = [];
        for (let o = rd; o + 4 <= rd + rdlen;) {
          const olen = b.readUInt16BE(o + 2);
          options.push({ code: b.readUInt16BE(o), data: b.subarray(o + 4, o + 4 + olen).toString('hex') });
          o += 4 + olen;
        }
        extRcode = ttl >>> 24;
        opt = { udpSize: cls, version: (ttl >>> 16) & 0xff, do: (ttl & 0x8000) !== 0, options };
      } else {
        (sections[s] as Rr[]).push({ name, type, cls, ttl, rdata: canonicalRdata(b, type, rd, rdlen) });
      }
      pos = rd + rdlen;
    }
  }
  return {
    id: b.readUInt16BE(0),
    flags,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: (extRcode << 4) | (flags & 0xf),
    question,
    answer: sections[0] as Rr[],
    authority: sections[1] as Rr[],
    additional: sections[2] as Rr[],
    opt,
  };
}

/** A section as a sorted list of record keys (order inside a section carries no meaning). */
export function rrKeys(rrs: Rr[]): string[] {
  return rrs.map((r) => `${r.name} ${r.cls} ${r.type} ${r.ttl} ${r.rdata}`).sort();
}
