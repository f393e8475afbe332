// Where a client is, as the geo reader reports it (types only: policies use them without the reader).

export interface Location {
  country?: string;
  continent?: string;
  /** ISO 3166-2 code such as "US-CA". */
  subdivision?: string;
  city?: string;
  lat?: number;
  lon?: number;
  /** True when lat/lon came from the country table rather than the database. */
  coarse: boolean;
}

export interface GeoResult {
  location?: Location;
  /** Length of the database network that contains the address (for ECS scope). */
  prefixLen: number;
}

/** `geo.asn_database` value for the packaged IP-to-AS data (@ip-location-db/asn). */
export const EMBEDDED_ASN = 'embedded:asn';
