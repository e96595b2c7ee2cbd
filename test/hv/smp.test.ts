// Multi-vCPU guests (GUEST-ABI "Multiple vCPUs"): guest-images/smp.elf on 1, 2 and 4 vCPUs under
// the shadow MMU. Every vCPU checksums its own memory and hits shared counters with LOCK
// XADD/CMPXCHG and a spinlock, with paging off and then on in every vCPU (shared tables plus a
// private, remapped window per vCPU); the guest judges itself and prints only after barriers, so
// its bytes must not depend on the seed while the interleaving does. The stale-access detector is
// on in every run and the VM and host invariants are checked at the end, also with constant
// swapping and with KSM.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GuestRun, GuestRunOptions } from '../../src/sim/run-guest.js';
import { IMAGE_MEM, runChecked } from './image-runs.js';

const IMAGE_PATH = fileURLToPath(new URL('../../guest-images/smp.elf', import.meta.url));
const SEEDS = [1, 2, 3];

interface SmpRun {
  out: string;
  code: number;
  g: GuestRun;
}

function smp(vcpus: number, extra: Partial<GuestRunOptions> = {}): SmpRun {
  const { out, code, run } = runChecked(IMAGE_PATH, { vcpus, cmdline: `vcpus=${vcpus}`, maxInsns: 2e8, seed: 1, ...extra });
  return { out, code, g: run };
}

/** What distinguishes one interleaving from another: scheduler decisions and per-vCPU work. */
function interleaving(r: SmpRun): string {
  return `${r.g.sim.sched.steps}:${r.g.vm.vcpus.map((v) => v.cpu.icount).join(',')}`;
}

/** The guest's own verdict plus the shape of its report: n result lines per phase, in order. */
function expectPass(r: SmpRun, n: number): void {
  expect(r.code, r.out).toBe(0);
  expect(r.g.result.reason).toBe('exit');
  const lines = r.out.split('\n');
  expect(lines[0]).toBe(`smp: ${n} vcpu(s)`);
  for (const phase of [1, 2]) {
    const mine = lines.filter((l) => l.startsWith(`smp: phase ${phase} vcpu `));
    expect(mine.map((l) => l.split(' ')[4])).toEqual([...Array(n).keys()].map(String));
    for (const l of mine) expect(l).toMatch(/ ok$/);
    // the shared counters, recomputed here: 2000 XADDs and 2000 CMPXCHG adds and 300 locked
    // updates per vCPU (see smp.c hammer())
    const cas = n * 2000;
    const lock = n * 300;
    const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
    expect(lines).toContain(
      `smp: phase ${phase} counters xadd=${n * 2000}/${(2000 * n * (n + 1)) / 2} cas=${hex((cas * (cas - 1)) / 2)} lock=${lock}/${hex((lock * (lock - 1)) / 2)} ok`,
    );
  }
  expect(r.out).not.toMatch(/FAIL/);
  expect(r.out.endsWith('smp: PASS\n')).toBe(true);
}

const baseline = new Map<number, string>();

describe('smp.elf: several vCPUs under the shadow MMU', () => {
  for (const n of [1, 2, 4]) {
    it(`${n} vCPU(s): PASS with the same bytes for seeds ${SEEDS.join(', ')}`, () => {
      const runs = SEEDS.map((seed) => smp(n, { seed }));
      for (const r of runs) expectPass(r, n);
      for (const r of runs.slice(1)) expect(r.out).toBe(runs[0]!.out);
      baseline.set(n, runs[0]!.out);
      // every vCPU did its share (an AP that never ran would leave the barrier unfilled anyway)
      for (const r of runs) for (const v of r.g.vm.vcpus) expect(v.cpu.icount).toBeGreaterThan(100_000);
      if (n > 1) {
        // the seeds really interleave the vCPUs differently; only the output is invariant
        expect(new Set(runs.map(interleaving)).size).toBeGreaterThan(1);
      }
    });
  }

  it('a vCPU result does not depend on how many vCPUs ran', () => {
    const two = baseline.get(2) ?? smp(2).out;
    const four = baseline.get(4) ?? smp(4).out;
    const perVcpu = (out: string): string[] => out.split('\n').filter((l) => / vcpu [01] sum=/.test(l));
    expect(perVcpu(two)).toHaveLength(4);
    expect(perVcpu(four)).toEqual(perVcpu(two));
  });

  it('the same seed gives the same interleaving (4 vCPUs)', () => {
    const a = smp(4, { seed: 2 });
    const b = smp(4, { seed: 2 });
    expect(b.out).toBe(a.out);
    expect(interleaving(b)).toBe(interleaving(a));
    expect(b.g.result.instructions).toBe(a.g.result.instructions);
  });

  it('4 vCPUs on a 256 KiB host (guest pages swapped out and back in): same bytes', () => {
    const r = smp(4, { seed: 3, hostMemBytes: 256 * 1024, swapBytes: IMAGE_MEM });
    expectPass(r, 4);
    expect(r.out).toBe(baseline.get(4) ?? smp(4).out);
    expect(r.g.host.stats.swapIns).toBeGreaterThan(0);
  });

  it('4 vCPUs on a 64 KiB host (every page cycles through swap, notifier retries): same bytes', () => {
    const r = smp(4, { seed: 1, hostMemBytes: 64 * 1024, swapBytes: IMAGE_MEM });
    expectPass(r, 4);
    expect(r.out).toBe(baseline.get(4) ?? smp(4).out);
    expect(r.g.host.stats.swapIns).toBeGreaterThan(500);
    expect(r.g.vm.stats.invalidations).toBeGreaterThan(0);
  });

  it('4 vCPUs with KSM merging guest pages: same bytes', () => {
    const r = smp(4, { seed: 2, ksm: true, hostMemBytes: 8 * 1024 * 1024 });
    expectPass(r, 4);
    expect(r.out).toBe(baseline.get(4) ?? smp(4).out);
    expect(r.g.host.stats.ksmMerges).toBeGreaterThan(0);
  });

  it('4 vCPUs switched every ~100 instructions (preempted inside CMPXCHG loops and the lock): same bytes', () => {
    const r = smp(4, { seed: 2, slice: 101 });
    expectPass(r, 4);
    expect(r.out).toBe(baseline.get(4) ?? smp(4).out);
    expect(r.g.sim.sched.steps).toBeGreaterThan(20_000);
  });

  it('2 vCPUs on a 4-vCPU VM: the spare APs halt at once, the output is the 2-vCPU one', () => {
    const r = smp(4, { cmdline: 'vcpus=2' });
    expectPass(r, 2);
    expect(r.out).toBe(baseline.get(2) ?? smp(2).out);
    expect(r.g.vm.vcpus[2]!.cpu.icount).toBeLessThan(1000);
    expect(r.g.vm.vcpus[3]!.cpu.icount).toBeLessThan(1000);
  });

  it('a vCPU count out of range is refused by the guest (FAIL, exit 1)', () => {
    const r = smp(1, { cmdline: 'vcpus=9' });
    expect(r.code).toBe(1);
    expect(r.out).toBe('smp: vcpus=9 out of range (1..8)\nsmp: FAIL\n');
  });
});
