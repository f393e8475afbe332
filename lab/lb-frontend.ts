// The PoP's load-balancer frontend in the lab: accepts TCP on the VIP and splices each
// connection to the next LB node that accepts it (round robin, skipping dead ones), so
// one dead node costs nothing and a dead cluster refuses connections, as a real one would.
// Usage: node dist/lab/lb-frontend.js VIP PORT NODE:PORT [NODE:PORT ...]
import net from 'node:net';

const [vip = '127.0.0.1', port = '80', ...nodes] = process.argv.slice(2);
const backends = nodes.map((n) => {
  const [host, p] = n.split(':');
  return { host: host as string, port: Number(p) };
});
let next = 0;

// Each connection tries every backend once, from its own starting point: with a shared cursor,
// concurrent connections could step one another onto the same dead node twice and give up.
function connect(client: net.Socket, start: number, tried: number): void {
  if (tried >= backends.length) return void client.destroy();
  const b = backends[(start + tried) % backends.length] as { host: string; port: number };
  const up = net.connect({ host: b.host, port: b.port, timeout: 300 });
  up.once('connect', () => {
    up.setTimeout(0);
    client.pipe(up).pipe(client);
  });
  const fail = () => {
    up.destroy();
    connect(client, start, tried + 1);
  };
  up.once('error', fail);
  up.once('timeout', fail);
  client.once('error', () => up.destroy());
  client.once('close', () => up.destroy());
}

const server = net.createServer({ pauseOnConnect: false }, (c) => connect(c, next++, 0));
server.listen(Number(port), vip, () => process.stdout.write(`lb-frontend on ${vip}:${port} -> ${nodes.join(' ')}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
