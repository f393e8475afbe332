// `gtm dns` as a secondary (`zones.<name>.primary`): per zone, the copy kept on disk (a restart
// serves at once), the SOA refresh/retry/expire timers (RFC 1035 §4.3.5), a NOTIFY from a
// primary (RFC 1996) checking at once, and AXFR or IXFR over TCP, TSIG-signed when configured.
// A new copy is checked as a zone file is, written, and handed to the DNS primary process, which
// lays the steered services on it (`fill`) and rolls it out. Past expire without a primary the
// zone is unavailable: SERVFAIL, not stale data forever. The stream's rules are in xfr-in.ts.
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zoneContentOf, type Config, type TsigKey, type Zone } from '../config/index.js';
import { emit } from '../contract/index.js';
import type { Logger } from '../observability/index.js';
import { readResponse, TYPE, type ReadResponse } from '../wire/index.js';
import { serialAfter } from './serial-rule.js';
import { macOf, ResponseVerifier, signRequest } from './tsig.js';
import {
  TransferReader,
  applyChanges,
  keptFromMasterFile,
  keptOf,
  masterFileOf,
  soaQuery,
  soaSerial,
  transferRequest,
  type KeptZone,
  type TransferResult,
} from './xfr-in.js';

type Content = Pick<Zone, 'soa' | 'ns' | 'nsTtl' | 'records'>;
interface Primary {
  host: string;
  port: number;
}
interface Spec {
  primaries: Primary[];
  key?: TsigKey;
}

/** Before the first copy: how soon to try again (no SOA says yet). */
const FIRST_RETRY_S = 10;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A primary that does not answer within this time (or pauses this long mid-transfer) is given up on. */
const EXCHANGE_IDLE_MS = 10_000;

export class Secondaries {
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly log: Logger,
    /** A zone's copy changed, expired or came back: the primary process rolls out again. */
    private readonly onChange: () => void,
  ) {}

  /** Follows the secondary zones of `config` (at start and after each reload). */
  follow(config: Config): void {
    const wanted = new Map(config.zones.filter((z) => z.secondary).map((z) => [z.name, z]));
    for (const [name, f] of this.followers)
      if (!wanted.has(name)) {
        f.stop();
        this.followers.delete(name);
      }
    for (const [name, z] of wanted) {
      const key = z.secondary?.tsig ? config.dns.tsigKeys.find((k) => k.name === z.secondary?.tsig) : undefined;
      const spec = { primaries: z.secondary?.primaries ?? [], ...(key ? { key } : {}) };
      const existing = this.followers.get(name);
      if (existing) existing.spec = spec;
      else {
        const f = new Follower(name, spec, keptCopyFile(config, name), this.log, this.onChange);
        this.followers.set(name, f);
        f.start();
      }
    }
  }

  /** Lays each secondary zone's current copy into `config` (or marks it unavailable). */
  fill(config: Config): void {
    for (const z of config.zones) if (z.secondary) this.followers.get(z.name)?.layOn(z, config);
  }

  /** A NOTIFY for `zone` from one of its primaries (checked by the worker): refresh now. */
  notified(zone: string, from: string): void {
    void this.followers.get(zone)?.refresh(`NOTIFY from ${from}`);
  }

  stop(): void {
    for (const f of this.followers.values()) f.stop();
    this.followers.clear();
  }
}

class Follower {
  private kept?: KeptZone;
  private content?: Content;
  /** When a primary last confirmed our copy (ms); the file's mtime keeps it across restarts. */
  private confirmedAt = 0;
  private expired = false;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again?: string;
  private stopped = false;

  constructor(
    private readonly zone: string,
    public spec: Spec,
    private readonly file: string,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /** Serves the copy on disk at once (unless expired), then asks the primaries. */
  start(): void {
    try {
      const copy = readKeptCopy(this.file, this.zone);
      [this.kept, this.content] = [copy.kept, copy.content];
      this.confirmedAt = statSync(this.file).mtimeMs;
      this.expired = Date.now() - this.confirmedAt > copy.content.soa.expire * 1000;
      this.event('(disk)', `copy read from ${this.file}${this.expired ? ', past its expire' : ''}`, 'info');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (!missing) this.event('(disk)', `the copy in ${this.file} is not usable: ${(err as Error).message}`, 'warn');
    }
    void this.refresh('start');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  layOn(z: Zone, config: Config): void {
    if (!this.content || this.expired) {
      z.unavailable = this.content
        ? `expired: no primary confirmed it for ${this.content.soa.expire} s`
        : 'not transferred yet';
      return;
    }
    layCopy(z, this.content, config);
  }

  /** Asks the primaries in order until one answers; then waits refresh (or retry) seconds. */
  async refresh(why: string): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = why;
      return;
    }
    this.running = true;
    clearTimeout(this.timer);
    let ok = false;
    try {
      for (const p of this.spec.primaries) {
        try {
          await this.fromPrimary(p, why);
          ok = true;
          break;
        } catch (err) {
          this.event(`${p.host}:${p.port}`, `failed (${why}): ${(err as Error).message}`, 'warn');
        }
      }
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!ok) this.checkExpiry();
    const again = this.again;
    this.again = undefined;
    if (again) return void this.refresh(again);
    const soa = this.content?.soa;
    const waitS = !soa ? FIRST_RETRY_S : ok ? soa.refresh : Math.min(soa.retry, this.secondsToExpiry());
    // A timer past 2^31 - 1 ms would fire at once (Node's limit): a long SOA refresh is cut to that.
    const waitMs = Math.min(Math.max(1, waitS) * 1000, MAX_TIMER_MS);
    this.timer = setTimeout(() => void this.refresh(ok ? 'refresh timer' : 'retry timer'), waitMs);
    this.timer.unref();
  }

  private secondsToExpiry(): number {
    const soa = this.content?.soa;
    if (!soa || this.expired) return Infinity;
    return Math.max(1, Math.ceil((this.confirmedAt + soa.expire * 1000 - Date.now()) / 1000));
  }

  private checkExpiry(): void {
    const soa = this.content?.soa;
    if (!soa || this.expired || Date.now() - this.confirmedAt < soa.expire * 1000) return;
    this.expired = true;
    this.event('(none)', `expired: no primary answered for ${soa.expire} s; answering SERVFAIL`, 'error');
    this.onChange();
  }

  /** One primary: its serial, then (when newer) an IXFR or AXFR, applied, checked, kept, rolled out. */
  private async fromPrimary(p: Primary, why: string): Promise<void> {
    const where = `${p.host}:${p.port}`;
    const serial = await this.primarySerial(p);
    if (this.kept && !serialAfter(serial, soaSerial(this.kept.soa))) return this.confirmed(where, serial, why);
    let result = await this.transfer(p, this.kept);
    let kept: KeptZone;
    let how = 'AXFR';
    if (result.kind === 'current') return this.confirmed(where, result.serial, why);
    if (result.kind === 'incremental' && this.kept) {
      try {
        kept = applyChanges(this.kept, result);
        how = `IXFR (${result.steps.length} change(s))`;
      } catch (err) {
        this.event(where, `IXFR not applicable (${(err as Error).message}); asking AXFR`, 'warn');
        result = await this.transfer(p, undefined);
        if (result.kind !== 'full') throw new Error('an AXFR answered without the zone');
        kept = keptOf(result);
      }
    } else if (result.kind === 'full') {
      kept = keptOf(result);
      how = this.kept ? 'AXFR (the primary sent the whole zone)' : 'AXFR';
    } else throw new Error('an IXFR answer to an AXFR request');
    const text = masterFileOf(this.zone, kept, where);
    const read = zoneContentOf(text, this.file, this.zone);
    if ('problems' in read) throw new Error(`the zone is not served as sent: ${read.problems.slice(0, 3).join('; ')}`);
    this.save(text);
    [this.kept, this.content, this.expired] = [kept, read.content, false];
    this.confirmedAt = Date.now();
    this.event(
      where,
      `${how}: serial ${soaSerial(kept.soa)}, ${kept.records.size} records (${why})`,
      'info',
      soaSerial(kept.soa),
    );
    this.onChange();
  }

  /** The primary has our serial: the copy is good for another expire period. */
  private confirmed(where: string, serial: number, why: string): void {
    this.confirmedAt = Date.now();
    try {
      utimesSync(this.file, new Date(), new Date());
    } catch {
      // No copy on disk (it could not be written): the time is kept in memory only.
    }
    if (this.expired) {
      this.expired = false;
      this.event(where, `confirmed serial ${serial} again (${why}); answering again`, 'info', serial);
      this.onChange();
    }
  }

  private save(text: string): void {
    try {
      mkdirSync(join(this.file, '..'), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, this.file);
    } catch (err) {
      this.event('(disk)', `could not keep the copy in ${this.file}: ${(err as Error).message}`, 'error');
    }
  }

  private async primarySerial(p: Primary): Promise<number> {
    let serial: number | undefined;
    await exchange(p, soaQuery(this.zone, randomId()), this.spec.key, (m) => {
      const soa = m.answers.find((r) => r.type === TYPE.SOA && r.owner === this.zone);
      if (m.rcode !== 0 || !soa || !(m.flags & 0x0400))
        throw new Error(`no authoritative SOA for ${this.zone} (rcode ${m.rcode})`);
      serial = soaSerial(soa);
      return true;
    });
    return serial as number;
  }

  private async transfer(p: Primary, have: KeptZone | undefined): Promise<TransferResult> {
    const reader = new TransferReader(this.zone, have ? soaSerial(have.soa) : undefined);
    await exchange(p, transferRequest(this.zone, randomId(), have?.soa), this.spec.key, (m) => reader.add(m));
    return reader.result as TransferResult;
  }

  private event(primary: string, outcome: string, level: 'info' | 'warn' | 'error', serial?: number): void {
    emit(
      this.log,
      'zone.refresh',
      { zone: this.zone, primary, serial: serial ?? null, outcome },
      `zone ${this.zone} from ${primary}: ${outcome}`,
      level,
    );
  }
}

/** Where a secondary zone's copy is kept (one master file per zone). */
export const keptCopyFile = (config: Config, zone: string): string =>
  join(config.dns.secondaryDir, `${zone || 'root'}.zone`);

/** A kept copy, read and checked as a zone file is (throws, with why). */
export function readKeptCopy(file: string, zone: string): { kept: KeptZone; content: Content } {
  const text = readFileSync(file, 'utf8');
  const kept = keptFromMasterFile(text, zone);
  const read = zoneContentOf(text, file, zone);
  if ('problems' in read) throw new Error(read.problems.slice(0, 3).join('; '));
  return { kept, content: read.content };
}

/** A copy laid into the config's zone; a steered name is its service's, so the copy's addresses (or CNAME) there give way. */
export function layCopy(z: Zone, content: Content, config: Config): void {
  const steered = new Set(config.services.map((s) => s.name));
  const over = (r: Zone['records'][number]) =>
    steered.has(r.name) && (r.type === 'A' || r.type === 'AAAA' || r.type === 'CNAME');
  Object.assign(z, { ...content, records: content.records.filter((r) => !over(r)) });
  delete z.unavailable;
}

const randomId = () => randomInt(0x10000);

/**
 * Sends `request` over TCP (signed with `key` when given) and reads framed answers, each checked
 * (TSIG chain, matching ID), until `each` says the answer is whole. Rejects on a socket error, a
 * pause longer than EXCHANGE_IDLE_MS, a close before the end, or whatever `each` throws.
 */
function exchange(
  p: Primary,
  request: Buffer,
  key: TsigKey | undefined,
  each: (m: ReadResponse) => boolean,
): Promise<void> {
  const nowS = () => Math.floor(Date.now() / 1000);
  const signed = key ? signRequest(request, key, nowS()) : request;
  const verifier = key ? new ResponseVerifier(key, macOf(signed)) : undefined;
  const id = request.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: p.host, port: p.port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(EXCHANGE_IDLE_MS, () => finish(new Error(`no answer for ${EXCHANGE_IDLE_MS / 1000} s`)));
    sock.on('error', (err) => finish(err));
    sock.on('close', () => finish(new Error('the primary closed the connection before the answer was whole')));
    sock.on('connect', () => {
      const frame = Buffer.alloc(2 + signed.length);
      frame.writeUInt16BE(signed.length, 0);
      signed.copy(frame, 2);
      sock.write(frame);
    });
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        while (!done && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          if (msg.length < 12 || msg.readUInt16BE(0) !== id || !(msg.readUInt16BE(2) & 0x8000))
            throw new Error('an answer that is not for our request');
          verifier?.check(msg, nowS());
          if (each(readResponse(msg))) {
            verifier?.finish();
            finish();
          }
        }
      } catch (err) {
        finish(err as Error);
      }
    });
  });
}
