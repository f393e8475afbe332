// dnstap as DNS operators read it: `gtm dns` logs every query and response in dnstap form, and
// BIND's own reader (`dnstap-read`, bind9-dnsutils) reads the file: AUTH_QUERY and
// AUTH_RESPONSE with the client's address, port and transport, the messages themselves (ECS
// option included) and the steering decision in `extra`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

const dir = tempDir('gtm-dnstap-');
let dns: RunningDns | undefined;

beforeAll(async () => {
  const cfg = testConfig(dir);
  const tap = `  dnstap: { file: ${join(dir, 'queries.tap')}, identity: gtm-test }`;
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^dns:\n/m, `dns:\n${tap}\n`));
  dns = await startDns(cfg, 1);
});
afterAll(async () => {
  await dns?.stop();
});

/** The `extra` field (3) of every Dnstap data frame in a Frame Streams file. */
function extras(b: Buffer): string[] {
  const out: string[] = [];
  const varint = (at: number): [number, number] => {
    let v = 0;
    for (let shift = 1; ; shift *= 128) {
      const x = b[at++] as number;
      v += (x & 0x7f) * shift;
      if (x < 0x80) return [v, at];
    }
  };
  for (let at = 0; at < b.length;) {
    const len = b.readUInt32BE(at);
    at += 4;
    if (len === 0) {
      at += 4 + b.readUInt32BE(at); // a control frame
      continue;
    }
    for (let f = at; f < at + len;) {
      const [key, next] = varint(f);
      if ((key & 7) === 0) f = varint(next)[1];
      else {
        const [n, start] = varint(next);
        if (key >>> 3 === 3) out.push(b.toString('utf8', start, start + n));
        f = start + n;
      }
    }
    at += len;
  }
  return out;
}

describe('dnstap', () => {
  it('dnstap-read reads our log: queries and responses, addresses, transports, ECS and the decision', async () => {
    const port = String((dns as RunningDns).port);
    const k = (args: string[]) => run('kdig', ['@127.0.0.1', '-p', port, '-b', '127.0.0.1', ...args]);
    await k(['www.example.test', 'A', '+subnet=198.18.4.0/24']);
    await k(['static.example.test', 'A', '+tcp']);
    await k(['nothere.example.test', 'AAAA']);
    // A graceful stop writes the Frame Streams STOP frame and closes the file.
    await (dns as RunningDns).stop();
    dns = undefined;
    const files = readdirSync(dir).filter((f) => f.startsWith('queries.tap.w'));
    expect(files).toHaveLength(1);
    const file = join(dir, files[0] as string);
    const short = await run('dnstap-read', [file]);
    expect(short.stderr).toBe('');
    const lines = short.stdout.trim().split('\n');
    expect(lines).toHaveLength(6); // a query and a response for each of the three
    expect(lines.filter((l) => / AQ /.test(l))).toHaveLength(3);
    expect(lines.filter((l) => / AR /.test(l))).toHaveLength(3);
    expect(short.stdout).toMatch(
      new RegExp(`AQ 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port} TCP \\d+b static\\.example\\.test/IN/A`),
    );
    const full = (await run('dnstap-read', ['-y', file])).stdout;
    expect(full).toContain('identity: gtm-test');
    expect(full).toMatch(/version: gtm \d+\.\d+\.\d+/);
    expect(full).toMatch(/query_address: "127\.0\.0\.1"/);
    expect(full).toMatch(/socket_protocol: UDP/);
    // The ECS the resolver sent (in the query) and echoed with its scope, the steered answer for
    // Singapore, the NXDOMAIN.
    expect(full).toMatch(/CLIENT-SUBNET: 198\.18\.4\.0\/24\/0/);
    expect(full).toMatch(/CLIENT-SUBNET: 198\.18\.4\.0\/24\/24/);
    expect(full).toMatch(/www\.example\.test\.\s+\d+\s+IN\s+A\s+198\.51\.100\.30/);
    expect(full).toMatch(/status: NXDOMAIN/);
    // The steering decision rides in the Dnstap `extra` field (dnstap-read does not print it):
    // read from the frames, on the steered name's response only.
    expect(extras(readFileSync(file))).toEqual(['policy=nearest regions=ap-southeast']);
  }, 30_000);
});
