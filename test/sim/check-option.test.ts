// The invariant checkers as an engine option (SimOptions.checkInvariants): run after every
// scheduling step, the first broken invariant stops the VM with exit status 5 and the checker's
// message; without the option the same corruption goes unnoticed.
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/host/host.js';
import { Vm } from '../../src/hv/vm.js';
import { nullLogger } from '../../src/obs/log.js';
import { Simulation } from '../../src/sim/simulation.js';
import { tinyGuest } from '../machine/tiny-elf.js';

function spin(checkInvariants: boolean): { exitCode: number; message: string } {
  const host = new Host({ frames: 2048, swapPages: 0, seed: 1 });
  const vm = new Vm({ host, memBytes: 4 << 20, log: nullLogger, output: { write: () => {} } });
  vm.boot(tinyGuest(new Uint8Array([0xeb, 0xfe]))); // jmp $
  const sim = new Simulation(host, { seed: 1, slice: 1000, checkInvariants });
  const run = sim.addVm(vm, 50_000);
  let corrupted = false;
  sim.runUntilDone(() => {
    if (!corrupted && sim.sched.steps === 10) {
      vm.mm.rss++; // the host's books no longer match its page tables
      corrupted = true;
    }
    return false;
  });
  return { exitCode: run.result!.exitCode, message: run.result!.message };
}

describe('SimOptions.checkInvariants', () => {
  it('stops the run at the first broken invariant', () => {
    const r = spin(true);
    expect(r.exitCode).toBe(5);
    expect(r.message).toMatch(/broken invariant after scheduler step \d+: host invariant: mm \d+: rss/);
  });

  it('is off by default: the same corruption runs to the budget', () => {
    expect(spin(false).exitCode).toBe(4);
  });
});
