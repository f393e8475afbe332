// Several listen addresses (`dns.listen` as a list): v4 and v6, each answered on UDP and TCP by
// every worker; a second address without a port, or one listed twice, is a clear config error.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let dir: string;
let cfg: string;
let dns: RunningDns;
const ports = { v4: 0, v6: 0 };

beforeAll(async () => {
  dir = tempDir('gtm-listen-');
  cfg = testConfig(dir);
  ports.v4 = await freePort();
  ports.v6 = await freePort();
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8').replace(
      /^  listen: .*$/m,
      `  listen: ['127.0.0.1:5353', '127.0.0.2:${ports.v4}', '[::1]:${ports.v6}']`,
    ),
  );
  // --listen replaces the first address; the others come from the file.
  dns = await startDns(cfg, 2);
});
afterAll(async () => {
  await dns?.stop();
});

const ask = async (server: string, port: number, tcp: boolean) =>
  (
    await run('kdig', [`@${server}`, '-p', String(port), tcp ? '+tcp' : '+notcp', '+short', 'static.example.test', 'A'])
  ).stdout.trim();

describe('several listen addresses', () => {
  it('answers on each, over UDP and TCP', async () => {
    for (const tcp of [false, true]) {
      expect(await ask('127.0.0.1', dns.port, tcp)).toBe('192.0.2.80');
      expect(await ask('127.0.0.2', ports.v4, tcp)).toBe('192.0.2.80');
      expect(await ask('::1', ports.v6, tcp)).toBe('192.0.2.80');
    }
  });

  it('says what is wrong with a list it cannot listen on', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(cfg, 'utf8').replace(
        /^ {2}listen: .*$/m,
        "  listen: ['127.0.0.1:5300', '127.0.0.2:0', '127.0.0.1:5300']",
      ),
    );
    const r = await run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'check-config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dns.listen[1]: needs a port');
    expect(r.stderr).toContain('127.0.0.1:5300 is listed twice');
  });
});
