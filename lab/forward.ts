// Runs inside the lab's DNS node: accepts on listening sockets the parent opened on the host's
// loopback (inherited as fds 3, 4, ...) and relays each connection to an address in this
// namespace. That is how a browser on the host reaches the console and Prometheus while the
// lab's management network stays unrouted. Usage: forward.js HOST:PORT... (one per inherited fd)
import { connect, createServer } from 'node:net';

process.argv.slice(2).forEach((target, i) => {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  createServer((client) => {
    const upstream = connect(port, host);
    const end = () => (client.destroy(), upstream.destroy());
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  }).listen({ fd: 3 + i });
});
