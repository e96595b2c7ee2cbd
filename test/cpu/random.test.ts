// Random byte streams as code: whatever the bytes, the guest gets an exception (#UD, #GP, #PF...),
// a clean stop or a triple fault, and run() never throws anything but a GuestError (the documented
// refusals). Deterministic: a seeded PRNG chooses the bytes.

import { describe, expect, it } from 'vitest';
import { GuestError } from '../../src/cpu/errors.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_MMU, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../../src/cpu/ports.js';
import { CODE, KSTACK, makeMachine, setupPaging, setupSystem, mulberry32 } from './harness.js';

const EXITS = new Set([EXIT_BUDGET, EXIT_HLT, EXIT_STOP, EXIT_TRIPLE_FAULT]);

describe('random instruction streams', () => {
  it('never throw a non-GuestError, in ring 0 and ring 3, paging off and on', () => {
    const outcomes = new Map<string, number>();
    let exceptions = 0;
    for (let seed = 1; seed <= 240; seed++) {
      const rnd = mulberry32(seed);
      const m = makeMachine(8 << 20);
      setupSystem(m);
      if (seed % 2 === 0) setupPaging(m);
      for (let k = 0; k < 8192; k++) m.mem[CODE + k] = Math.floor(rnd() * 256);
      m.cpu.regs[4] = KSTACK;
      for (let r = 0; r < 8; r++) if (r !== 4) m.cpu.regs[r] = Math.floor(rnd() * 2 ** 32) | 0;
      if (seed % 3 === 0) {
        m.cpu.cpl = 3;
        m.cpu.sreg[1] = 0x1b;
        m.cpu.regs[4] = 0x90000;
      }
      let outcome: string;
      try {
        let e = EXIT_BUDGET;
        for (let slice = 0; slice < 20 && e === EXIT_BUDGET; slice++) e = m.cpu.run(500);
        expect(EXITS.has(e) || e === EXIT_MMU).toBe(true);
        expect(e).not.toBe(EXIT_MMU); // the native MMU never exits
        outcome = `exit ${e}`;
      } catch (x) {
        if (!(x instanceof GuestError)) throw new Error(`seed ${seed}: ${String(x)}`, { cause: x });
        outcome = 'guest-error';
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      exceptions += m.cpu.stats.exceptions.reduce((a, b) => a + b, 0);
    }
    // Random bytes mostly end in an exception handler (which stops the run).
    expect(exceptions).toBeGreaterThan(100);
    expect(outcomes.get(`exit ${EXIT_STOP}`) ?? 0).toBeGreaterThan(100);
  });
});
