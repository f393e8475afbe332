// What Node can do at all per UDP packet: a cluster of workers (as many as `gtm dns`
// runs) that answers every query with one precomputed response, patching only the ID.
// `bench:dns` runs it beside gtm and gdnsd and reports gtm as a share of it.
// Usage: node dist/bench/ceiling.js <port> <workers> <answer as hex>
import cluster from 'node:cluster';
import dgram from 'node:dgram';

const [portArg, workersArg, answerHex] = process.argv.slice(2);
const port = Number(portArg);
const workers = Number(workersArg);
const answer = Buffer.from(answerHex ?? '', 'hex');

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  const sock = dgram.createSocket({
    type: 'udp4',
    // As in DnsServer: replies go to a literal address, so skip dns.lookup's extra tick.
    lookup: (address, _opts, cb) => cb(null, address, 4),
  });
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 2) return;
    const out = Buffer.allocUnsafe(answer.length);
    answer.copy(out);
    out[0] = msg[0] as number;
    out[1] = msg[1] as number;
    sock.send(out, rinfo.port, rinfo.address);
  });
  sock.bind({ address: '127.0.0.1', port, exclusive: false });
  process.on('disconnect', () => process.exit(0));
}
