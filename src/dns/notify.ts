// NOTIFY (RFC 1996): telling a zone's secondaries that it changed, so they ask for the SOA and
// transfer at once instead of at their next refresh. Sent by the DNS primary at start and after
// each reload that changes a zone's SOA serial, to `transfer.notify`, over UDP, signed with the
// zone's first `transfer.tsig` key when it has one; each target is retried with backoff until it
// answers (1, 2, 4, 8, 16 s: five tries, §3.6), and every outcome is the `zone.notify` event.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Config, Zone } from '../config/index.js';
import { emit, type EventSink } from '../contract/index.js';
import { encodeName, OPCODE, TYPE } from '../wire/index.js';
import { soaRdata } from './zone.js';
import { rrBytes } from './transfer.js';
import { signRequest } from './tsig.js';

const TRIES = 5;

/** The NOTIFY message for a zone: its SOA question, and the SOA itself in the answer (§3.7). */
export function notifyMessage(zone: Zone, id: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE((OPCODE.NOTIFY << 11) | 0x0400, 2); // NOTIFY, AA
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(1, 6);
  const q = Buffer.concat([encodeName(zone.name), Buffer.from([0, TYPE.SOA, 0, 1])]);
  const soa = rrBytes({ name: zone.name, type: TYPE.SOA, ttl: zone.soa.ttl, rdata: soaRdata(zone) });
  return Buffer.concat([h, q, soa]);
}

/** Whether `reply` answers our NOTIFY `id` (QR set, opcode NOTIFY), and its rcode. */
function replyTo(reply: Buffer, id: number): number | undefined {
  if (reply.length < 12 || reply.readUInt16BE(0) !== id) return undefined;
  const flags = reply.readUInt16BE(2);
  if (!(flags & 0x8000) || ((flags >> 11) & 0xf) !== OPCODE.NOTIFY) return undefined;
  return flags & 0xf;
}

export class Notifier {
  /** The serial each zone was last notified with. */
  private readonly sent = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly log: EventSink,
    private readonly backoffMs = 1000,
  ) {}

  /** Notifies the secondaries of each zone whose serial is new since the last call. */
  zonesChanged(config: Config): void {
    for (const zone of config.zones) {
      const targets = zone.transfer?.notify ?? [];
      // A secondary zone we have no copy of has nothing to tell.
      if (!targets.length || zone.unavailable || this.sent.get(zone.name) === zone.soa.serial) continue;
      this.sent.set(zone.name, zone.soa.serial);
      const key = zone.transfer?.tsig[0]
        ? config.dns.tsigKeys.find((k) => k.name === zone.transfer?.tsig[0])
        : undefined;
      for (const t of targets) void this.notify(zone, t, key);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async notify(zone: Zone, target: { host: string; port: number }, key?: Config['dns']['tsigKeys'][number]) {
    const id = randomInt(0, 65536);
    const plain = notifyMessage(zone, id);
    const where = `${target.host}:${target.port}`;
    const socket = dgram.createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    socket.on('error', () => undefined);
    let outcome = `no answer after ${TRIES} tries`;
    try {
      for (let i = 0; i < TRIES && !this.stopped; i++) {
        const msg = key ? signRequest(plain, key, Math.floor(Date.now() / 1000)) : plain;
        const rcode = await new Promise<number | undefined>((resolve) => {
          const timer = setTimeout(
            () => (socket.off('message', onMessage), resolve(undefined)),
            this.backoffMs * 2 ** i,
          );
          const onMessage = (reply: Buffer) => {
            const r = replyTo(reply, id);
            if (r === undefined) return;
            clearTimeout(timer);
            socket.off('message', onMessage);
            resolve(r);
          };
          socket.on('message', onMessage);
          socket.send(msg, target.port, target.host);
        });
        if (rcode === undefined) continue;
        outcome = rcode === 0 ? 'acknowledged' : `answered rcode ${rcode}`;
        break;
      }
    } finally {
      socket.close();
    }
    emit(
      this.log,
      'zone.notify',
      { zone: zone.name, target: where, serial: zone.soa.serial, outcome },
      `NOTIFY ${zone.name} to ${where}: ${outcome}`,
      outcome === 'acknowledged' ? 'info' : 'warn',
    );
  }
}
