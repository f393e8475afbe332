// A lab client standing for users in one place: every INTERVAL ms it resolves NAME at the
// DNS server with ECS for its subnet, then fetches http://ANSWER/ and prints one JSON line
// per DNS answer change and one per fetch, plus a summary when DURATION ends (bounded: it always stops). It
// resolves every time (no cache), so it shows the authoritative answer, not a TTL.
// With TARGET, it fetches http://TARGET/ without resolving (users of a shared anycast address).
// Usage: node dist/lab/client.js DNS_IP NAME ECS_SUBNET INTERVAL_MS DURATION_MS [TARGET]
import dgram from 'node:dgram';
import http from 'node:http';
import dns2 from 'dns2';
import { parseCidr } from '../src/net/index.js';
import { buildQuery, TYPE } from '../src/wire/index.js';
import type { ClientFetch } from './model.js';

const [
  dnsIp = '127.0.0.1',
  name = 'www.example.test',
  subnet = '198.18.1.0/24',
  intervalText = '100',
  durationText = '10000',
  target,
] = process.argv.slice(2);
const interval = Number(intervalText);
const duration = Math.min(Number(durationText), 600_000);
const ecs = parseCidr(subnet);

function resolve(): Promise<string | undefined> {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const t = setTimeout(() => (s.close(), res(undefined)), 1000);
    s.on('message', (m) => {
      if (m.readUInt16BE(0) !== id) return;
      clearTimeout(t);
      s.close();
      // dns2 decodes the reply (CNAME chains included); the last A record is the target.
      const answers = (dns2.Packet.parse(m) as unknown as { answers: { type: number; address?: string }[] }).answers;
      const addr = answers.filter((a) => a.type === TYPE.A).at(-1)?.address;
      res(addr);
    });
    s.send(
      buildQuery(name, TYPE.A, { id, ecs: ecs ? { address: ecs.bytes, sourcePrefix: ecs.prefix } : undefined }),
      53,
      dnsIp,
    );
  });
}

type Outcome = Pick<ClientFetch, 'ok' | 'servedBy' | 'error'>;

function fetchOnce(addr: string): Promise<Outcome> {
  return new Promise((res) => {
    const req = http.get({ host: addr, port: 80, path: '/', timeout: 1000, agent: false }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      // The LB node's page says "served by REGION-lbN": report the region, not the node (node
      // alternation is not an event). Read here, once; the drills get a typed field.
      r.on('end', () => {
        const m = /^served by (.+)-lb\d+$/.exec(body.trim());
        res(
          r.statusCode === 200 && m
            ? { ok: true, servedBy: m[1] }
            : { ok: false, error: `HTTP ${r.statusCode} ${body.trim()}` },
        );
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => res({ ok: false, error: e.message }));
  });
}

// Two bounded loops: what the authoritative server answers right now (every INTERVAL), and
// what a user gets (resolve, then fetch; a hung connect holds this loop, as it would a user).
const start = Date.now();
const counts = { ok: 0, errors: 0, dnsFailures: 0 };
const emit = (e: object) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...e })}\n`);
const pace = (t0: number) => new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - t0))));

async function watchAnswers(): Promise<void> {
  let last: string | undefined | null = null;
  while (Date.now() - start < duration) {
    const t0 = Date.now();
    const addr = await resolve();
    if (addr !== last) emit({ event: 'answer', answer: addr ?? null });
    last = addr;
    await pace(t0);
  }
}

async function actLikeAUser(): Promise<void> {
  while (Date.now() - start < duration) {
    const t0 = Date.now();
    const addr = target ?? (await resolve());
    const outcome: Outcome = addr ? await fetchOnce(addr) : { ok: false, error: 'no DNS answer' };
    if (!addr) counts.dnsFailures++;
    if (outcome.ok) counts.ok++;
    else counts.errors++;
    // Every fetch, so a drill counts them exactly (at most 20 a second: small).
    emit({ event: 'fetch', answer: addr ?? null, ...outcome } satisfies Omit<ClientFetch, 't'>);
    await pace(t0);
  }
}

await Promise.all([watchAnswers(), actLikeAUser()]);
emit({ event: 'summary', ...counts });
