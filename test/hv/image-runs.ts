// Guest images run whole for the transparency tests (test/hv/transparency, tdp-images) and the
// multi-vCPU ones (smp): the processor's own MMU as the reference, and the hypervisor with the
// stale-access detector on and both invariant checkers run at the end.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { checkVmInvariants } from '../../src/hv/check.js';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { nullLogger } from '../../src/obs/log.js';
import { runGuest, type GuestRunOptions } from '../../src/sim/run-guest.js';

export const IMAGE_MEM = 64 * 1024 * 1024;
const text = (bytes: number[]): string => Buffer.from(bytes).toString('latin1');

export function runNative(path: string, cmdline?: string): { out: string; code: number } {
  const bytes: number[] = [];
  const m = new NativeMachine({ image: readFileSync(path), ramBytes: IMAGE_MEM, cmdline, output: { write: (b) => void bytes.push(b) } });
  const res = m.run(2e9);
  return { out: text(bytes), code: res.exitCode };
}

/** Runs path under the hypervisor (seed 3, no stale access allowed) and checks every invariant after. */
export function runChecked(path: string, extra: Partial<GuestRunOptions>): { out: string; code: number; run: ReturnType<typeof runGuest> } {
  const bytes: number[] = [];
  const run = runGuest({
    image: readFileSync(path),
    memBytes: IMAGE_MEM,
    output: { write: (b) => void bytes.push(b) },
    log: nullLogger,
    check: true,
    maxInsns: 2e9,
    seed: 3,
    ...extra,
  });
  expect(run.vm.stats.stale_accesses).toBe(0);
  checkVmInvariants(run.vm);
  run.host.checkInvariants();
  return { out: text(bytes), code: run.result.exitCode, run };
}
