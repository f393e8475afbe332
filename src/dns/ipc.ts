// Messages between the DNS primary and its workers. The channel uses Node's 'advanced'
// serialization (structured clone), so a validated Config (Maps, byte arrays) crosses as it
// is: workers never read or parse the config file themselves, nor compile its zones.
import type { Config } from '../config/index.js';
import type { CompiledZone } from './zone.js';
import type { RegionSnapshot } from '../state/index.js';

export type ToWorker =
  /** First message: everything a worker needs to start answering. */
  | {
      type: 'init';
      /** Without record lists: the records arrive compiled, in `zones`. */
      config: Config;
      zones: CompiledZone[];
      host: string;
      port: number;
      snapshot: RegionSnapshot;
      weights: Record<string, number>;
    }
  | { type: 'reload'; config: Config; zones: CompiledZone[]; reopenGeo: boolean }
  | { type: 'state'; snapshot: RegionSnapshot }
  | { type: 'weights'; weights: Record<string, number> };

export type FromWorker =
  | { type: 'hello' }
  | { type: 'ready'; port: number }
  | { type: 'reloaded'; ok: boolean; error?: string }
  /** A primary NOTIFYed a zone we are a secondary of (accepted by the worker): refresh it. */
  | { type: 'notify'; zone: string; from: string };
