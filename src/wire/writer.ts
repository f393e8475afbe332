// Writing responses: names (compressed), records, OPT with ECS, truncation. Pure.
import { TYPE, CLASS_IN, OPTION_COOKIE, OPTION_ECS, OPTION_NSID, type Ecs } from './rr.js';

/** Encodes a presentation name (no trailing dot) as uncompressed wire labels. */
export function encodeName(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const parts = name.split('.');
  const out = Buffer.alloc(name.length + 2);
  let pos = 0;
  for (const p of parts) {
    out[pos++] = p.length;
    pos += out.write(p, pos, 'latin1');
  }
  out[pos++] = 0;
  return out.subarray(0, pos);
}

/**
 * Builds one response into a preallocated buffer. Names are compressed against the
 * question (so owner names keep the asker's 0x20 case) and against names already written.
 */
const NO_BYTES = new Uint8Array(0);

export class ResponseWriter {
  private readonly buf: Buffer;
  private pos = 0;
  private readonly names = new Map<string, number>();
  counts = [0, 0, 0, 0];

  constructor(capacity = 65535) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Starts a response: header plus the question bytes echoed from the query. */
  begin(query: Uint8Array, id: number, flags: number, questionEnd: number, qname: string | undefined): void {
    this.pos = 0;
    this.names.clear();
    this.qname = this.query = undefined;
    this.counts[0] = this.counts[1] = this.counts[2] = this.counts[3] = 0;
    this.buf.writeUInt16BE(id, 0);
    this.buf.writeUInt16BE(flags, 2);
    this.buf.fill(0, 4, 12);
    this.pos = 12;
    if (questionEnd > 12) {
      this.buf.set(query.subarray(12, questionEnd), 12);
      this.pos = questionEnd;
      this.counts[0] = 1;
      if (qname !== undefined && qname !== '' && !qname.includes('\\')) {
        this.qname = qname;
        this.query = query;
      }
    }
  }

  private qname?: string;
  private query?: Uint8Array;

  /** Question-name suffixes are registered on first need: most answers only use the whole name. */
  private registerQuestionName(): void {
    const qname = this.qname as string;
    const query = this.query as Uint8Array;
    this.qname = this.query = undefined;
    // Suffix i of the lower-case name starts at the i-th label of the question.
    let off = 12;
    let rest = qname;
    for (;;) {
      this.names.set(rest, off);
      off += (query[off] as number) + 1;
      const dot = rest.indexOf('.');
      if (dot < 0) break;
      rest = rest.slice(dot + 1);
    }
  }

  get length(): number {
    return this.pos;
  }

  /** Writes a domain name, compressing with any suffix already in the message. */
  name(name: string): void {
    if (this.qname !== undefined) {
      if (name === this.qname) {
        this.buf.writeUInt16BE(0xc00c, this.pos);
        this.pos += 2;
        return;
      }
      this.registerQuestionName();
    }
    let rest = name;
    for (;;) {
      if (rest === '') {
        this.buf[this.pos++] = 0;
        return;
      }
      const at = this.names.get(rest);
      if (at !== undefined) {
        this.buf.writeUInt16BE(0xc000 | at, this.pos);
        this.pos += 2;
        return;
      }
      if (this.pos < 0x3fff) this.names.set(rest, this.pos);
      const dot = rest.indexOf('.');
      const label = dot < 0 ? rest : rest.slice(0, dot);
      this.buf[this.pos++] = label.length;
      this.pos += this.buf.write(label, this.pos, 'latin1');
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
  }

  /** Writes a resource record with pre-encoded RDATA; `section` 1=answer 2=authority 3=additional. */
  record(section: 1 | 2 | 3, owner: string, type: number, ttl: number, rdata: Uint8Array): void {
    this.name(owner);
    this.buf.writeUInt16BE(type, this.pos);
    this.buf.writeUInt16BE(CLASS_IN, this.pos + 2);
    this.buf.writeUInt32BE(ttl >>> 0, this.pos + 4);
    this.buf.writeUInt16BE(rdata.length, this.pos + 8);
    this.buf.set(rdata, this.pos + 10);
    this.pos += 10 + rdata.length;
    this.counts[section] = (this.counts[section] as number) + 1;
  }

  /** A record whose RDATA holds domain names (NS, CNAME, PTR, MX, SOA), written compressed. */
  composite(
    section: 1 | 2 | 3,
    owner: string,
    type: number,
    ttl: number,
    pre: Uint8Array,
    names: string[],
    post: Uint8Array,
  ): void {
    this.name(owner);
    this.buf.writeUInt16BE(type, this.pos);
    this.buf.writeUInt16BE(CLASS_IN, this.pos + 2);
    this.buf.writeUInt32BE(ttl >>> 0, this.pos + 4);
    const lenAt = this.pos + 8;
    this.pos += 10;
    const start = this.pos;
    this.buf.set(pre, this.pos);
    this.pos += pre.length;
    for (const n of names) this.name(n);
    this.buf.set(post, this.pos);
    this.pos += post.length;
    this.buf.writeUInt16BE(this.pos - start, lenAt);
    this.counts[section] = (this.counts[section] as number) + 1;
  }

  /** A record whose RDATA is a single domain name (CNAME, NS), compressed. */
  nameRecord(section: 1 | 2 | 3, owner: string, type: number, ttl: number, target: string): void {
    this.composite(section, owner, type, ttl, NO_BYTES, [target], NO_BYTES);
  }

  /**
   * The OPT pseudo-record; `extRcode` is the upper 8 bits of a 12-bit RCODE. NSID (RFC 5001) and
   * COOKIE (RFC 7873), when given, go before ECS: the echoed ECS option stays the last thing in the
   * message, the cookie just before it (the memo patches both there).
   */
  opt(
    udpSize: number,
    extRcode: number,
    dnssecOk: boolean,
    ecs?: { ecs: Ecs; scope: number },
    nsid?: Uint8Array,
    cookie?: Uint8Array,
  ): void {
    const b = this.buf;
    b[this.pos] = 0;
    b.writeUInt16BE(TYPE.OPT, this.pos + 1);
    b.writeUInt16BE(udpSize, this.pos + 3);
    b[this.pos + 5] = extRcode;
    b[this.pos + 6] = 0; // version 0
    b[this.pos + 7] = dnssecOk ? 0x80 : 0;
    b[this.pos + 8] = 0;
    let p = this.pos + 11;
    if (nsid) {
      b.writeUInt16BE(OPTION_NSID, p);
      b.writeUInt16BE(nsid.length, p + 2);
      b.set(nsid, p + 4);
      p += 4 + nsid.length;
    }
    if (cookie) {
      b.writeUInt16BE(OPTION_COOKIE, p);
      b.writeUInt16BE(cookie.length, p + 2);
      b.set(cookie, p + 4);
      p += 4 + cookie.length;
    }
    if (ecs) {
      const addrLen = Math.ceil(ecs.ecs.sourcePrefix / 8);
      b.writeUInt16BE(OPTION_ECS, p);
      b.writeUInt16BE(4 + addrLen, p + 2);
      b.writeUInt16BE(ecs.ecs.family, p + 4);
      b[p + 6] = ecs.ecs.sourcePrefix;
      b[p + 7] = ecs.scope;
      b.set(ecs.ecs.address.subarray(0, addrLen), p + 8);
      p += 8 + addrLen;
    }
    b.writeUInt16BE(p - this.pos - 11, this.pos + 9);
    this.pos = p;
    this.counts[3] = (this.counts[3] as number) + 1;
  }

  /** Drops everything after the question (for truncation) keeping the header. */
  truncateTo(questionEnd: number): void {
    this.pos = questionEnd;
    this.counts[1] = this.counts[2] = this.counts[3] = 0;
  }

  setFlags(flags: number): void {
    this.buf.writeUInt16BE(flags, 2);
  }

  /** Copies the finished message out (the internal buffer is reused). */
  finish(): Buffer {
    for (let i = 0; i < 4; i++) this.buf.writeUInt16BE(this.counts[i] as number, 4 + i * 2);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
