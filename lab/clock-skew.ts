// Lab only (the soak's clock steps): loaded with `node --import` into the lab's DNS server, it
// shifts this process's clock (and its workers', which inherit the flag) by the milliseconds
// written in GTM_LAB_CLOCK_FILE, re-read every 200 ms. The machine's clock is never touched.
import { readFileSync } from 'node:fs';

const file = process.env.GTM_LAB_CLOCK_FILE;
if (file) {
  let offset = 0;
  const read = () => {
    try {
      offset = Number(readFileSync(file, 'utf8').trim()) || 0;
    } catch {
      offset = 0;
    }
  };
  read();
  setInterval(read, 200).unref();
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offset);
      else super(...(args as [string]));
    }
    static override now(): number {
      return realNow() + offset;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
}
