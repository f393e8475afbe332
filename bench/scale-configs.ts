// Large configs for the scale rows of the benchmarks: many regions behind one steered name,
// and a zone with many static records. Deterministic (a fixed seed), so runs compare.

/** xorshift32, so the generated configs are the same in every run. */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** What the steered name's policy is, beside `nearest` over every region. */
export interface SteeringVariant {
  /** The `policy:` value (YAML flow), e.g. `{ weighted: { sticky: true } }`. */
  policy?: string;
  /** Lines of a `fence:` list, indented for a service. */
  fence?: string[];
}

/** Fence rules for the bench: by AS (packaged data), a pin for the bench's ECS subnet, an exclusion. */
export const BENCH_FENCE = [
  '    fence:',
  '      - asn: [64500, 64501, 64502, 13335, 15169]',
  '        pin: [r0]',
  '      - networks: [198.18.4.0/24, 2001:db8:4::/48]',
  '        pin: [r1, r2, r3]',
  '      - networks: [203.0.0.0/8, 100.64.0.0/10]',
  '        exclude: [r5, r6]',
];

/** `n` regions spread over the globe; `www.example.test` steered over all of them (`nearest` unless told). */
export function manyRegionsConfig(n: number, geoDatabase?: string, variant: SteeringVariant = {}): string {
  const rand = seeded(n);
  const lines = [
    'dns: { listen: 127.0.0.1:5353, ecs: true, metrics: 127.0.0.1:0 }',
    ...(geoDatabase ? [`geo: { database: ${geoDatabase} }`] : []),
    'regions:',
  ];
  for (let i = 0; i < n; i++) {
    const lat = (Math.asin(2 * rand() - 1) * 180) / Math.PI; // uniform over the sphere
    const lon = rand() * 360 - 180;
    lines.push(
      `  r${i}: { vip: 10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}, location: { lat: ${lat.toFixed(3)}, lon: ${lon.toFixed(3)} } }`,
    );
  }
  lines.push(...zoneHead(), 'services:', '  www:', '    name: www.example.test', '    ttl: 30', '    pools:');
  for (let i = 0; i < n; i++) lines.push(`      - r${i}`);
  lines.push(`    policy: ${variant.policy ?? 'nearest'}`, ...(variant.fence ?? []), '');
  return lines.join('\n');
}

/**
 * Three regions and a zone of `n` static A records named h0 … h(n-1). Most queries over it are
 * memo misses, so the miss budget is off: the row measures building answers, not truncating them.
 */
export function bigZoneConfig(n: number, geoDatabase?: string): string {
  const lines = [
    'dns: { listen: 127.0.0.1:5353, ecs: true, metrics: 127.0.0.1:0, miss_budget: 0 }',
    ...(geoDatabase ? [`geo: { database: ${geoDatabase} }`] : []),
    'regions:',
    '  us-east: { vip: 198.51.100.10, location: { lat: 40.71, lon: -74.01 } }',
    '  eu-west: { vip: 198.51.100.20, location: { lat: 53.35, lon: -6.26 } }',
    ...zoneHead(),
  ];
  for (let i = 0; i < n; i++)
    lines.push(`      - { name: h${i}, type: A, value: 10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff} }`);
  lines.push('services:', '  www: { name: www.example.test, ttl: 30, pools: [us-east, eu-west], policy: nearest }', '');
  return lines.join('\n');
}

/** dnsperf query lines: `count` names drawn at random from the big zone (and some misses). */
export function bigZoneQueries(n: number, count: number): string {
  const rand = seeded(7);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    out.push(r < 0.9 ? `h${Math.floor(rand() * n)}.example.test A` : `nx${i}.example.test A`);
  }
  return `${out.join('\n')}\n`;
}

function zoneHead(): string[] {
  return [
    'zones:',
    '  example.test:',
    '    soa: { mname: ns1, rname: hostmaster, serial: 1, minimum: 60 }',
    '    ns: [ns1]',
    '    records:',
    '      - { name: ns1, type: A, value: 192.0.2.53 }',
    '      - { name: static, type: A, value: 192.0.2.80 }',
  ];
}
