// Pure: great-circle distance, for policies that must not load the geo database reader.

/** Great-circle distance in km (haversine). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/**
 * The point on the unit sphere. The dot product of two such points falls as their
 * great-circle distance grows, so ordering by it needs no trigonometry per pair.
 */
export function unitVector(lat: number, lon: number): [number, number, number] {
  const rad = Math.PI / 180;
  const c = Math.cos(lat * rad);
  return [c * Math.cos(lon * rad), c * Math.sin(lon * rad), Math.sin(lat * rad)];
}
