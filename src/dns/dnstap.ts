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

function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A protobuf message under construction: varint and length-delimited fields. */
class Proto {
  private readonly head: number[] = [];
  private readonly parts: Uint8Array[] = [];
  private flush(): void {
    if (this.head.length) this.parts.push(Uint8Array.from(this.head.splice(0)));
  }
  uint(field: number, v: number): this {
    varint(this.head, field * 8);
    varint(this.head, v);
    return this;
  }
  fixed32(field: number, v: number): this {
    varint(this.head, field * 8 + 5);
    this.head.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return this;
  }
  bytes(field: number, b: Uint8Array | undefined): this {
    if (!b) return this;
    varint(this.head, field * 8 + 2);
    varint(this.head, b.length);
    this.flush();
    this.parts.push(b);
    return this;
  }
  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.parts);
  }
}

/** One dnstap data frame (length-prefixed) for an event; `extra` is free text (the decision). */
export function dnstapFrame(e: TapEvent, identity: Uint8Array, version: Uint8Array, extra?: string): Buffer {
  const six = e.clientAddress.length === 16;
  const m = new Proto()
    .uint(1, e.type)
    .uint(2, six ? 2 : 1) // socket_family: INET, INET6
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
  const tap = new Proto()
    .bytes(1, identity)
    .bytes(2, version)
    .bytes(3, extra === undefined ? undefined : Buffer.from(extra))
    .bytes(14, m.finish())
    .uint(15, 1) // type: MESSAGE
    .finish();
  const frame = Buffer.allocUnsafe(4 + tap.length);
  frame.writeUInt32BE(tap.length, 0);
  tap.copy(frame, 4);
  return frame;
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
