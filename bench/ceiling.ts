// What Node can do at all per UDP packet: a cluster of workers (as many as `gtm dns`
// runs) that answers every query with one precomputed response, patching only the ID.
// `bench:dns` runs it beside gtm and gdnsd and reports gtm as a share of it, once on Node's
// dgram (one socket the workers share) and once on the batched addon (a socket per worker).
// Usage: node dist/bench/ceiling.js <port> <workers> <answer as hex> [dgram|batched]
import cluster from 'node:cluster';
import dgram from 'node:dgram';
import { BatchedUdpSocket, batchedUdpAddon } from '../src/dns/batched-udp.js';

const [portArg, workersArg, answerHex, io = 'dgram'] = process.argv.slice(2);
const port = Number(portArg);
const workers = Number(workersArg);
const answer = Buffer.from(answerHex ?? '', 'hex');

/** The precomputed answer with the query's ID. */
function answerTo(msg: Buffer): Buffer | undefined {
  if (msg.length < 2) return undefined;
  const out = Buffer.allocUnsafe(answer.length);
  answer.copy(out);
  out[0] = msg[0] as number;
  out[1] = msg[1] as number;
  return out;
}

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else if (io === 'batched') {
  const { addon, why } = batchedUdpAddon();
  if (!addon) throw new Error(`batched ceiling: ${why}`);
  new BatchedUdpSocket(addon, '127.0.0.1', port, 4 << 20, 4096, answerTo, () => undefined);
  process.on('disconnect', () => process.exit(0));
} else {
  const sock = dgram.createSocket({
    type: 'udp4',
    // As in DnsServer: replies go to a literal address, so skip dns.lookup's extra tick.
    lookup: (address, _opts, cb) => cb(null, address, 4),
  });
  sock.on('message', (msg, rinfo) => {
    const out = answerTo(msg);
    if (out) sock.send(out, rinfo.port, rinfo.address);
  });
  sock.bind({ address: '127.0.0.1', port, exclusive: false });
  process.on('disconnect', () => process.exit(0));
}
