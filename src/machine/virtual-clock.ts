// Virtual time of the machine: the clock every device (PIT, RDTSC) counts on, and its ratio to
// the 8254's 1.193182 MHz input. Mirrors nothing in Linux; it replaces the host wall clock that
// QEMU's timers use, so runs are deterministic: the same image and options give the same ticks.
//
// Ratio: one retired guest instruction is one virtual tick, and the guest sees a 100 MHz CPU,
// so one tick is 10 ns. A halted vCPU advances the clock too (Cpu.haltedTicks), never wall time.

/** Virtual ticks per virtual second: the guest sees a 100 MHz CPU (1 instruction = 10 ns). */
export const VTIME_HZ = 100_000_000;
/** The 8254 PIT's input clock in Hz. */
export const PIT_HZ = 1_193_182;

/** Anything that can tell the current virtual time (vCPU 0's Cpu.vtime() in a machine). */
export interface VirtualClock {
  now(): number;
}

/** Whole PIT input clocks elapsed at virtual time `t` (t >= 0), exact in integers. */
export function vtimeToPitTicks(t: number): number {
  // Split so no intermediate product exceeds 2^53: r * PIT_HZ < 1.2e14.
  const q = Math.floor(t / VTIME_HZ);
  const r = t - q * VTIME_HZ;
  return q * PIT_HZ + Math.floor((r * PIT_HZ) / VTIME_HZ);
}

/** The first virtual time at which vtimeToPitTicks() reaches `n` (n >= 0). */
export function pitTicksToVtime(n: number): number {
  const q = Math.floor(n / PIT_HZ);
  const r = n - q * PIT_HZ;
  return q * VTIME_HZ + Math.ceil((r * VTIME_HZ) / PIT_HZ);
}
