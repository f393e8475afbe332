// `gtm ready dns|control|agent`: exits 0 once that role answers where the config says it
// listens, 1 if it does not within the timeout. The systemd units run it as ExecStartPost, so a
// unit is "active" only once its process serves (and a restart is ordered after that).
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { loadConfigFile, type Config } from '../config/index.js';
import { buildQuery, TYPE } from '../wire/index.js';
import { reachableAddress, urlHost } from '../net/index.js';

const USAGE = 'usage: gtm ready dns|control|agent --config FILE [--pop NAME] [--timeout SECONDS]\n';

/** One SOA question for the first zone over UDP: true once anything answers it. */
function dnsAnswers(config: Config, ms: number): Promise<boolean> {
  const { host, port } = config.dns.listen;
  const to = reachableAddress(host);
  const zone = config.zones[0]?.name ?? '.';
  return new Promise((resolve) => {
    const s = createSocket(to.includes(':') ? 'udp6' : 'udp4');
    const done = (ok: boolean) => (clearTimeout(t), s.close(), resolve(ok));
    const t = setTimeout(() => done(false), ms);
    s.on('message', () => done(true));
    s.on('error', () => done(false));
    s.send(buildQuery(zone, TYPE.SOA, { id: 4242 }), port, to);
  });
}

/** Any HTTP answer at `url` (a 503 from an agent whose PoP is down is still an agent that runs). */
async function httpAnswers(url: string, ms: number): Promise<boolean> {
  try {
    await (await fetch(url, { signal: AbortSignal.timeout(ms) })).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function readyCommand(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { config: { type: 'string' }, pop: { type: 'string' }, timeout: { type: 'string' } },
  });
  const timeoutS = Number(values.timeout ?? 60);
  if (!values.config || !['dns', 'control', 'agent'].includes(role ?? '') || !(timeoutS > 0)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfigFile(values.config);
  let probe: () => Promise<boolean>;
  if (role === 'dns') probe = () => dnsAnswers(config, 500);
  else if (role === 'control') {
    const api = config.control?.api.listen;
    if (!api) throw new Error(`${values.config}: no control section`);
    probe = () => httpAnswers(`http://${urlHost(api.host)}:${api.port}/openapi.json`, 1000);
  } else {
    const pop =
      config.pops.find((p) => p.name === values.pop) ?? (config.pops.length === 1 ? config.pops[0] : undefined);
    if (!pop) throw new Error(`--pop: one of ${config.pops.map((p) => p.name).join(', ')}`);
    probe = () => httpAnswers(`http://${urlHost(pop.api.host)}:${pop.api.port}/status`, 1000);
  }
  const end = Date.now() + timeoutS * 1000;
  while (Date.now() < end) {
    if (await probe()) return 0;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`gtm ready ${role}: not answering after ${timeoutS} s\n`);
  return 1;
}
