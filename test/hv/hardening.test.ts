// Hypervisor-side guards from issue 12: a vCPU whose shadow page faults can never satisfy the
// access stops with an error instead of spinning, and guests run exactly on host frames above
// 2 GiB (frame numbers >= 2^19, whose `frame << 12` no longer fits a signed 32-bit offset), up to
// the 4 GiB a host can have; more is refused with one clear line.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_FRAMES } from '../../src/host/frames.js';
import { Host } from '../../src/host/host.js';
import { NO_PROGRESS_EXITS } from '../../src/hv/vcpu.js';
import { Vm } from '../../src/hv/vm.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { nullLogger } from '../../src/obs/log.js';
import { Simulation } from '../../src/sim/simulation.js';
import { hostFor } from '../../src/sim/run-guest.js';
import { smallVm } from './helpers.js';

const IMAGES = fileURLToPath(new URL('../../guest-images/', import.meta.url));

describe('no-progress guard', () => {
  it('a fault path that retries forever (an invalidation that never ends) stops the vCPU with an error', () => {
    const { vm } = smallVm();
    const v = vm.vcpus[0]!;
    // jmp $ at 0x1000, paging off
    vm.host.accessUser(vm.mm, vm.hva + 0x1000, new Uint8Array([0xeb, 0xfe]), true);
    v.cpu.eip = 0x1000;
    // mmu_invalidate_in_progress stays raised over every gfn: each fault ends in RETRY
    vm.inv.begin();
    vm.inv.rangeAdd(0, 128);
    let err: unknown = null;
    let steps = 0;
    try {
      for (; steps < 10 * NO_PROGRESS_EXITS * 8; steps++) v.step(1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `vcpu0 made no progress: ${NO_PROGRESS_EXITS} shadow page faults in a row at EIP 0x1000 (gva 0x1000, access 16) neither retired an instruction nor delivered an event`,
    );
    expect(vm.stats.pf_retry_unsafe + vm.stats.pf_retry_in_progress).toBeGreaterThanOrEqual(NO_PROGRESS_EXITS - 1);
    // once the invalidation ends the same vCPU runs again: the guard counts only a streak
    vm.inv.end();
    v.abortFault();
    for (let k = 0; k < 20; k++) v.step(1000);
    expect(v.cpu.icount).toBeGreaterThan(0);
  });
});

describe('host RAM at the top of the supported range', () => {
  it('a guest whose every page lives on a host frame >= 2^19 runs exactly as natively', () => {
    const image = readFileSync(IMAGES + 'pagetest.elf');
    const bytes: number[] = [];
    const nat = new NativeMachine({ image, ramBytes: 64 << 20, output: { write: (b) => void bytes.push(b) } });
    const nres = nat.run(2e9);
    const nativeOut = Buffer.from(bytes).toString('latin1');

    // 4 GiB of host RAM (untouched pages cost nothing); the low 2 GiB + 1 MiB are taken first,
    // so the VM's frames, page tables and all, come from above 2^19
    const host = new Host({ frames: MAX_FRAMES, swapPages: 4096, seed: 3, log: nullLogger });
    const low = (1 << 19) + 256;
    let taken = 0;
    for (let k = 0; k < low; k++) if (host.ft.allocRaw() === k) taken++;
    expect(taken).toBe(low);
    const out: number[] = [];
    const vm = new Vm({ host, memBytes: 64 << 20, log: nullLogger, output: { write: (b) => void out.push(b) }, check: true });
    vm.boot(image);
    const sim = new Simulation(host, { seed: 3 });
    const run = sim.addVm(vm, 2e9);
    sim.runUntilDone();
    expect(Buffer.from(out).toString('latin1')).toBe(nativeOut);
    expect(run.result!.exitCode).toBe(nres.exitCode);
    expect(run.result!.instructions).toBe(nres.instructions);
    expect(vm.stats.stale_accesses).toBe(0);
    let high = 0;
    for (let f = low; f < MAX_FRAMES; f++) if (host.ft.refcount[f]! > 0) high++;
    expect(high).toBeGreaterThan(50);
    checkVmInvariants(vm);
  });

  it('more than 4 GiB of host RAM is refused with one line before anything is built', () => {
    const sizes = [4 * 2 ** 30 + 4096, 16 * 2 ** 30];
    for (const hostMemBytes of sizes) {
      expect(() => hostFor({ memBytes: 64 << 20, hostMemBytes, log: nullLogger })).toThrow(RangeError);
    }
    expect(() => hostFor({ memBytes: 64 << 20, hostMemBytes: 16 * 2 ** 30, log: nullLogger })).toThrow(
      /^host memory of 16G is more than a simulated host can have \(at most 4G: its RAM is one ArrayBuffer\)$/,
    );
    expect(() => new Host({ frames: MAX_FRAMES + 1, swapPages: 0, seed: 1, log: nullLogger })).toThrow(/^a host has 1 to 1048576 frames/);
  });
});
