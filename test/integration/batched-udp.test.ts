// The batched UDP socket itself (native/udp_batch.c through src/dns/batched-udp.ts), on loopback:
// what it hands the answer path, IPv6, and how the sockets of one port share the clients.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchedUdpSocket, batchedUdpAddon } from '../../src/dns/batched-udp.js';

const { addon, why } = batchedUdpAddon();
const open: BatchedUdpSocket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/**
 * A socket on `host:port` answering each query with `tag:` and what it was given; with `shared`,
 * a copy of that socket instead.
 */
function server(host: string, port: number, tag: string, shared = -1): BatchedUdpSocket {
  if (!addon) throw new Error(`the addon is not built: ${why}`);
  const s = new BatchedUdpSocket(
    addon,
    host,
    port,
    1 << 20,
    4096,
    (msg, remote, from) => Buffer.from(`${tag}|${remote}|${from}|${msg.toString()}`),
    () => undefined,
    shared,
  );
  open.push(s);
  return s;
}

/** Sends `n` datagrams from one client socket; the replies received within `ms`. */
async function ask(host: string, port: number, n: number, ms = 1500): Promise<{ replies: string[]; local: number }> {
  const c = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const replies: string[] = [];
  c.on('message', (m) => replies.push(m.toString()));
  await new Promise<void>((r) => c.bind(0, host, () => r()));
  c.setRecvBufferSize(4 << 20); // the answers come back in batches: ours must not be the drop
  for (let i = 0; i < n; i++) c.send(`q${i}`, port, host);
  const end = Date.now() + ms;
  while (replies.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  const local = c.address().port;
  c.close();
  return { replies, local };
}

describe('the batched UDP socket', () => {
  it('answers every query with the source address and port dgram would give, IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const s = server(host, 0, 'a');
      const { replies, local } = await ask(host, s.port, 300);
      expect(replies).toHaveLength(300);
      expect(new Set(replies)).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `a|${host}|${local}|q${i}`)));
      expect(s.stats()).toMatchObject({ read: 300, sent: 300, sendFailed: 0 });
    }
  });

  it('shares a port between sockets, each client kept on one by the kernel', async () => {
    const a = server('127.0.0.1', 0, 'h0');
    server('127.0.0.1', a.port, 'h1');
    const tags = new Set<string>();
    // Clients (source ports) are hashed over the sockets: one client always reaches the same one,
    // and among 16 clients both are reached (all on one: p = 2^-15).
    for (let c = 0; c < 16; c++) {
      const { replies } = await ask('127.0.0.1', a.port, 50);
      expect(replies).toHaveLength(50);
      const mine = new Set(replies.map((x) => x.split('|')[0] as string));
      expect(mine.size).toBe(1);
      for (const t of mine) tags.add(t);
    }
    expect(tags).toEqual(new Set(['h0', 'h1']));
  });

  it('reads a socket bound elsewhere (as the cluster shares one), and refuses what is not a UDP socket', async () => {
    const bound = dgram.createSocket('udp4');
    await new Promise<void>((r) => bound.bind(0, '127.0.0.1', () => r()));
    const handle = (bound as unknown as { _handle: { fd: number; recvStop(): void } })._handle;
    handle.recvStop(); // Node's handle stays open and unread, as the server holds it
    try {
      const a = server('127.0.0.1', 0, 'copy', handle.fd);
      expect(a.port).toBe(bound.address().port);
      const { replies, local } = await ask('127.0.0.1', a.port, 200);
      expect(new Set(replies)).toEqual(new Set(Array.from({ length: 200 }, (_, i) => `copy|127.0.0.1|${local}|q${i}`)));
      const tcp = net.createServer();
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
      const tcpFd = (tcp as unknown as { _handle: { fd: number } })._handle.fd;
      expect(() => server('127.0.0.1', 0, 'x', tcpFd)).toThrow(/shared socket: Protocol wrong type/);
      expect(() => server('127.0.0.1', 0, 'x', 999_999)).toThrow(/shared socket: Bad file descriptor/);
      tcp.close();
    } finally {
      bound.close();
    }
  });

  it('sends nothing for a query the answer path drops, and goes on with the batch', async () => {
    if (!addon) throw new Error(why);
    const s = new BatchedUdpSocket(
      addon,
      '127.0.0.1',
      0,
      0,
      4096,
      (msg) => {
        const i = Number(msg.toString().slice(1));
        if (i % 3 === 0) return undefined;
        if (i % 3 === 1) throw new Error('a bug in the answer path costs this query, not the batch');
        return Buffer.from(`ok${i}`);
      },
      () => undefined,
    );
    open.push(s);
    const { replies } = await ask('127.0.0.1', s.port, 90, 800);
    expect(replies.sort()).toEqual(Array.from({ length: 30 }, (_, k) => `ok${3 * k + 2}`).sort());
  });
});
