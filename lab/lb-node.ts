// A stand-in regional load-balancer node for the lab and tests: answers HTTP on one
// address. GET /healthz -> 200 "ok" (503 after POST /healthz?fail=1, until fail=0); GET /errors -> {"error_rate": N} (settable with
// POST /errors?rate=0.3 to drive the passive signal); GET /load -> {"load": N} (settable with
// POST /load?value=95, the agent's capacity signal); anything else -> 200 with its name.
// Usage: node dist/lab/lb-node.js NAME HOST PORT
import { createServer } from 'node:http';

const [name = 'lb', host = '127.0.0.1', port = '8080'] = process.argv.slice(2);
let errorRate = 0;
let load = 0;
// POST /healthz?fail=1: the health check fails while pages are still served (a false signal).
let healthFails = false;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/healthz') {
    if (req.method === 'POST') healthFails = url.searchParams.get('fail') === '1';
    return void (healthFails ? res.writeHead(503).end('failing on purpose\n') : res.writeHead(200).end('ok\n'));
  }
  if (url.pathname === '/errors') {
    if (req.method === 'POST') errorRate = Number(url.searchParams.get('rate') ?? 0);
    return void res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error_rate: errorRate }));
  }
  if (url.pathname === '/load') {
    if (req.method === 'POST') load = Number(url.searchParams.get('value') ?? 0);
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ load }));
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`served by ${name}\n`);
});
server.listen(Number(port), host, () => process.stdout.write(`lb-node ${name} listening on ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
