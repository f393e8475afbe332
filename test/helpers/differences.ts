// What may differ between `gtm dns` and gdnsd for the same query, and why. A difference that
// no class below explains fails the differential test. Each class names the rule that allows
// it; README "On the wire" lists them for operators.
import { rrKeys, type Msg } from './dnsmsg.js';

export interface Query {
  index: number;
  name: string;
  qtype: number;
  qclass: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  edns?: {
    udpSize: number;
    version: number;
    dnssecOk: boolean;
    option: 'none' | 'ecs' | 'ecs-malformed' | 'unknown' | 'cookie' | 'truncated-option';
  };
  wire: Buffer;
}

/** The aspects in which two replies differ (empty: the same answer). */
export function compare(m: Msg | undefined, g: Msg | undefined): string[] {
  if (!m || !g) return m === g ? [] : [`reply: gtm ${m ? 'yes' : 'none'}, gdnsd ${g ? 'yes' : 'none'}`];
  const out: string[] = [];
  const field = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`${what}: gtm ${JSON.stringify(a)}, gdnsd ${JSON.stringify(b)}`);
  };
  field('rcode', m.rcode, g.rcode);
  field('opcode', m.opcode, g.opcode);
  field('aa', m.aa, g.aa);
  field('tc', m.tc, g.tc);
  field('rd', m.rd, g.rd);
  field('cd', m.cd, g.cd);
  field('question', m.question, g.question);
  field('answer', rrKeys(m.answer), rrKeys(g.answer));
  field('authority', rrKeys(m.authority), rrKeys(g.authority));
  field('additional', rrKeys(m.additional), rrKeys(g.additional));
  field('opt', !!m.opt, !!g.opt);
  if (m.opt && g.opt) {
    field('opt.version', m.opt.version, g.opt.version);
    field('opt.do', m.opt.do, g.opt.do);
    field('opt.udp', m.opt.udpSize, g.opt.udpSize);
    field('opt.options', m.opt.options, g.opt.options);
  }
  return out;
}

/** An accepted difference: when it applies, and which aspects of the comparison it explains. */
interface AcceptedClass {
  name: string;
  /** Why gtm's answer is right (the rule that allows both). */
  why: string;
  applies(q: Query, m: Msg, g: Msg): boolean;
  explains: string[];
}

const isCut = (name: string) => ['deleg.example.test', 'signed.example.test'].includes(name);

export const ACCEPTED: AcceptedClass[] = [
  {
    name: 'edns-payload-size',
    why: 'each side advertises its own UDP payload size (RFC 6891 §6.2.3); gtm says max_udp_size (1232, DNS flag day), gdnsd 1024',
    applies: (_q, m, g) => !!m.opt && !!g.opt,
    explains: ['opt.udp'],
  },
  {
    name: 'cd-copied',
    why: 'a security-aware name server MUST copy CD from the query (RFC 4035 §3.1.6); gdnsd is not security-aware and clears it',
    applies: (q, m, g) => q.cd && m.cd && !g.cd,
    explains: ['cd'],
  },
  {
    name: 'server-cookie-format',
    why: "both echo the client cookie with a server cookie of their own making (RFC 7873 §4.2 leaves the recipe to the server): gtm's is RFC 9018's (16 bytes: version, time, SipHash), gdnsd's 8 bytes",
    applies: (q, m, g) => {
      if (q.edns?.option !== 'cookie') return false;
      const [mine, theirs] = [m.opt?.options, g.opt?.options];
      const client = (o?: { code: number; data: string }[]) =>
        o?.length === 1 && o[0]?.code === 10 ? o[0].data.slice(0, 16) : undefined;
      return client(mine) !== undefined && client(mine) === client(theirs) && mine?.[0]?.data.length === 48;
    },
    explains: ['opt.options'],
  },
  {
    name: 'transfer-refused',
    why: 'AXFR/IXFR: gtm transfers a zone only to its transfer.allow list (none in this test) and says REFUSED (RFC 5936 §4.2 leaves policy to the server), gdnsd says NOTIMP',
    applies: (q, m, g) => (q.qtype === 252 || q.qtype === 251) && m.rcode === 5 && g.rcode === 4,
    explains: ['rcode'],
  },
  {
    name: 'sibling-glue',
    why: 'referrals also carry the addresses of name servers elsewhere in our zone (sibling glue, RFC 9471 §2.2 allows it); gdnsd sends only in-bailiwick glue',
    applies: (_q, m, g) =>
      m.authority.some((r) => r.type === 2) &&
      g.additional.every((r) =>
        m.additional.some((x) => x.name === r.name && x.type === r.type && x.rdata === r.rdata),
      ) &&
      m.additional.every(
        (r) => (r.type === 1 || r.type === 28) && m.authority.some((ns) => ns.type === 2 && ns.rdata === r.name),
      ),
    explains: ['additional'],
  },
  {
    name: 'ds-at-delegation',
    why: 'DS at a zone cut is answered by the parent side, authoritatively, NODATA with the SOA when absent (RFC 4034 §5, RFC 4035 §3.1.4.1); gdnsd has no DNSSEC and sends a referral',
    applies: (q, m) => q.qtype === 43 && isCut(q.name.toLowerCase()) && m.aa,
    explains: ['aa', 'answer', 'authority', 'additional'],
  },
  {
    name: 'any-hinfo-ttl',
    why: 'RFC 8482 §4.2 leaves the TTL of the synthesized HINFO to the server: gtm uses the SOA TTL, gdnsd 3600',
    applies: (q, m, g) =>
      q.qtype === 255 &&
      m.answer.length === 1 &&
      g.answer.length === 1 &&
      m.answer[0]?.type === 13 &&
      g.answer[0]?.type === 13 &&
      m.answer[0]?.rdata === g.answer[0]?.rdata,
    explains: ['answer'],
  },
  {
    name: 'chaos-refused',
    why: 'class CH: gdnsd answers every name with its version (RFC 4892 makes server identification optional); gtm serves only IN and refuses',
    applies: (q, m) => q.qclass === 3 && m.rcode === 5,
    explains: ['rcode', 'answer', 'aa'],
  },
  {
    name: 'ns-addresses',
    why: "an NS answer at the apex carries the name servers' addresses in additional (RFC 1034 §4.3.2 step 6 additional processing); gdnsd sends none outside referrals",
    applies: (q, m, g) =>
      q.qtype === 2 &&
      m.answer.some((r) => r.type === 2) &&
      g.additional.length === 0 &&
      m.additional.every(
        (r) => (r.type === 1 || r.type === 28) && m.answer.some((ns) => ns.type === 2 && ns.rdata === r.name),
      ),
    explains: ['additional'],
  },
  {
    name: 'cname-chain-followed',
    why: 'gtm follows CNAME chains inside the zone (RFC 1034 §4.3.2 step 3a) and ends a chain that reaches no data with the SOA (RFC 2308 §2.2) or a referral; gdnsd returns the first CNAME only',
    applies: (q, m, g) =>
      g.answer.length === 1 &&
      g.answer[0]?.type === 5 &&
      m.answer[0]?.type === 5 &&
      m.answer.some((r) => r.name === g.answer[0]?.name && r.rdata === g.answer[0]?.rdata) &&
      g.authority.length === 0 &&
      q.qtype !== 5,
    explains: ['answer', 'authority', 'additional'],
  },
];

/** The accepted classes that explain every difference, or undefined when some is unexplained. */
export function classify(q: Query, m: Msg | undefined, g: Msg | undefined, diffs: string[]): string[] | undefined {
  if (!m || !g) return undefined;
  let left = diffs.map((d) => d.slice(0, d.indexOf(':')));
  const used: string[] = [];
  for (const c of ACCEPTED) {
    if (!left.some((a) => c.explains.includes(a)) || !c.applies(q, m, g)) continue;
    used.push(c.name);
    left = left.filter((a) => !c.explains.includes(a));
  }
  return left.length === 0 ? used : undefined;
}
