// `transfer_as: healthy`: what a secondary serves for a steered name is the pools of the regions
// up when the zone is transferred, so a change of the regions up is a change of the zone's
// content: the DNS primary makes the zones again (new serial), rolls them out to the workers and
// NOTIFY tells the secondaries. Changes are gathered for a moment (a failover moves several
// regions within a second) and made one at a time.
import { inZone } from '../wire/index.js';
import type { Config, Zone } from '../config/index.js';
import type { InMemoryRegionState } from '../state/index.js';

/** How long region changes are gathered before the zones are made again. */
const GATHER_MS = 300;

/** Whether a zone has a steered name whose transfer rendition follows region state. */
export function followsRegions(config: Config, zone: Zone): boolean {
  return config.services.some((s) => s.transferAs === 'healthy' && inZone(s.name, zone.name));
}

/** The regions DNS hands out now, sorted (a rendition's input, and what is compared). */
export function regionsUp(config: Config, state: InMemoryRegionState): string[] {
  return [...config.regions.keys()].filter((r) => state.get(r)?.status === 'up').sort();
}

/** Sets each zone's `transferUp` from the regions up now (undefined where nothing follows them). */
export function markTransferRegions(config: Config, state: InMemoryRegionState): void {
  const up = regionsUp(config, state);
  for (const zone of config.zones) zone.transferUp = followsRegions(config, zone) ? up : undefined;
}

/**
 * Calls `remake` when the regions up differ from those the running zones were made with.
 * Returns a stop function.
 */
export function followRegionsForTransfers(
  config: () => Config,
  state: InMemoryRegionState,
  remake: () => Promise<void>,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const made = () =>
    config()
      .zones.find((z) => z.transferUp)
      ?.transferUp?.join(',');
  const check = () => {
    timer = undefined;
    const c = config();
    if (made() === undefined || made() === regionsUp(c, state).join(',')) return;
    running = running.then(remake, remake);
  };
  const stop = state.subscribe(() => {
    if (!timer && made() !== undefined) timer = setTimeout(check, GATHER_MS);
  });
  return () => {
    clearTimeout(timer);
    stop();
  };
}
