// Building queries (explain, probes, tests, benchmarks).
import { TYPE, OPTION_ECS } from './rr.js';
import { encodeName } from './writer.js';

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  /** Add an OPT record (EDNS0); implied by `ecs`. */
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean };
  ecs?: { address: Uint8Array; sourcePrefix: number };
}

/** Builds a query message (used by explain, tests and benchmarks). */
export function buildQuery(name: string, qtype: number, opts: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0, 0);
  header.writeUInt16BE(opts.rd ? 0x0100 : 0, 2);
  header.writeUInt16BE(1, 4);
  const question = Buffer.concat([encodeName(name.replace(/\.$/, '')), Buffer.from([qtype >> 8, qtype & 0xff, 0, 1])]);
  const parts = [header, question];
  if (opts.edns || opts.ecs) {
    header.writeUInt16BE(1, 10);
    let options = Buffer.alloc(0);
    if (opts.ecs) {
      const addrLen = Math.ceil(opts.ecs.sourcePrefix / 8);
      options = Buffer.alloc(8 + addrLen);
      options.writeUInt16BE(OPTION_ECS, 0);
      options.writeUInt16BE(4 + addrLen, 2);
      options.writeUInt16BE(opts.ecs.address.length === 4 ? 1 : 2, 4);
      options[6] = opts.ecs.sourcePrefix;
      Buffer.from(opts.ecs.address.subarray(0, addrLen)).copy(options, 8);
      // Clear host bits past the prefix, as RFC 7871 requires of senders.
      if (opts.ecs.sourcePrefix % 8 && addrLen)
        options[8 + addrLen - 1] = (options[8 + addrLen - 1] as number) & (0xff << (8 - (opts.ecs.sourcePrefix % 8)));
    }
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(TYPE.OPT, 1);
    opt.writeUInt16BE(opts.edns?.udpSize ?? 1232, 3);
    opt[6] = opts.edns?.version ?? 0;
    opt[7] = opts.edns?.dnssecOk ? 0x80 : 0;
    opt.writeUInt16BE(options.length, 9);
    parts.push(opt, options);
  }
  return Buffer.concat(parts);
}
