// A worker's load is the kernel's count of its loop thread's busy time, so the batched path may turn
// libuv's idle clock off (a second epoll_pwait per wake) without blinding the overload guard.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { batchedUdpAddon } from '../../src/dns/batched-udp.js';
import { SAMPLE_MS, Saturation, threadBusyNs } from '../../src/dns/overload.js';

const idleMs = () => performance.eventLoopUtilization().idle;

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until); // the loop thread stays busy: no sample can run meanwhile
}

describe('the loop busy measure', () => {
  it('counts the thread running, not the thread asleep', async () => {
    expect(Saturation.kernelCounts).toBe(true); // Linux with /proc: as CI and users run it
    const before = threadBusyNs()!;
    spin(60);
    const spun = threadBusyNs()!;
    await sleep(60);
    const slept = threadBusyNs()!;
    expect(spun - before).toBeGreaterThan(50e6);
    expect(slept - spun).toBeLessThan(30e6);
  });

  it("the addon turns libuv's idle clock off, once", async () => {
    const { addon, why } = batchedUdpAddon();
    expect(addon?.stopIdleClock, why).toBeTypeOf('function');
    const on = idleMs();
    await sleep(50);
    expect(idleMs() - on).toBeGreaterThan(30); // Node turns it on: it counts this wait
    expect(addon!.stopIdleClock!()).toBe(true);
    const off = idleMs();
    await sleep(50);
    expect(idleMs()).toBe(off);
    expect(addon!.stopIdleClock!()).toBe(false);
  });

  it('Saturation says busy while the loop spins and calm while it waits, the idle clock off', async () => {
    batchedUdpAddon().addon!.stopIdleClock!(); // off already, or now
    const samples: boolean[] = [];
    const load = new Saturation((saturated) => samples.push(saturated));
    try {
      await sleep(SAMPLE_MS * 1.5);
      spin(SAMPLE_MS * 10); // the sample after it also covers up to SAMPLE_MS before it: >= 0.9 busy
      await sleep(SAMPLE_MS * 0.5); // the sample that covers the spin
      const spun = samples.length;
      await sleep(SAMPLE_MS * 3.5);
      expect(samples.slice(0, spun)).toContain(true);
      // libuv's utilization reads 1 with its clock off: these calm samples come from the kernel.
      expect(samples.slice(spun + 1)).toEqual(samples.slice(spun + 1).map(() => false));
      expect(samples.length - spun).toBeGreaterThanOrEqual(2);
    } finally {
      load.stop();
    }
  });
});
