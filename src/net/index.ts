// IP addresses and CIDR networks as bytes: the one home for these helpers. Pure: no I/O and
// no node:net (its isIP is the same rules; pure modules must not load socket modules).

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX = /^[0-9a-f]{1,4}$/i;

export function isIPv4(s: string): boolean {
  return V4.test(s);
}

/** RFC 4291 text forms: eight groups, one '::', an optional dotted IPv4 tail (no zone index). */
export function isIPv6(s: string): boolean {
  if (s.length > 45 || !s.includes(':')) return false;
  let body = s;
  let tailGroups = 0;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    body = s.slice(0, lastColon + 1) + '0';
    tailGroups = 1; // the IPv4 tail is two groups; '0' above stands for one of them
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const all = halves.flatMap(groups);
  if (!all.every((g) => HEX.test(g))) return false;
  const count = all.length + tailGroups;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** 4 or 6 for an address literal, 0 otherwise (as node:net's isIP). */
export function isIP(s: string): 0 | 4 | 6 {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0;
}

/** A socket's peer address as the client sent from: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, a dual-stack socket) as plain IPv4. */
export function unmapIPv4(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export function ipv4Bytes(addr: string): Uint8Array {
  return Uint8Array.from(addr.split('.').map(Number));
}

/** An address prefix, parsed once (as config holds them). */
export interface Prefix {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** Whether a socket's peer address (IPv4-mapped or not) is within one of `prefixes`. */
export function inPrefixes(prefixes: readonly Prefix[], remote: string): boolean {
  if (prefixes.length === 0) return false;
  const addr = unmapIPv4(remote);
  const family = addr.includes(':') ? 6 : 4;
  const bytes = family === 4 ? ipv4Bytes(addr) : ipv6Bytes(addr);
  return prefixes.some((p) => p.family === family && prefixMatch(bytes, p.bytes, p.prefix));
}

export function parseCidr(cidr: string): Prefix | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return undefined;
  const addr = m[1] as string;
  const prefix = Number(m[2]);
  const family = isIP(addr);
  if (family === 4 && prefix <= 32 && isIPv4(addr)) return { family: 4, bytes: ipv4Bytes(addr), prefix };
  if (family === 6 && prefix <= 128 && isIPv6(addr)) return { family: 6, bytes: ipv6Bytes(addr), prefix };
  return undefined;
}

export function ipv6Bytes(addr: string): Uint8Array {
  const out = new Uint8Array(16);
  let s = addr;
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = (v4[1] as string).split('.').map(Number);
    s =
      s.slice(0, -(v4[1] as string).length) +
      `${(((b[0] as number) << 8) | (b[1] as number)).toString(16)}:${(((b[2] as number) << 8) | (b[3] as number)).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

const rdataCache = new Map<string, Uint8Array>();

/** Address bytes for A/AAAA RDATA; memoised because VIPs and resolvers repeat. */
export function addressRdata(addr: string): Uint8Array {
  let b = rdataCache.get(addr);
  if (!b) {
    if (rdataCache.size > 50_000) rdataCache.clear();
    b = isIPv4(addr) ? ipv4Bytes(addr) : ipv6Bytes(addr);
    rdataCache.set(addr, b);
  }
  return b;
}

/** Presentation form of 4 or 16 address bytes (IPv6 without zero compression). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return groups.join(':');
}

/** Whether the first `prefix` bits of `addr` equal those of `net`. */
export function prefixMatch(addr: Uint8Array, net: Uint8Array, prefix: number): boolean {
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== net[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[full] as number) & mask) === ((net[full] as number) & mask);
}

/** Where a client on this machine reaches a listen address: loopback for a wildcard one. */
export function reachableAddress(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}

/** The same, as a URL's host (an IPv6 address in brackets). */
export function urlHost(host: string): string {
  const h = reachableAddress(host);
  return h.includes(':') ? `[${h}]` : h;
}
