// A burst of 1,000 UDP queries sent at once (as a resolver farm's retries or a cache expiry
// bring) is answered whole: the receive buffer holds it (dns.udp_receive_buffer, logged at start).
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { startDns, tempDir, testConfig, UDP_PATHS, type RunningDns } from '../helpers/dns.js';

/** Sends `n` queries without pacing; the number of distinct IDs answered within `waitMs`. */
async function burst(port: number, n: number, waitMs: number): Promise<number> {
  const sock = dgram.createSocket('udp4');
  const answered = new Set<number>();
  sock.on('message', (m) => answered.add(m.readUInt16BE(0)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  // Big buffers of our own, so the drops measured are the server's, not ours.
  sock.setSendBufferSize(4 * 1024 * 1024);
  sock.setRecvBufferSize(4 * 1024 * 1024);
  const queries = Array.from({ length: n }, (_, i) =>
    buildQuery('www.example.test', TYPE.A, {
      id: i,
      ecs: { address: Uint8Array.of(198, 18, 1 + (i % 9), 0), sourcePrefix: 24 },
    }),
  );
  for (const q of queries) sock.send(q, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  sock.close();
  return answered.size;
}

// The batched path with either socket layout: one socket the workers share (its buffer holds the
// burst), or one per worker (each holds its share).
const PATHS = [
  ...UDP_PATHS.map((io) => ({ io, udpSockets: undefined })),
  { io: 'batched' as const, udpSockets: 'per-worker' as const },
];

describe.each(PATHS)('a burst of queries on the $io UDP path (sockets: $udpSockets)', ({ io, udpSockets }) => {
  let gtm: RunningDns | undefined;
  beforeAll(async () => {
    gtm = await startDns(testConfig(tempDir('gtm-burst-'), { io, udpSockets }), 2);
  }, 30_000);
  afterAll(async () => {
    await gtm?.stop();
  });

  it('answers 1,000 queries sent at once, and says its UDP path and receive buffer at start', async () => {
    const g = gtm as RunningDns;
    await g.waitLog(/"udpReceiveBuffer":\d+/);
    // Each worker says the path it took, and on the batched path its sockets.
    await g.waitLog(new RegExp(`"udpIo":"${io}"`));
    if (io === 'batched') await g.waitLog(new RegExp(`"udpSockets":"${udpSockets ?? 'shared'}"`));
    // ... and that libuv's idle clock is off there (its load comes from the kernel: overload.ts).
    if (io === 'batched') await g.waitLog(/"idleClockOff":true/);
    // Three bursts: each must be whole (a cold first one included).
    for (let round = 0; round < 3; round++) expect(await burst(g.port, 1000, 3000)).toBe(1000);
  }, 30_000);
});
