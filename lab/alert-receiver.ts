// The lab's alert webhook: accepts what `gtm control` posts (generic JSON alerts) and appends each
// with its arrival time to a JSON-lines file the drills read. Loopback of the DNS namespace only.
// Usage: node dist/lab/alert-receiver.js HOST PORT FILE
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [host = '127.0.0.1', port = '9199', file = 'alerts.jsonl'] = process.argv.slice(2);
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => {
    if (body.length < 65536) body += d;
  });
  req.on('end', () => {
    try {
      appendFileSync(file, `${JSON.stringify({ receivedAt: Date.now(), alert: JSON.parse(body) as unknown })}\n`);
      res.writeHead(204).end();
    } catch {
      res.writeHead(400).end();
    }
  });
});
server.listen(Number(port), host, () => process.stdout.write(`alert receiver on ${host}:${port} -> ${file}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
