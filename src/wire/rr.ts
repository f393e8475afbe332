// DNS constants and the EDNS values the parser produces (RFC 1035, 6891, 7871).

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  SVCB: 64,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;
/** Header opcodes we read or send (RFC 1035 §4.1.1, RFC 1996). */
export const OPCODE = { QUERY: 0, NOTIFY: 4 } as const;

export const TYPE_NAME: Record<number, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  BADVERS: 16,
} as const;
export const RCODE_NAME: Record<number, string> = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));
export const CLASS_IN = 1;
export const OPTION_ECS = 8;
/** RFC 5001: name server identifier. */
export const OPTION_NSID = 3;
/** RFC 7873: DNS cookies. */
export const OPTION_COOKIE = 10;

export interface Ecs {
  family: 1 | 2;
  sourcePrefix: number;
  /** The address padded to full length (4 or 16 bytes), bits past the prefix zero. */
  address: Uint8Array;
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  ecs?: Ecs;
  /** The query asks for the server's identifier (RFC 5001). */
  nsid?: boolean;
  /** A COOKIE option (RFC 7873): the client cookie (8 bytes) and the server cookie it holds (8-32), if any. */
  cookie?: { client: Uint8Array; server?: Uint8Array };
}

/** Whether `name` is `zone` or below it (both lower case, without the final dot). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}
