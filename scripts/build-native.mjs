// npm's install step: builds the batched UDP addon (native/) with the node-gyp npm carries.
// Never fails the install: without a compiler, Node's headers or Linux, the DNS server uses
// Node's dgram path and says so at start (src/dns/batched-udp.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const native = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const gyp = process.env.npm_config_node_gyp;
if (process.platform !== 'linux') {
  console.log('batched UDP: not Linux; the DNS server will use dgram');
  process.exit(0);
}
// Debian's nodejs ships its headers in /usr/include/node: no download (none is reachable here).
const args = ['rebuild'];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: native, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: native, stdio: 'inherit' });
if (r.status !== 0) console.warn('batched UDP: the addon did not build (see above); the DNS server will use dgram');
