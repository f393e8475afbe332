// The PoP's load-balancer frontend in the lab: accepts TCP on the VIP and relays each connection
// to the next LB node that accepts it (round robin, skipping dead ones), so one dead node costs
// nothing and a dead cluster refuses connections, as a real one would. Like a real proxy
// (nginx's proxy_next_upstream, HAProxy's retry-on), a request whose node fails before sending
// a single byte back is retried on the next node: a node killed with a request in flight (its
// kernel accepted the connection, the process died before answering) is not a client error.
// Usage: node dist/lab/lb-frontend.js VIP PORT NODE:PORT [NODE:PORT ...]
import net from 'node:net';

const [vip = '127.0.0.1', port = '80', ...nodes] = process.argv.slice(2);
const backends = nodes.map((n) => {
  const [host, p] = n.split(':');
  return { host: host as string, port: Number(p) };
});
let next = 0;

/** One client connection: what it sent so far (kept until a node answers), and the node now tried. */
interface Relay {
  client: net.Socket;
  start: number;
  sent: Buffer[];
  answered: boolean;
  up?: net.Socket;
  connected: boolean;
}

// Each connection tries every backend once, from its own starting point: with a shared cursor,
// concurrent connections could step one another onto the same dead node twice and give up.
function tryNode(r: Relay, tried: number): void {
  if (tried >= backends.length) return void r.client.destroy();
  const b = backends[(r.start + tried) % backends.length] as { host: string; port: number };
  const up = net.connect({ host: b.host, port: b.port, timeout: 300 });
  r.up = up;
  r.connected = false;
  let done = false;
  const fail = () => {
    if (done) return;
    done = true;
    up.destroy();
    // Nothing came back yet: the request can go to the next node. Otherwise the answer is cut.
    if (r.answered) r.client.destroy();
    else tryNode(r, tried + 1);
  };
  up.once('connect', () => {
    up.setTimeout(0);
    r.connected = true;
    for (const d of r.sent) up.write(d);
  });
  up.on('data', (d) => {
    r.answered = true;
    r.sent = [];
    r.client.write(d);
  });
  up.once('end', () => {
    if (!r.answered) return fail();
    done = true;
    r.client.end();
  });
  up.once('error', fail);
  up.once('timeout', fail);
}

const server = net.createServer((client) => {
  const r: Relay = { client, start: next++, sent: [], answered: false, connected: false };
  client.on('data', (d) => {
    if (!r.answered) r.sent.push(d);
    if (r.connected) r.up?.write(d);
  });
  client.once('error', () => r.up?.destroy());
  client.once('close', () => r.up?.destroy());
  tryNode(r, 0);
});
server.listen(Number(port), vip, () => process.stdout.write(`lb-frontend on ${vip}:${port} -> ${nodes.join(' ')}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
