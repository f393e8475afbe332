// Whether something listens yet: a TCP port on loopback (etcd), or a unix socket (FRR's zebra).
import net from 'node:net';

/** Whether `to` (a loopback TCP port, or a unix socket path) accepts a connection now; it is closed again at once. */
export function accepts(to: number | string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
