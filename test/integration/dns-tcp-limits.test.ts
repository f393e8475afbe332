// TCP under abuse (RFC 7766 §6.2.3): a slowloris cannot hold connections open, one address
// cannot take them all, a full server makes room by closing the longest-idle connection, and
// UDP is not affected.
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { startDns, tempDir, testConfig, udpExchange, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

let dns: RunningDns;

beforeAll(async () => {
  const cfg = testConfig(tempDir());
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8').replace(
      /^dns:\n/m,
      'dns:\n  tcp_message_ms: 1000\n  tcp_max_per_source: 20\n  tcp_max_connections: 30\n',
    ),
  );
  dns = await startDns(cfg, 1); // one worker: the limits are per worker
});
afterAll(async () => {
  await dns?.stop();
});

/** A connection from `local` (127.0.0.x: a distinct source), with its close observed. */
function open(local: string): Promise<{ sock: net.Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const sock = net.connect({ port: dns.port, host: '127.0.0.1', localAddress: local }, () =>
      resolve({ sock, closed: () => closed }),
    );
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    setTimeout(() => reject(new Error('connect timed out')), 3000);
  });
}

/** One query over a fresh connection from `local`; resolves with the reply's ID or undefined. */
function tcpQuery(local: string, id: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const q = buildQuery('www.example.test', TYPE.A, { id });
    const sock = net.connect({ port: dns.port, host: '127.0.0.1', localAddress: local }, () =>
      sock.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])),
    );
    const t = setTimeout(() => (sock.destroy(), resolve(undefined)), 2000);
    sock.on('data', (d) => {
      if (d.length >= 4) (clearTimeout(t), sock.destroy(), resolve(d.readUInt16BE(2)));
    });
    sock.on('error', () => (clearTimeout(t), resolve(undefined)));
    sock.on('close', () => (clearTimeout(t), resolve(undefined)));
  });
}

describe('TCP limits', () => {
  it('closes slowloris connections at the message deadline, refuses a source past its limit, keeps UDP and other sources answered', async () => {
    const slow = await Promise.all(Array.from({ length: 25 }, () => open('127.0.0.5')));
    // A byte every 200 ms of a message that never completes (length prefix 0x0100).
    const drip = setInterval(() => {
      for (const c of slow) if (!c.closed()) c.sock.write(Buffer.from([0x01]));
    }, 200);
    try {
      // Past 20 from one address: refused at once.
      await waitFor(
        () => slow.filter((c) => c.closed()).length >= 5,
        'the connections past the per-source limit to be refused',
        2000,
      );
      // Another source is answered meanwhile, and so is UDP.
      expect(await tcpQuery('127.0.0.6', 7)).toBe(7);
      expect((await udpExchange(dns.port, buildQuery('www.example.test', TYPE.A, { id: 8 })))?.readUInt16BE(0)).toBe(8);
      // Dripping bytes does not keep them: all closed within the 1 s message deadline (+ sweep).
      const t0 = Date.now();
      await waitFor(() => slow.every((c) => c.closed()), 'every slowloris connection to be closed', 4000);
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      clearInterval(drip);
      for (const c of slow) c.sock.destroy();
    }
  });

  it('at the connection limit, a new client gets the room of the longest-idle connection', async () => {
    // 30 open, silent connections from 3 addresses.
    const idle: { sock: net.Socket; closed: () => boolean }[] = [];
    for (let i = 0; i < 30; i++) idle.push(await open(`127.0.1.${(i % 3) + 1}`));
    await new Promise((r) => setTimeout(r, 50));
    expect(idle.filter((c) => c.closed())).toEqual([]);
    expect(await tcpQuery('127.0.0.9', 9)).toBe(9);
    // The oldest idle one made room.
    await waitFor(() => idle[0]?.closed() === true, 'the oldest idle connection to be evicted', 2000);
    expect(idle.slice(2).some((c) => c.closed())).toBe(false);
    for (const c of idle) c.sock.destroy();
  });
});

describe('TCP slowloris with partial messages (hardening round 3, item 9)', () => {
  it('connections sitting on a byte of a length prefix make room for real questions at the limit', async () => {
    // Attackers under the per-source cap (3 addresses x 10 = the 30-connection limit), each
    // sending one byte of a length prefix and reconnecting as soon as it is closed, for 4 s.
    const until = Date.now() + 4000;
    let attacking = 0;
    const attacker = async (local: string) => {
      while (Date.now() < until) {
        const c = await open(local).catch(() => undefined);
        if (!c) continue;
        attacking++;
        c.sock.write(Buffer.from([0x01]));
        await waitFor(() => c.closed() || Date.now() >= until, 'the connection to be closed', 6000, 20);
        c.sock.destroy();
        attacking--;
      }
    };
    const attack = Array.from({ length: 30 }, (_, i) => attacker(`127.0.2.${(i % 3) + 1}`));
    await waitFor(() => attacking >= 30, 'the attack to fill the server', 3000, 20);
    // Real questions from other addresses meanwhile, one after another.
    const answered: (number | undefined)[] = [];
    for (let i = 0; i < 20 && Date.now() < until - 300; i++)
      answered.push(await tcpQuery(`127.0.3.${(i % 5) + 1}`, 100 + i));
    await Promise.all(attack);
    expect(answered.length).toBeGreaterThanOrEqual(10);
    const ok = answered.filter((id, i) => id === 100 + i).length;
    expect(ok, `answered ${ok} of ${answered.length}`).toBe(answered.length);
  }, 20_000);
});
