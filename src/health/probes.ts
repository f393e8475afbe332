// Active probes against one LB node. Each resolves (never rejects) with ok + detail.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Check } from '../config/index.js';
import { buildQuery, TYPE } from '../wire/index.js';

export type { Check };

export interface ProbeResult {
  ok: boolean;
  detail: string;
  ms: number;
}

export async function probe(address: string, check: Check): Promise<ProbeResult> {
  const t0 = performance.now();
  const done = (ok: boolean, detail: string): ProbeResult => ({ ok, detail, ms: performance.now() - t0 });
  try {
    switch (check.type) {
      case 'http':
      case 'https':
        return await httpProbe(address, check, done);
      case 'tcp':
        return await tcpProbe(address, check, done);
      case 'dns':
        return await dnsProbe(address, check, done);
      case 'exec':
        return await execProbe(address, check, done);
    }
  } catch (err) {
    return done(false, (err as Error).message);
  }
}

type Done = (ok: boolean, detail: string) => ProbeResult;

function httpProbe(address: string, c: Extract<Check, { type: 'http' | 'https' }>, done: Done): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const lib = c.type === 'https' ? https : http;
    const req = lib.request(
      {
        host: address,
        port: c.port,
        path: c.path,
        method: c.method,
        headers: c.host ? { host: c.host } : {},
        timeout: c.timeoutMs,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () => {
          if (res.statusCode !== c.expectStatus)
            return resolve(done(false, `HTTP ${res.statusCode}, expected ${c.expectStatus}`));
          if (c.body !== undefined && !body.includes(c.body))
            return resolve(done(false, `HTTP ${res.statusCode} but body lacks ${JSON.stringify(c.body)}`));
          resolve(done(true, `HTTP ${res.statusCode}`));
        });
        res.on('error', (err) => resolve(done(false, err.message)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${c.timeoutMs} ms`)));
    req.on('error', (err) => resolve(done(false, err.message)));
    req.end();
  });
}

function tcpProbe(address: string, c: Extract<Check, { type: 'tcp' }>, done: Done): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port: c.port, timeout: c.timeoutMs }, () => {
      s.destroy();
      resolve(done(true, 'connected'));
    });
    s.on('timeout', () => (s.destroy(), resolve(done(false, `timeout after ${c.timeoutMs} ms`))));
    s.on('error', (err) => resolve(done(false, err.message)));
  });
}

function dnsProbe(address: string, c: Extract<Check, { type: 'dns' }>, done: Done): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    const id = Math.floor(Math.random() * 65536);
    const qtype = TYPE[c.qtype.toUpperCase() as keyof typeof TYPE] ?? TYPE.A;
    const t = setTimeout(() => (sock.close(), resolve(done(false, `timeout after ${c.timeoutMs} ms`))), c.timeoutMs);
    sock.on('message', (m) => {
      if (m.length < 12 || m.readUInt16BE(0) !== id) return;
      clearTimeout(t);
      sock.close();
      const rcode = m.readUInt16BE(2) & 0xf;
      resolve(done(rcode === 0, `rcode ${rcode}, ${m.readUInt16BE(6)} answers`));
    });
    sock.on('error', (err) => (clearTimeout(t), sock.close(), resolve(done(false, err.message))));
    sock.send(buildQuery(c.name, qtype, { id }), c.port, address);
  });
}

function execProbe(address: string, c: Extract<Check, { type: 'exec' }>, done: Done): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = c.command.map((a) => a.replaceAll('{address}', address)) as [string, ...string[]];
    execFile(cmd, args, { timeout: c.timeoutMs }, (err) => {
      if (!err) return resolve(done(true, 'exit 0'));
      resolve(
        done(
          false,
          err.killed
            ? `timeout after ${c.timeoutMs} ms`
            : `exit ${(err as { code?: unknown }).code ?? '?'}: ${err.message.split('\n')[0]}`,
        ),
      );
    });
  });
}

/** Reads the passive signal: a URL answering JSON {"error_rate": 0.02} or a bare number. */
export function readErrorRate(url: string, timeoutMs: number): Promise<number | undefined> {
  return readNumber(url, 'error_rate', timeoutMs);
}

/** Reads an LB cluster's load: a URL answering JSON {"load": 420} or a bare number. */
export function readLoad(url: string, timeoutMs: number): Promise<number | undefined> {
  return readNumber(url, 'load', timeoutMs);
}

/** A number from a URL: one field of a JSON object, or the body itself; undefined on any failure. */
async function readNumber(url: string, field: string, timeoutMs: number): Promise<number | undefined> {
  const ctrl = new AbortController();
  const t = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    const text = (await res.text()).trim();
    const n = text.startsWith('{') ? Number((JSON.parse(text) as Record<string, unknown>)[field]) : Number(text);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(t);
  }
}
