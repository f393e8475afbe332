// The lab's address plan, in one place: `gtm lab up`, the drills and `gtm lab render` read it
// here; the render writes it as shell variables for lab/docker/entry.sh; docker-compose.yml and
// the containerlab topology (static YAML) are checked against it by the container-lab test.
// Region n (1-based, in config order) gets 10.20.n.0/24: the router .1, the PoP .2, LB nodes .11/.12.

export const PLAN = {
  routerId: '10.20.0.1',
  routerAsn: 65000,
  popAsn: (n: number) => 65000 + n,
  popNet: (n: number) => `10.20.${n}.0/24`,
  /** The router's address on PoP n's link. */
  routerOn: (n: number) => `10.20.${n}.1`,
  /** PoP n's address (gobgpd, the BFD helper, the agent's BGP next hop). */
  pop: (n: number) => `10.20.${n}.2`,
  lbNode: (n: number, node: 1 | 2) => `10.20.${n}.1${node}`,
  /** The shared anycast VIP every PoP announces (anycast.frontend in the lab config). */
  anycast: '198.51.100.100',
  dnsNet: '10.20.100.0/24',
  routerOnDns: '10.20.100.1',
  dns: '10.20.100.2',
  etcd: '10.20.100.3',
} as const;

/** Users in three places; their subnets are located by the lab's geo database. */
export const CLIENT_PLAN = [
  { name: 'gb', subnet: '198.18.1.0/24', address: '198.18.1.2', where: 'London' },
  { name: 'us', subnet: '198.18.3.0/24', address: '198.18.3.2', where: 'New York' },
  { name: 'sg', subnet: '198.18.4.0/24', address: '198.18.4.2', where: 'Singapore' },
] as const;

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
  return `# Written by gtm lab render from lab/address-plan.ts\n${lines.join('\n')}\n`;
}
