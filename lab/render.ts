// Renders the files every lab process reads (gtm lab up and the container images alike).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { buildTestDatabases } from '../geodata/build-test-db.js';
import { loadConfigFile, type Config } from '../src/config/index.js';
import { generateKey, readKeys, writeKey } from '../src/dnssec/index.js';
import { renderBfdOnlyConfig, renderBirdConfig } from './bird.js';
import { ALERT_HOOK, EXAMPLE_CONFIG, DNS_IP, bfdHelper, labOf } from './model.js';
import { PLAN, addressesEnv } from './address-plan.js';
import { AGENT_METRICS_PORT } from './prometheus.js';

/**
 * How long a lab DNS node serves its last view of a silent store (`control.store_lost`; the
 * product's default is 300 s): short, so the store-lost-and-back drill shows the fallback.
 */
export const LAB_MAX_STALE_S = 3;

/** The lab's config: the given one plus PoPs, shared state and lab addresses. */
function labConfig(base: string, dir: string, cityDb: string, etcd?: string, tokenSha256?: string): string {
  const parsed = parseDocument(readFileSync(base, 'utf8'));
  if (parsed.errors.length) throw new Error(`not valid YAML: ${parsed.errors[0]?.message}`);
  const doc = parsed.toJS() as Record<string, any> | null;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new Error('must be a YAML mapping (zones, regions, services, ...)');
  // Two workers: a worker that dies is replaced while the other answers (one would be an outage).
  doc.dns = { ...(doc.dns ?? {}), listen: `${DNS_IP}:53`, metrics: `${DNS_IP}:9153`, workers: 2 };
  doc.geo = { database: cityDb };
  // The lab signs its zones (a key of its own, made at render): `kdig +dnssec` shows signed
  // answers, and the dashboard's DNSSEC panel has a signing horizon to show.
  for (const zone of Object.values((doc.zones ?? {}) as Record<string, Record<string, unknown>>))
    if (zone && typeof zone === 'object' && zone.dnssec === undefined) zone.dnssec = { keys: join(dir, 'dnssec') };
  doc.control = {
    // One machine: a file every namespace sees. Containers: etcd, as across machines.
    store: etcd ? { etcd: [etcd] } : { file: join(dir, 'state.json') },
    lease_ms: 1500,
    heartbeat_ms: 250,
    max_regions_out: 0.5,
    store_lost: { max_stale_s: LAB_MAX_STALE_S, then: 'configured' },
    api: {
      // The API listens on the DNS node's loopback: a management network the clients cannot
      // reach (reach it with ip netns exec, or docker compose exec dns).
      listen: '127.0.0.1:9190',
      // `gtm lab up` knows its token: only its hash goes in the file. An image built for plain
      // `docker compose up` gets the token at run time, so its file names the variable.
      tokens: [
        tokenSha256
          ? { name: 'lab', sha256: tokenSha256, scopes: ['admin'] }
          : { name: 'lab', env: 'GTM_LAB_TOKEN', scopes: ['admin'] },
      ],
      audit_log: join(dir, 'audit.jsonl'),
    },
    // Outside-in health: each agent and a probe in every client's place checks the other
    // regions' VIPs through the router (IPv4 only: the lab routes no IPv6 VIPs). Alerts go to
    // the lab's webhook, which the drills read.
    vantage: {
      quorum: 1,
      min_reports: 2,
      interval_ms: 250,
      rise: 1,
      fall: 2,
      lease_ms: 1500,
      vips: 'v4',
      check: { type: 'http', port: 80, path: '/healthz', timeout_ms: 200 },
    },
    alerts: [
      {
        name: 'lab',
        url: `http://${ALERT_HOOK.host}:${ALERT_HOOK.port}/alerts`,
        format: 'json',
        events: ['region.state', 'guardrail.held', 'override.forced', 'override.expiring'],
      },
    ],
  };
  const regions = Object.keys(doc.regions ?? {});
  // Capacity: every region sheds answers when its LBs pass 80% (the region-overload drill).
  for (const r of regions)
    doc.regions[r].capacity ??= { shed_above: 0.8, release_below: 0.5, max_shed: 0.6, rate_per_s: 0.2 };
  // Every PoP also announces one shared anycast VIP (ECMP at the router).
  doc.anycast = {
    frontend: { address: PLAN.anycast, min_announcing: 1, max_withdrawn_share: 0.5, window_s: 10 },
  };
  const lbVip = (n: number, address: string) => ({
    address,
    // The cluster's load, as its first node reports it (lb-node's /load, out of 100).
    load: { url: `http://${PLAN.lbNode(n, 1)}:8080/load`, capacity: 100, interval_ms: 250 },
    nodes: [
      { name: 'lb1', address: PLAN.lbNode(n, 1) },
      { name: 'lb2', address: PLAN.lbNode(n, 2) },
    ],
    checks: [{ type: 'http', port: 8080, path: '/healthz', timeout_ms: 300 }],
    interval_ms: 100,
    fast_interval_ms: 50,
    rise: 2,
    fall: 3,
  });
  doc.pops = Object.fromEntries(
    regions.map((region, i) => {
      const n = i + 1;
      return [
        region,
        {
          region,
          api: '127.0.0.1:9180',
          // Metrics alone on the PoP's link address, where the lab's Prometheus scrapes them.
          metrics: `${PLAN.pop(n)}:${AGENT_METRICS_PORT}`,
          maintenance_file: join(dir, `${region}.maintenance`),
          bgp: {
            asn: PLAN.popAsn(n),
            router_id: PLAN.pop(n),
            listen_addresses: [PLAN.pop(n)],
            neighbors: [{ address: PLAN.routerOn(n), asn: PLAN.routerAsn }],
            next_hop: PLAN.pop(n),
            med: 100,
            hold_down_ms: 1000,
            drain: { duration_ms: 3000, med: 1000 },
            // The BFD-only BIRD beside gobgpd: a cut link takes the PoP out of DNS in BFD time.
            bfd_socket: bfdHelper(dir, n).socket,
          },
          vips: [lbVip(n, 'vip'), lbVip(n, 'anycast:frontend')],
        },
      ];
    }),
  );
  return stringify(doc);
}

/** A combined signing key (CSK) for each signed zone whose key directory has none yet. */
function signingKeys(config: Config): void {
  const now = Date.now();
  for (const zone of config.zones) {
    const d = zone.dnssec;
    if (!d || (existsSync(d.keyDir) && readKeys(d.keyDir, zone.name).length)) continue;
    writeKey(d.keyDir, generateKey(zone.name, 'csk', d.algorithm, now));
  }
}

/**
 * Writes everything the lab's processes read into DIR: config.yaml (the base config plus PoPs,
 * shared state and lab addresses), the geo database that places the clients, and the BIRD
 * configs of the router and of each PoP's BFD helper. `gtm lab up` uses it, and so do the
 * container images (`gtm lab render`), so both labs run the very same files.
 */
/**
 * The second DNS node's config (namespace lab with etcd): the lab's, on its own address, and
 * with `store_lost.then: servfail`, as an operator runs a zone's second name server: cut off from
 * the store, it answers SERVFAIL for steered names so resolvers ask the node that still sees it.
 */
export function renderSecondDns(dir: string): string {
  const file = join(dir, 'config-dns2.yaml');
  const doc = parseDocument(readFileSync(join(dir, 'config.yaml'), 'utf8'));
  doc.setIn(['dns', 'listen'], `${PLAN.dns2}:53`);
  doc.setIn(['dns', 'metrics'], `${PLAN.dns2}:9153`);
  doc.setIn(['control', 'store_lost', 'then'], 'servfail');
  writeFileSync(file, doc.toString());
  loadConfigFile(file);
  return file;
}

export function renderLab(
  dir: string,
  baseConfig = EXAMPLE_CONFIG,
  opts: { etcd?: string; tokenSha256?: string } = {},
): Config {
  for (const d of ['logs', 'bird', 'pops']) mkdirSync(join(dir, d), { recursive: true });
  const { city } = buildTestDatabases(join(dir, 'geo'));
  writeFileSync(join(dir, 'config.yaml'), labConfig(baseConfig, dir, city, opts.etcd, opts.tokenSha256));
  // Validated now (no process needs the token to load it).
  const config = loadConfigFile(join(dir, 'config.yaml'));
  signingKeys(config);
  const pops = labOf(config, dir, '').pops;
  writeFileSync(
    join(dir, 'bird', 'rtr.conf'),
    renderBirdConfig({
      routerId: PLAN.routerId,
      asn: PLAN.routerAsn,
      logFile: join(dir, 'logs', 'bird-rtr.log'),
      kernel: true,
      // Each PoP may announce its region's VIP and the shared anycast one, nothing else.
      peers: pops.map((p) => ({
        name: `p${p.n}`,
        neighbor: PLAN.pop(p.n),
        asn: PLAN.popAsn(p.n),
        bfd: true,
        prefixes: [`${p.vip}/32`, `${PLAN.anycast}/32`],
      })),
    }),
  );
  for (const p of pops)
    writeFileSync(
      bfdHelper(dir, p.n).conf,
      renderBfdOnlyConfig({
        routerId: PLAN.pop(p.n),
        neighbor: PLAN.routerOn(p.n),
        logFile: join(dir, 'logs', `bfd-${p.name}.log`),
      }),
    );
  writeFileSync(join(dir, 'addresses.env'), addressesEnv(pops.length));
  return config;
}
