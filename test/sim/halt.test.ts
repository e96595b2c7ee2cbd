// A VM whose vCPUs all halt for good must end (status 1) even while host tasks (ksmd) still
// have work: the scheduler must not spin on them forever.
import { describe, expect, it } from 'vitest';
import { nullLogger } from '../../src/obs/log.js';
import { runGuest } from '../../src/sim/run-guest.js';
import { CLI_HLT, tinyGuest } from '../machine/tiny-elf.js';

describe('halted VMs end', () => {
  // Whichever vCPU halts first depends on the seed; both orders must end.
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`two vCPUs that both execute cli; hlt, with ksmd running (seed ${seed}): status 1, no hang`, () => {
      const g = runGuest({ image: tinyGuest(CLI_HLT), memBytes: 4 << 20, vcpus: 2, ksm: true, seed, output: { write: () => {} }, log: nullLogger });
      expect(g.result.exitCode).toBe(1);
      expect(g.result.reason).toBe('halted');
    });
  }
});
