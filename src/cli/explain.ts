// `gtm explain`: why a client gets an answer. Offline from the config alone, or `--live` from the
// control plane's live state (agents, vantage quorum, guard rail, overrides) over its API.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/index.js';
import { explain } from '../dns/index.js';
import { GeoResolver } from '../geo/index.js';
import { InMemoryRegionState } from '../state/index.js';
import {
  type AgentReport,
  type RegionOverride,
  type RegionWeightOverride,
  type VantageView,
} from '../contract/index.js';

const USAGE =
  'usage: gtm explain --config FILE --client IP [--ecs SUBNET] NAME [TYPE]\n' +
  '       gtm explain --live [--config FILE | --api URL] [--token-file FILE] --client IP [--ecs SUBNET] NAME [TYPE]\n' +
  '       (--live reads the token from --token-file or GTM_TOKEN when the API wants one for reads)\n';

export async function explainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      client: { type: 'string' },
      ecs: { type: 'string' },
      live: { type: 'boolean' },
      api: { type: 'string' },
      'token-file': { type: 'string' },
    },
  });
  const [name, type = 'A'] = positionals;
  if (!values.client || !name || positionals.length > 2 || (!values.config && !(values.live && values.api))) {
    process.stderr.write(USAGE);
    return 2;
  }
  const q = { name, type, client: values.client, ecs: values.ecs };
  if (values.live) {
    const api = values.api ?? apiOf(values.config as string);
    const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : process.env.GTM_TOKEN;
    const { ok, text } = await liveExplain(api, q, token);
    (ok ? process.stdout : process.stderr).write(text);
    return ok ? 0 : 1;
  }
  const config = loadConfigFile(values.config as string);
  const geo = GeoResolver.open(config.geo.database, config.geo.asnDatabase);
  const state = InMemoryRegionState.fromConfig(config);
  process.stdout.write(`geo database: ${geo.description}\n`);
  for (const line of explain(config, geo, state, q)) process.stdout.write(`${line}\n`);
  return 0;
}

function apiOf(configPath: string): string {
  const config = loadConfigFile(configPath);
  if (!config.control) throw new Error(`${configPath}: no control section, so no control API to ask (use --api URL)`);
  const { host, port } = config.control.api.listen;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What GET /api/v1/explain returns for each candidate region. */
export interface LiveRegion {
  name: string;
  status: string;
  since: string;
  reason: string;
  source: string;
  held: boolean;
  override: RegionOverride | null;
  weightOverride: RegionWeightOverride | null;
  vantage: VantageView | null;
  agents: (Pick<AgentReport, 'pop' | 'serving' | 'sessionUp' | 'vips'> & {
    reportAgeMs: number;
    leaseLeftMs: number | null;
  })[];
}

/** Asks the control API and renders its answer for a person. */
export async function liveExplain(
  api: string,
  q: { name: string; type: string; client: string; ecs?: string },
  token?: string,
): Promise<{ ok: boolean; text: string }> {
  const url = new URL('/api/v1/explain', api);
  for (const [k, v] of Object.entries(q)) if (v !== undefined) url.searchParams.set(k, v);
  let r: Response;
  try {
    r = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return {
      ok: false,
      text: `gtm explain --live: cannot reach the control API at ${api}: ${(err as Error).message}\n`,
    };
  }
  const body = (await r.json().catch(() => ({}))) as { lines?: string[]; regions?: LiveRegion[]; error?: string };
  if (!r.ok) return { ok: false, text: `gtm explain --live: HTTP ${r.status}: ${body.error ?? r.statusText}\n` };
  return {
    ok: true,
    text: [...(body.lines ?? []), '', 'live state:', ...(body.regions ?? []).flatMap(describe)].join('\n') + '\n',
  };
}

function describe(r: LiveRegion): string[] {
  const out = [
    `  ${r.name}: ${r.status} since ${r.since} (decided by ${r.source}${r.held ? ', held in by the guard rail' : ''})`,
  ];
  out.push(`    why: ${r.reason}`);
  for (const a of r.agents)
    out.push(
      `    agent ${a.pop}: ${a.serving ? 'serving' : 'not serving'}, BGP ${a.sessionUp ? 'up' : 'down'}, ` +
        `${a.vips.map((v) => `${v.prefix} ${v.state}`).join(', ')}; report ${a.reportAgeMs} ms old, ` +
        `lease ${a.leaseLeftMs === null ? 'none' : `${a.leaseLeftMs} ms left`}`,
    );
  if (r.agents.length === 0) out.push('    agents: none reporting');
  if (r.vantage) {
    const v = r.vantage;
    out.push(
      `    vantage: ${v.verdict} (${v.reachable.length} reach it, quorum ${v.quorum}, ${v.minReports} opinions needed)` +
        `${v.reachable.length ? `; reach: ${v.reachable.join(', ')}` : ''}` +
        `${v.unreachable.length ? `; cannot reach: ${v.unreachable.join(', ')}` : ''}` +
        `${v.blind.length ? `; blind (ignored): ${v.blind.join(', ')}` : ''}`,
    );
  }
  const until = (at?: number) => (at ? `expires ${new Date(at).toISOString()}` : 'no expiry');
  if (r.weightOverride) {
    const w = r.weightOverride;
    out.push(`    weight override: ${w.weight} by ${w.who}: ${w.reason}; ${until(w.expiresAt)}`);
  }
  if (r.override) {
    const o = r.override;
    out.push(`    override: ${o.status} by ${o.who}${o.force ? ' (forced)' : ''}: ${o.reason}; ` + until(o.expiresAt));
  }
  return out;
}
