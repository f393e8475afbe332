// control: the shared store, leases, guard rail, operators' API and schedules.
import { createRequire } from 'node:module';
import {
  ALERT_EVENTS,
  type AlertDestination,
  type AlertEvent,
  type ControlSettings,
  type FlapDamping,
  type StoreLostRule,
  type EtcdStoreSettings,
  type RegionStatus,
  type Schedule,
  type Region,
  type VantageSettings,
} from './types.js';
import { parseCheck } from './pops.js';
import { parseSignals, unknownAs } from './health.js';
import { DEFAULT_MAX_REGIONS_OUT, REGION_STATUSES } from '../contract/index.js';
import { SCOPES, type ApiToken, type Scope } from '../auth/index.js';
import { Problems, bool, hostPort, int, join, list, num, obj, str } from '../validate/index.js';
import { isRegionStatus } from './names.js';

/** node-cron's own check, loaded only for a config that has a cron expression (gtm dns usually has none). */
const cronValid = (s: string): boolean =>
  (createRequire(import.meta.url)('node-cron') as { validate(s: string): boolean }).validate(s);

export function cronExpr(p: Problems, path: string, v: unknown): string | undefined {
  const s = str(p, path, v);
  if (s !== undefined && !cronValid(s)) {
    p.add(path, 'not a cron expression (e.g. "0 7 * * 1-5")');
    return undefined;
  }
  return s;
}

function parseSchedules(p: Problems, v: unknown, regions: Map<string, Region>): Schedule[] {
  return (list(p, 'control.schedules', v, { optional: true }) ?? []).flatMap((sv, i) => {
    const path = join('control.schedules', i);
    const s = obj(p, path, sv, [
      'name',
      'cron',
      'timezone',
      'region',
      'status',
      'weight',
      'for_s',
      'force',
      'clear',
      'reason',
    ]);
    if (!s) return [];
    const name = str(p, join(path, 'name'), s.name) ?? `schedule${i}`;
    const expr = cronExpr(p, join(path, 'cron'), s.cron);
    const region = typeof s.region === 'string' && regions.has(s.region) ? s.region : undefined;
    if (!region) p.add(join(path, 'region'), `unknown region ${JSON.stringify(s.region)}`);
    const reason = str(p, join(path, 'reason'), s.reason) ?? '';
    const clear = bool(p, join(path, 'clear'), s.clear, false);
    let status: RegionStatus | undefined;
    if (s.status !== undefined) {
      if (isRegionStatus(s.status)) status = s.status;
      else p.add(join(path, 'status'), `must be ${REGION_STATUSES.join(', ')}`);
    }
    const weight = s.weight === undefined ? undefined : num(p, join(path, 'weight'), s.weight, 0, 1_000_000);
    if (!clear && status === undefined && weight === undefined) p.add(path, 'needs status, weight, or clear: true');
    if (clear && (status !== undefined || weight !== undefined))
      p.add(path, 'clear: true cannot also set status or weight');
    if (s.timezone !== undefined && typeof s.timezone === 'string') {
      try {
        new Intl.DateTimeFormat('en', { timeZone: s.timezone });
      } catch {
        p.add(join(path, 'timezone'), 'not an IANA time zone (e.g. Europe/Dublin)');
      }
    }
    if (!expr || !region) return [];
    return [
      {
        name,
        cron: expr,
        timezone: str(p, join(path, 'timezone'), s.timezone, { optional: true }),
        region,
        reason,
        action: clear
          ? { kind: 'clear' as const }
          : {
              kind: 'set' as const,
              status,
              weight,
              forS: s.for_s === undefined ? undefined : int(p, join(path, 'for_s'), s.for_s, 1, 31_536_000),
              force: bool(p, join(path, 'force'), s.force, false),
            },
      },
    ];
  });
}

/** `control.alerts`: `[{ name, url, format: json|slack|pagerduty, events: [...], secret_env }]`. */
function parseAlerts(p: Problems, v: unknown): AlertDestination[] {
  return (list(p, 'control.alerts', v, { optional: true }) ?? []).flatMap((dv, i): AlertDestination[] => {
    const dp = join('control.alerts', i);
    const d = obj(p, dp, dv, ['name', 'url', 'format', 'events', 'secret_env']) ?? {};
    const url = str(p, join(dp, 'url'), d.url, { pattern: /^https?:\/\/\S+$/, what: 'an http(s) URL' });
    const format = d.format ?? 'json';
    if (!['json', 'slack', 'pagerduty'].includes(format as string))
      p.add(join(dp, 'format'), 'must be one of json, slack, pagerduty');
    const events = (
      list(p, join(dp, 'events'), d.events, { optional: true, nonEmpty: true }) ?? [...ALERT_EVENTS]
    ).filter((e, j): e is AlertEvent => {
      const ok = (ALERT_EVENTS as readonly unknown[]).includes(e);
      if (!ok) p.add(join(join(dp, 'events'), j), `must be one of ${ALERT_EVENTS.join(', ')}`);
      return ok;
    });
    const secretEnv =
      d.secret_env === undefined
        ? undefined
        : str(p, join(dp, 'secret_env'), d.secret_env, {
            pattern: /^[A-Z_][A-Z0-9_]*$/,
            what: 'an environment variable name',
          });
    if (format === 'pagerduty' && !secretEnv)
      p.add(dp, 'pagerduty needs secret_env (the variable holding the routing key)');
    const name = d.name === undefined ? `alert-${i}` : str(p, join(dp, 'name'), d.name);
    return url && name ? [{ name, url, format: format as AlertDestination['format'], events, secretEnv }] : [];
  });
}

/** `control.vantage`: outside-in probes of every region's VIPs, and the quorum that counts. */
function parseVantage(p: Problems, v: unknown, leaseMs: number): VantageSettings | undefined {
  if (v === undefined) return undefined;
  const path = 'control.vantage';
  const c =
    obj(p, path, v, ['quorum', 'min_reports', 'interval_ms', 'rise', 'fall', 'lease_ms', 'check', 'vips']) ?? {};
  const quorum = int(p, join(path, 'quorum'), c.quorum, 1, 1000, 1) ?? 1;
  const minReports = int(p, join(path, 'min_reports'), c.min_reports, 1, 1000, Math.max(2, quorum)) ?? 2;
  if (minReports < quorum) p.add(join(path, 'min_reports'), `must be at least quorum (${quorum})`);
  const intervalMs = int(p, join(path, 'interval_ms'), c.interval_ms, 100, 600_000, 1000) ?? 1000;
  const lease =
    int(p, join(path, 'lease_ms'), c.lease_ms, 100, 3_600_000, Math.max(leaseMs, 3 * intervalMs)) ?? leaseMs;
  if (lease < 2 * intervalMs)
    p.add(
      join(path, 'lease_ms'),
      `must be at least twice interval_ms (${intervalMs}) so one slow round does not expire it`,
    );
  const check =
    c.check === undefined
      ? {
          type: 'http' as const,
          port: 80,
          path: '/',
          method: 'GET',
          expectStatus: 200,
          timeoutMs: Math.min(1000, intervalMs),
        }
      : parseCheck(p, join(path, 'check'), c.check);
  if (!check) return undefined;
  const vips = c.vips ?? 'all';
  if (vips !== 'all' && vips !== 'v4' && vips !== 'v6') p.add(join(path, 'vips'), 'must be all, v4 or v6');
  return {
    vips: vips as VantageSettings['vips'],
    quorum,
    minReports,
    intervalMs,
    rise: int(p, join(path, 'rise'), c.rise, 1, 100, 2) ?? 2,
    fall: int(p, join(path, 'fall'), c.fall, 1, 100, 2) ?? 2,
    leaseMs: lease,
    check,
  };
}

/** `control.store`: a state file (one machine) or etcd endpoints (several). */
function parseStore(p: Problems, v: unknown): ControlSettings['store'] {
  const s = obj(p, 'control.store', v, ['file', 'etcd', 'prefix', 'tls', 'auth']) ?? {};
  let store: ControlSettings['store'] = { kind: 'file', path: '/var/lib/gtm/state.json' };
  if (s.file !== undefined && s.etcd !== undefined) p.add('control.store', 'choose one of file or etcd');
  if (s.etcd !== undefined) {
    const endpoints = (list(p, 'control.store.etcd', s.etcd, { nonEmpty: true }) ?? []).map(
      (e, i) =>
        str(p, join('control.store.etcd', i), e, {
          pattern: /^https?:\/\/[^/]+$/,
          what: 'an endpoint URL like http://127.0.0.1:2379',
        }) ?? '',
    );
    store = {
      kind: 'etcd',
      endpoints,
      prefix: str(p, 'control.store.prefix', s.prefix ?? '/gtm/') ?? '/gtm/',
      ...parseEtcdAccess(p, s.tls, s.auth, endpoints),
    };
  } else if (s.file !== undefined) {
    store = { kind: 'file', path: str(p, 'control.store.file', s.file) ?? '' };
  } else p.add('control.store', 'needs file: PATH or etcd: [URL, ...]');
  if (store.kind === 'file' && (s.tls !== undefined || s.auth !== undefined))
    p.add('control.store', 'tls and auth are for etcd');
  return store;
}

/** `control.store.tls` and `.auth` for etcd: files and environment variable names, never secrets. */
function parseEtcdAccess(
  p: Problems,
  tv: unknown,
  av: unknown,
  endpoints: string[],
): Pick<EtcdStoreSettings, 'tls' | 'auth'> {
  const out: Pick<EtcdStoreSettings, 'tls' | 'auth'> = {};
  if (tv !== undefined) {
    const t = obj(p, 'control.store.tls', tv, ['ca', 'cert', 'key']) ?? {};
    const file = (k: string) =>
      t[k] === undefined ? undefined : str(p, `control.store.tls.${k}`, t[k], { what: 'a PEM file path' });
    const [ca, cert, key] = [file('ca'), file('cert'), file('key')];
    if (ca === undefined) p.add('control.store.tls.ca', "needs the CA file that signed etcd's certificate");
    if ((cert === undefined) !== (key === undefined)) p.add('control.store.tls', 'cert and key go together');
    if (endpoints.some((e) => e.startsWith('http://')))
      p.add('control.store.etcd', 'with tls every endpoint is https://');
    out.tls = { ca: ca ?? '', ...(cert && key ? { cert, key } : {}) };
  }
  if (av !== undefined) {
    const a = obj(p, 'control.store.auth', av, ['user', 'user_env', 'password_env']) ?? {};
    const envName = { pattern: /^[A-Z_][A-Z0-9_]*$/, what: 'an environment variable name' };
    const user = a.user === undefined ? undefined : str(p, 'control.store.auth.user', a.user);
    const userEnv = a.user_env === undefined ? undefined : str(p, 'control.store.auth.user_env', a.user_env, envName);
    if ((user === undefined) === (userEnv === undefined))
      p.add('control.store.auth', 'needs user (a name) or user_env (the variable holding it), one of them');
    const passwordEnv = str(p, 'control.store.auth.password_env', a.password_env, envName);
    out.auth = { ...(user ? { user } : {}), ...(userEnv ? { userEnv } : {}), passwordEnv: passwordEnv ?? '' };
  }
  return out;
}

/** `control.api.tokens`: each named, with scopes and optionally regions. */
function parseTokens(p: Problems, v: unknown, regions: Map<string, Region>): ApiToken[] {
  // A token is named by the environment variable that holds it or by its SHA-256: the secret
  // itself is never in the file, and only the process that checks a token needs it.
  return (list(p, 'control.api.tokens', v, { optional: true }) ?? []).flatMap((tv, i): ApiToken[] => {
    const tp = join('control.api.tokens', i);
    const t = obj(p, tp, tv, ['name', 'env', 'sha256', 'scopes', 'regions']) ?? {};
    const name = str(p, join(tp, 'name'), t.name, {
      pattern: /^[A-Za-z0-9_.@-]{1,64}$/,
      what: 'a name (letters, digits, _.@-)',
    });
    if ((t.env === undefined) === (t.sha256 === undefined))
      p.add(tp, 'needs exactly one of env (a variable holding the token) or sha256');
    const env =
      t.env === undefined
        ? undefined
        : str(p, join(tp, 'env'), t.env, { pattern: /^[A-Z_][A-Z0-9_]*$/, what: 'an environment variable name' });
    const sha256 =
      t.sha256 === undefined
        ? undefined
        : str(p, join(tp, 'sha256'), t.sha256, {
            pattern: /^[0-9a-f]{64}$/,
            what: 'a SHA-256 in hex (gtm token hash)',
          });
    // No scopes given: every scope, as before scopes existed.
    const scopes = (list(p, join(tp, 'scopes'), t.scopes, { optional: true, nonEmpty: true }) ?? ['admin']).filter(
      (s, j): s is Scope => {
        const ok = (SCOPES as readonly unknown[]).includes(s);
        if (!ok) p.add(join(join(tp, 'scopes'), j), `must be one of ${SCOPES.join(', ')}`);
        return ok;
      },
    );
    const regionList = list(p, join(tp, 'regions'), t.regions, { optional: true, nonEmpty: true });
    regionList?.forEach((r, j) => {
      if (typeof r !== 'string' || !regions.has(r)) p.add(join(join(tp, 'regions'), j), 'not a configured region');
    });
    return name ? [{ name, scopes, env, sha256, regions: regionList as string[] | undefined }] : [];
  });
}

/** `control.flap_damping`: `true` for the defaults, or the knobs (RFC 2439's, in seconds). */
function parseDamping(p: Problems, v: unknown): FlapDamping | undefined {
  if (v === false) return undefined;
  const path = 'control.flap_damping';
  const d =
    v === true
      ? {}
      : obj(p, path, v, ['penalty', 'suppress_above', 'reuse_below', 'half_life_s', 'max_suppress_s', 'hold']);
  if (!d) return undefined;
  const rule: FlapDamping = {
    penalty: num(p, `${path}.penalty`, d.penalty, 1, 1e6, 1000) ?? 1000,
    suppressAbove: num(p, `${path}.suppress_above`, d.suppress_above, 1, 1e7, 2000) ?? 2000,
    reuseBelow: num(p, `${path}.reuse_below`, d.reuse_below, 1, 1e7, 750) ?? 750,
    halfLifeS: num(p, `${path}.half_life_s`, d.half_life_s, 1, 86_400, 15) ?? 15,
    maxSuppressS: num(p, `${path}.max_suppress_s`, d.max_suppress_s, 1, 86_400, 120) ?? 120,
    hold: d.hold === undefined || d.hold === 'out' ? 'out' : 'in',
  };
  if (d.hold !== undefined && d.hold !== 'out' && d.hold !== 'in') p.add(`${path}.hold`, 'must be out or in');
  if (rule.reuseBelow >= rule.suppressAbove) p.add(`${path}.reuse_below`, 'must be below suppress_above');
  return rule;
}

/** `control.store_lost`: how long a DNS node serves its last view of a silent store, then what. */
function parseStoreLost(p: Problems, v: unknown): StoreLostRule {
  const path = 'control.store_lost';
  const d = (v === undefined ? {} : obj(p, path, v, ['max_stale_s', 'then'])) ?? {};
  const then = d.then ?? 'configured';
  if (then !== 'configured' && then !== 'servfail' && then !== 'keep')
    p.add(`${path}.then`, 'must be configured, servfail or keep');
  return {
    maxStaleS: num(p, `${path}.max_stale_s`, d.max_stale_s, 1, 86_400, 300) ?? 300,
    then: then === 'servfail' || then === 'keep' ? then : 'configured',
  };
}

export function parseControl(p: Problems, v: unknown, regions: Map<string, Region>): ControlSettings | undefined {
  if (v === undefined || v === null) return undefined;
  const c =
    obj(p, 'control', v, [
      'store',
      'lease_ms',
      'heartbeat_ms',
      'max_regions_out',
      'api',
      'schedules',
      'alerts',
      'vantage',
      'expiry_warning_s',
      'flap_damping',
      'store_lost',
      'signals',
      'unknown',
    ]) ?? {};
  const store = parseStore(p, c.store);
  const heartbeatMs = int(p, 'control.heartbeat_ms', c.heartbeat_ms, 50, 60_000, 500) ?? 500;
  const leaseMs = int(p, 'control.lease_ms', c.lease_ms, 100, 600_000, 3000) ?? 3000;
  if (leaseMs < 2 * heartbeatMs)
    p.add(
      'control.lease_ms',
      `must be at least twice heartbeat_ms (${heartbeatMs}) so one lost heartbeat does not expire it`,
    );
  const a =
    (c.api === undefined
      ? {}
      : obj(p, 'control.api', c.api, ['listen', 'tokens', 'audit_log', 'read_requires_token'])) ?? {};
  const tokens = parseTokens(p, a.tokens, regions);
  const defaultAudit =
    store.kind === 'file' ? `${store.path.replace(/\.json$/, '')}.audit.jsonl` : '/var/lib/gtm/audit.jsonl';
  return {
    store,
    leaseMs,
    heartbeatMs,
    maxRegionsOut:
      num(p, 'control.max_regions_out', c.max_regions_out, 0, 1, DEFAULT_MAX_REGIONS_OUT) ?? DEFAULT_MAX_REGIONS_OUT,
    schedules: parseSchedules(p, c.schedules, regions),
    alerts: parseAlerts(p, c.alerts),
    vantage: parseVantage(p, c.vantage, leaseMs),
    ...(c.flap_damping === undefined ? {} : { flapDamping: parseDamping(p, c.flap_damping) }),
    storeLost: parseStoreLost(p, c.store_lost),
    signals: parseSignals(p, c.signals),
    unknown: unknownAs(p, 'control.unknown', c.unknown),
    expiryWarningMs: (int(p, 'control.expiry_warning_s', c.expiry_warning_s, 0, 604_800, 600) ?? 600) * 1000,
    alertDeadLetter: defaultAudit.replace(/(\.audit)?\.jsonl$/, '.alerts-dead.jsonl'),
    api: {
      listen: (a.listen === undefined
        ? { host: '127.0.0.1', port: 9190 }
        : hostPort(p, 'control.api.listen', a.listen)) ?? { host: '127.0.0.1', port: 9190 },
      tokens,
      readRequiresToken: bool(p, 'control.api.read_requires_token', a.read_requires_token, false),
      auditLog: str(p, 'control.api.audit_log', a.audit_log ?? defaultAudit) ?? defaultAudit,
    },
  };
}
