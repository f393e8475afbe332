// Every probe type against real local servers on loopback: HTTP (status, body, Host),
// TCP connect, DNS query (against the real gtm dns server) and exec.
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, readErrorRate, readLoad } from '../../src/health/index.js';
import { freePort, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let http: Server;
let httpPort: number;
let dns: RunningDns;

beforeAll(async () => {
  http = createServer((req, res) => {
    if (req.url === '/errors') return void res.end('{"error_rate": 0.25}');
    if (req.url === '/load') return void res.end('{"load": 420, "error_rate": 0.5}');
    if (req.url === '/load-bare') return void res.end('380\n');
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 1000);
    res.writeHead(req.headers.host === 'www.example.test' ? 200 : 421).end('status: ok');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  httpPort = (http.address() as net.AddressInfo).port;
  dns = await startDns(testConfig(tempDir()), 1);
});
afterAll(async () => {
  http.close();
  await dns.stop();
});

const httpCheck = { type: 'http' as const, port: 0, path: '/', method: 'GET', expectStatus: 200, timeoutMs: 300 };

describe('probes', () => {
  it('http: status, body match, Host header and timeout', async () => {
    expect(
      await probe('127.0.0.1', { ...httpCheck, port: httpPort, host: 'www.example.test', body: 'ok' }),
    ).toMatchObject({ ok: true });
    expect(await probe('127.0.0.1', { ...httpCheck, port: httpPort })).toMatchObject({
      ok: false,
      detail: 'HTTP 421, expected 200',
    });
    expect(
      (await probe('127.0.0.1', { ...httpCheck, port: httpPort, host: 'www.example.test', body: 'nope' })).detail,
    ).toMatch(/body lacks/);
    expect((await probe('127.0.0.1', { ...httpCheck, port: httpPort, path: '/slow' })).detail).toMatch(
      /timeout after 300 ms/,
    );
  });
  it('tcp: connect succeeds on a listening port and fails on a closed one', async () => {
    expect((await probe('127.0.0.1', { type: 'tcp', port: httpPort, timeoutMs: 300 })).ok).toBe(true);
    const closed = await freePort();
    expect((await probe('127.0.0.1', { type: 'tcp', port: closed, timeoutMs: 300 })).detail).toMatch(/ECONNREFUSED/);
  });
  it('dns: NOERROR passes, NXDOMAIN and silence fail', async () => {
    expect(
      await probe('127.0.0.1', { type: 'dns', port: dns.port, name: 'www.example.test', qtype: 'A', timeoutMs: 500 }),
    ).toMatchObject({ ok: true, detail: 'rcode 0, 1 answers' });
    expect(
      await probe('127.0.0.1', { type: 'dns', port: dns.port, name: 'nope.example.test', qtype: 'A', timeoutMs: 500 }),
    ).toMatchObject({ ok: false, detail: 'rcode 3, 0 answers' });
    expect(
      (await probe('127.0.0.1', { type: 'dns', port: await freePort(), name: 'x.test', qtype: 'A', timeoutMs: 200 }))
        .ok,
    ).toBe(false);
  });
  it('exec: exit 0 passes, {address} is substituted, timeouts fail', async () => {
    expect(
      await probe('127.0.0.9', {
        type: 'exec',
        command: ['sh', '-c', 'test "$0" = 127.0.0.9', '{address}'],
        timeoutMs: 1000,
      }),
    ).toMatchObject({ ok: true });
    expect((await probe('127.0.0.1', { type: 'exec', command: ['false'], timeoutMs: 1000 })).ok).toBe(false);
    expect((await probe('127.0.0.1', { type: 'exec', command: ['sleep', '5'], timeoutMs: 100 })).detail).toMatch(
      /timeout/,
    );
    expect((await probe('127.0.0.1', { type: 'exec', command: ['/nonexistent/check'], timeoutMs: 100 })).ok).toBe(
      false,
    );
  });
  it('reads the passive error-rate signal', async () => {
    expect(await readErrorRate(`http://127.0.0.1:${httpPort}/errors`, 500)).toBe(0.25);
    expect(await readErrorRate(`http://127.0.0.1:${httpPort}/`, 500)).toBeUndefined();
  });
  it("reads an LB cluster's load: a JSON field or a bare number, nothing on a page or a timeout", async () => {
    expect(await readLoad(`http://127.0.0.1:${httpPort}/load`, 500)).toBe(420);
    expect(await readLoad(`http://127.0.0.1:${httpPort}/load-bare`, 500)).toBe(380);
    expect(await readLoad(`http://127.0.0.1:${httpPort}/`, 500)).toBeUndefined();
    expect(await readLoad(`http://127.0.0.1:${httpPort}/slow`, 200)).toBeUndefined();
  });
});
