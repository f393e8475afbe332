// The lab's address plan, in one place: `gtm lab up` (network namespaces), the compose lab and
// the containerlab topology are all rendered from it (lab/containers.ts), and so are the shell
// variables lab/docker/entry.sh reads. Every address is in a range set aside for documentation
// or benchmarking (RFC 5737, RFC 2544, RFC 3849), so a lab can never collide with a network the
// host is really on:
//   198.19.n.0/24    region n's link (1-based, config order): router .1, PoP .2, LB nodes .11/.12
//   198.19.100.0/24  DNS, control and etcd: router .1, DNS .2, etcd .3
//   198.19.101.0/24  the second DNS node (namespace lab with etcd): router .1, DNS .2
//   198.18.x.0/24    the users (clients), placed by the lab's geo database (geodata/test-networks.ts)
//   198.51.100.0/24  the regions' VIPs (examples/three-regions.yaml) and the shared anycast VIP .100
// Container networks keep .254 for the engine's own gateway, off every address the lab uses.

/** The only ranges a lab may use (a test checks every rendered file against them). */
export const DOCUMENTATION_RANGES = [
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '198.18.0.0/15',
  '2001:db8::/32',
] as const;

export const PLAN = {
  routerId: '198.19.0.1',
  routerAsn: 65000,
  popAsn: (n: number) => 65000 + n,
  popNet: (n: number) => `198.19.${n}.0/24`,
  /** The router's address on PoP n's link. */
  routerOn: (n: number) => `198.19.${n}.1`,
  /** PoP n's address (gobgpd, the BFD helper, the agent's BGP next hop). */
  pop: (n: number) => `198.19.${n}.2`,
  lbNode: (n: number, node: 1 | 2) => `198.19.${n}.1${node}`,
  /** The shared anycast VIP every PoP announces (anycast.frontend in the lab config). */
  anycast: '198.51.100.100',
  dnsNet: '198.19.100.0/24',
  routerOnDns: '198.19.100.1',
  dns: '198.19.100.2',
  etcd: '198.19.100.3',
  /** A second DNS node on a link of its own (the etcd-partition drill cuts it from etcd). */
  dns2Net: '198.19.101.0/24',
  routerOnDns2: '198.19.101.1',
  dns2: '198.19.101.2',
  /** A container network's gateway (the engine's bridge): never an address the lab uses. */
  gateway: (net: string) => net.replace(/\.0\/24$/, '.254'),
} as const;

/** Users in three places; their subnets are located by the lab's geo database. */
export const CLIENT_PLAN = [
  { name: 'gb', subnet: '198.18.1.0/24', address: '198.18.1.2', where: 'London' },
  { name: 'us', subnet: '198.18.3.0/24', address: '198.18.3.2', where: 'New York' },
  { name: 'sg', subnet: '198.18.4.0/24', address: '198.18.4.2', where: 'Singapore' },
] as const;

/** A client's gateway: the router's end of its link. */
export const clientGateway = (c: { address: string }) => c.address.replace(/\.2$/, '.1');

/** One link of the lab: a /24 between the router (`routerAddress`) and one host (`hostAddress`). */
export interface LabNetwork {
  /** Network name in the container files (pop1, dnsnet, c-gb, ...). */
  name: string;
  subnet: string;
  routerAddress: string;
  /** The lab host on the other end (a PoP, the DNS node, a client). */
  host: string;
  hostAddress: string;
}

/** Every link of a lab with `regions` (in config order), as the container files render them. */
export function labNetworks(regions: readonly string[]): LabNetwork[] {
  return [
    ...regions.map((region, i) => ({
      name: `pop${i + 1}`,
      subnet: PLAN.popNet(i + 1),
      routerAddress: PLAN.routerOn(i + 1),
      host: region,
      hostAddress: PLAN.pop(i + 1),
    })),
    { name: 'dnsnet', subnet: PLAN.dnsNet, routerAddress: PLAN.routerOnDns, host: 'dns', hostAddress: PLAN.dns },
    ...CLIENT_PLAN.map((c) => ({
      name: `c-${c.name}`,
      subnet: c.subnet,
      routerAddress: clientGateway(c),
      host: `c-${c.name}`,
      hostAddress: c.address,
    })),
  ];
}

/** The plan as shell variables, for the container entry script (`. addresses.env`). */
export function addressesEnv(pops: number): string {
  const lines = [`ROUTER_ON_DNS=${PLAN.routerOnDns}`, `DNS_IP=${PLAN.dns}`, `ETCD_IP=${PLAN.etcd}`];
  for (let n = 1; n <= pops; n++) {
    lines.push(
      `POP${n}_ROUTER=${PLAN.routerOn(n)}`,
      `POP${n}_ADDR=${PLAN.pop(n)}`,
      `POP${n}_LB1=${PLAN.lbNode(n, 1)}`,
      `POP${n}_LB2=${PLAN.lbNode(n, 2)}`,
    );
  }
  lines.push(`ANYCAST_VIP=${PLAN.anycast}`);
  return `# Written by gtm lab render from lab/address-plan.ts\n${lines.join('\n')}\n`;
}
