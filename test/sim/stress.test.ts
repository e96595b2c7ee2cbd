// The whole machine under the deterministic scheduler, checked after every single step: two VMs
// running memhog-mp (four address spaces each, CR3 switches, page-table writes) on a host far too
// small for them, with kswapd, ksmd, a forking VMM, a balloon (DONTNEED) and write-protect passes,
// and vCPU work let in at the host's preemption points. After each step the shadow MMU must agree
// with the host and the guests' tables (invariants 1, 2, 4, 10, 11, 14) and the host with itself.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/host/host.js';
import { Prng } from '../../src/host/prng.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import { Vm } from '../../src/hv/vm.js';
import { nullLogger } from '../../src/obs/log.js';
import { DontneedTask, ForkTask, MprotectTask } from '../../src/sim/host-workload.js';
import { Simulation } from '../../src/sim/simulation.js';

const image = readFileSync(fileURLToPath(new URL('../../guest-images/memhog-mp.elf', import.meta.url)));
const MIB = 1024 * 1024;

function stress(seed: number, steps: number): { outputs: string[]; swapOuts: number; retries: number; preemptions: number } {
  const host = new Host({ frames: (2 * MIB) / 4096, swapPages: (32 * MIB) / 4096, seed });
  const outputs: number[][] = [[], []];
  const vms = [0, 1].map(
    (i) =>
      new Vm({ host, name: `vm${i}`, memBytes: 12 * MIB, ksm: true, detect: true, log: nullLogger, output: { write: (b) => void outputs[i]!.push(b) } }),
  );
  vms.forEach((vm, i) => vm.boot(image, `mib=1 procs=4 iters=0 report=16 seed=${seed * 7 + i}`));
  const sim = new Simulation(host, { seed, slice: 6000, preemptChance: 0.5, ksmEvery: 8, ksmPagesPerStep: 32 });
  for (const vm of vms) sim.addVm(vm, 40_000_000);
  const prng = new Prng(seed ^ 0xabc);
  const fork = new ForkTask(host, vms, 40, prng);
  sim.addTask(fork);
  // memhog-mp gives each of its 4 processes 64 pages from 8 MiB on and never verifies the last 8
  // of each (its scratch): the balloon may discard only those of process 0.
  sim.addTask(new DontneedTask(host, vms, 25, prng, 8 * MIB + 56 * 4096, 8 * 4096, 4));
  sim.addTask(new MprotectTask(host, vms, 30, prng));
  for (let i = 0; i < steps && sim.runs.some((r) => r.result === null); i++) {
    sim.sched.stepOnce();
    for (const vm of vms) checkVmInvariants(vm);
    if (i % 16 === 0) host.checkInvariants(); // the host's own check walks every frame: sample it
  }
  fork.reapAll();
  for (const vm of vms) expect(vm.stats.stale_accesses).toBe(0);
  return {
    outputs: outputs.map((o) => String.fromCharCode(...o)),
    swapOuts: host.stats.swapOuts,
    retries: vms.reduce((n, v) => n + v.stats.pf_retry_seq + v.stats.pf_retry_in_progress + v.stats.pf_retry_unsafe, 0),
    preemptions: sim.preemptions,
  };
}

describe('simulation stress: every invariant after every step', () => {
  // Seeds 1 and 3 interleave a fault with an invalidation often enough that the run fails within
  // seconds when the retry check is switched off (vm.inject.noRetryCheck): the race is really hit.
  for (const seed of [1, 3]) {
    it(`seed ${seed}: two memhog-mp VMs, tiny host, all host events, preemption on`, () => {
      const r = stress(seed, 5000);
      expect(r.swapOuts).toBeGreaterThan(0);
      expect(r.preemptions).toBeGreaterThan(0);
      expect(r.retries).toBeGreaterThan(0); // faults did race invalidations, and retried
      for (const out of r.outputs) {
        expect(out).not.toMatch(/corrupt page/);
        expect(out).toMatch(/memhog: iter=\d+ verified=[1-9]\d* corrupt=0/);
      }
    });
  }
});
