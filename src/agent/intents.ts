// Operators drain a region once (control API, schedules): an override in the shared store. Every
// agent of the region follows it with a BGP drain, then a withdrawal; undrain or expiry brings it
// back. Expiry is checked on a timer too: the store says nothing when time passes.
import { type StateStore } from '../state/index.js';
import { isLive, KEYS, type RegionOverride } from '../contract/index.js';

export interface OperatorDrain {
  reason: string;
  who: string;
  expiresAt?: number;
}

/** Calls `onChange` whenever the region's operator drain starts, changes or ends; returns the stop. */
export function followOperatorDrain(
  store: StateStore | undefined,
  region: string,
  onChange: (drain: OperatorDrain | undefined) => void,
): (() => void) | undefined {
  if (!store) return undefined;
  const key = KEYS.regionOverride(region);
  let current: RegionOverride | undefined;
  let told = '';
  const apply = () => {
    const o = current && isLive(current, Date.now()) && current.status === 'draining' ? current : undefined;
    const drain = o && { reason: o.reason, who: o.who, expiresAt: o.expiresAt };
    const said = JSON.stringify(drain ?? null);
    if (said === told) return;
    told = said;
    onChange(drain);
  };
  const stopWatch = store.watch<RegionOverride>(KEYS.regionOverrides, (entries) => {
    current = entries.find((e) => e.key === key)?.value;
    apply();
  });
  const timer = setInterval(apply, 500);
  timer.unref();
  return () => {
    stopWatch();
    clearInterval(timer);
  };
}
