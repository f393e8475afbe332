// The console's traffic figures: answer counters summed from a DNS exposition by region and rcode.
import { describe, expect, it } from 'vitest';
import { trafficOf } from '../../src/control/routes/traffic.js';

describe('traffic from the DNS metrics', () => {
  it('sums NOERROR answers per region and every response per rcode, across label sets', () => {
    const exposition = [
      '# HELP gtm_dns_queries_total DNS queries answered',
      '# TYPE gtm_dns_queries_total counter',
      'gtm_dns_queries_total{qtype="A",rcode="NOERROR",policy="nearest",region="eu-west"} 40',
      'gtm_dns_queries_total{qtype="AAAA",rcode="NOERROR",policy="nearest",region="eu-west"} 2',
      'gtm_dns_queries_total{qtype="A",rcode="NOERROR",policy="nearest",region="us-east"} 7',
      'gtm_dns_queries_total{qtype="A",rcode="NOERROR",policy="",region=""} 5',
      'gtm_dns_queries_total{qtype="A",rcode="SERVFAIL",policy="nearest",region="us-east"} 3',
      'gtm_dns_queries_total{qtype="ANY",rcode="REFUSED",policy="",region=""} 1',
      'gtm_dns_queries_total_other{region="x"} 99',
      'gtm_dns_truncated_total 4',
    ].join('\n');
    expect(trafficOf(exposition)).toEqual({
      regions: { 'eu-west': 42, 'us-east': 7 },
      rcodes: { NOERROR: 54, SERVFAIL: 3, REFUSED: 1 },
    });
  });

  it('reads nothing from an empty or foreign exposition', () => {
    expect(trafficOf('')).toEqual({ regions: {}, rcodes: {} });
    expect(trafficOf('up 1\nsomething{region="eu-west"} NaN')).toEqual({ regions: {}, rcodes: {} });
  });
});
