// dnstap (https://dnstap.info): query and response logging as BIND, Knot, NSD, PowerDNS and unbound
// write it, so the tools DNS operators already run (dnstap-read, dnstap-ldns, fstrm_capture
// pipelines) read ours. A log is a Frame Streams file: a START control frame naming the content
// type, one data frame per message (a protobuf `Dnstap` holding a `Message` of type AUTH_QUERY or
// AUTH_RESPONSE), and a STOP control frame. The protobuf is small and fixed, so it is encoded here
// by hand (field numbers from dnstap.proto) rather than through a protobuf library on the hot path.
// The steering decision (policy and regions answered) rides in the Dnstap `extra` field.
// Pure: bytes in, bytes out.

export const DNSTAP_CONTENT_TYPE = 'protobuf:dnstap.Dnstap';

/** Frame Streams control frame types. */
const FSTRM_START = 2;
const FSTRM_STOP = 3;
const FSTRM_FIELD_CONTENT_TYPE = 1;

/** dnstap Message.Type values used by an authoritative server. */
export const AUTH_QUERY = 1;
export const AUTH_RESPONSE = 2;

export interface TapEvent {
  type: typeof AUTH_QUERY | typeof AUTH_RESPONSE;
  /** The client's address bytes (4 or 16) and port. */
  clientAddress: Uint8Array;
  clientPort: number;
  /** Our address bytes and port. */
  serverAddress?: Uint8Array;
  serverPort?: number;
  tcp: boolean;
  /** When the query arrived (ms since the epoch); a response also carries its own time. */
  queryTimeMs: number;
  responseTimeMs?: number;
  query?: Uint8Array;
  response?: Uint8Array;
  /** The zone the query fell in (wire form). */
  zone?: Uint8Array;
}

/**
 * Protobuf fields written straight into a buffer (varints, fixed32, length-delimited bytes): one
 * copy per field, no intermediate arrays (a frame per query is on the hot path when logging).
 */
class PbWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  private varint(v: number): void {
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  uint(field: number, v: number): this {
    this.varint(field * 8);
    this.varint(v);
    return this;
  }
  fixed32(field: number, v: number): this {
    this.varint(field * 8 + 5);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  bytes(field: number, b: Uint8Array | undefined, end = b?.length ?? 0): this {
    if (!b) return this;
    this.varint(field * 8 + 2);
    this.varint(end);
    this.buf.set(end === b.length ? b : b.subarray(0, end), this.pos);
    this.pos += end;
    return this;
  }
}

/** Reused for the inner Message of each frame (a DNS message is at most 64 KiB). */
const scratch = Buffer.alloc(70_000);

/** One dnstap data frame (length-prefixed) for an event; `extra` is free text (the decision). */
export function dnstapFrame(e: TapEvent, identity: Uint8Array, version: Uint8Array, extra?: string): Buffer {
  const m = new PbWriter(scratch)
    .uint(1, e.type)
    .uint(2, e.clientAddress.length === 16 ? 2 : 1) // socket_family: INET, INET6
    .uint(3, e.tcp ? 2 : 1) // socket_protocol: UDP, TCP
    .bytes(4, e.clientAddress) // query_address
    .bytes(5, e.serverAddress) // response_address
    .uint(6, e.clientPort);
  if (e.serverPort !== undefined) m.uint(7, e.serverPort);
  m.uint(8, Math.floor(e.queryTimeMs / 1000)).fixed32(9, (e.queryTimeMs % 1000) * 1_000_000);
  m.bytes(10, e.query).bytes(11, e.zone);
  if (e.responseTimeMs !== undefined)
    m.uint(12, Math.floor(e.responseTimeMs / 1000)).fixed32(13, (e.responseTimeMs % 1000) * 1_000_000);
  m.bytes(14, e.response);
  const extraBytes = extra === undefined ? undefined : Buffer.from(extra);
  const size = 4 + 40 + identity.length + version.length + (extraBytes?.length ?? 0) + m.pos;
  const out = new PbWriter(Buffer.allocUnsafe(size));
  out.pos = 4;
  out.bytes(1, identity).bytes(2, version).bytes(3, extraBytes).bytes(14, scratch, m.pos).uint(15, 1); // type: MESSAGE
  out.buf.writeUInt32BE(out.pos - 4, 0);
  return out.buf.subarray(0, out.pos);
}

/** A Frame Streams control frame: the escape (a zero length), its length, type and fields. */
function control(type: number, contentType?: string): Buffer {
  const ct = contentType === undefined ? Buffer.alloc(0) : Buffer.from(contentType);
  const fields = contentType === undefined ? 0 : 8 + ct.length;
  const b = Buffer.alloc(12 + fields);
  b.writeUInt32BE(0, 0);
  b.writeUInt32BE(4 + fields, 4);
  b.writeUInt32BE(type, 8);
  if (contentType !== undefined) {
    b.writeUInt32BE(FSTRM_FIELD_CONTENT_TYPE, 12);
    b.writeUInt32BE(ct.length, 16);
    ct.copy(b, 20);
  }
  return b;
}

export const fstrmStart = (): Buffer => control(FSTRM_START, DNSTAP_CONTENT_TYPE);
export const fstrmStop = (): Buffer => control(FSTRM_STOP);
