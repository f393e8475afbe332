// Networks with known locations for tests and the lab. They come from ranges reserved
// for benchmarking and documentation (198.18.0.0/15, 2001:db8::/32), so nothing here
// ever points at a real user.
export interface TestNetwork {
  cidr: string;
  country: string;
  continent: string;
  subdivision?: string;
  lat: number;
  lon: number;
  city: string;
}

export const TEST_NETWORKS: TestNetwork[] = [
  { cidr: '198.18.1.0/24', country: 'GB', continent: 'EU', subdivision: 'ENG', lat: 51.51, lon: -0.13, city: 'London' },
  {
    cidr: '198.18.2.0/24',
    country: 'US',
    continent: 'NA',
    subdivision: 'CA',
    lat: 37.77,
    lon: -122.42,
    city: 'San Francisco',
  },
  {
    cidr: '198.18.3.0/24',
    country: 'US',
    continent: 'NA',
    subdivision: 'NY',
    lat: 40.71,
    lon: -74.01,
    city: 'New York',
  },
  { cidr: '198.18.4.0/24', country: 'SG', continent: 'AS', lat: 1.35, lon: 103.82, city: 'Singapore' },
  {
    cidr: '198.18.5.0/24',
    country: 'DE',
    continent: 'EU',
    subdivision: 'HE',
    lat: 50.11,
    lon: 8.68,
    city: 'Frankfurt',
  },
  {
    cidr: '198.18.6.0/24',
    country: 'AU',
    continent: 'OC',
    subdivision: 'NSW',
    lat: -33.87,
    lon: 151.21,
    city: 'Sydney',
  },
  { cidr: '198.18.7.0/24', country: 'JP', continent: 'AS', subdivision: '13', lat: 35.68, lon: 139.69, city: 'Tokyo' },
  {
    cidr: '198.18.8.0/24',
    country: 'BR',
    continent: 'SA',
    subdivision: 'SP',
    lat: -23.55,
    lon: -46.63,
    city: 'Sao Paulo',
  },
  { cidr: '198.18.9.0/24', country: 'IN', continent: 'AS', subdivision: 'MH', lat: 19.08, lon: 72.88, city: 'Mumbai' },
  // A /20 split into two countries at /21, to test ECS scope reporting.
  { cidr: '198.18.16.0/21', country: 'FR', continent: 'EU', subdivision: 'IDF', lat: 48.86, lon: 2.35, city: 'Paris' },
  { cidr: '198.18.24.0/21', country: 'ES', continent: 'EU', subdivision: 'MD', lat: 40.42, lon: -3.7, city: 'Madrid' },
  {
    cidr: '2001:db8:1::/48',
    country: 'GB',
    continent: 'EU',
    subdivision: 'ENG',
    lat: 51.51,
    lon: -0.13,
    city: 'London',
  },
  {
    cidr: '2001:db8:3::/48',
    country: 'US',
    continent: 'NA',
    subdivision: 'NY',
    lat: 40.71,
    lon: -74.01,
    city: 'New York',
  },
  { cidr: '2001:db8:4::/48', country: 'SG', continent: 'AS', lat: 1.35, lon: 103.82, city: 'Singapore' },
];
