// Shared fixtures for hypervisor tests: a small host with one VM whose vCPU sits in the entry
// state (paging off), and a helper that runs a fault to completion or step by step.

import { Host } from '../../src/host/host.js';
import { nullLogger } from '../../src/obs/log.js';
import { pageFault, type FaultResult } from '../../src/hv/shadow/page-fault.js';
import { Vm, type VmOptions } from '../../src/hv/vm.js';
import { ACC_WRITE } from '../../src/cpu/ports.js';

export function smallVm(opts: Partial<VmOptions> & { frames?: number; swapPages?: number; guestPages?: number } = {}): { host: Host; vm: Vm } {
  const host = new Host({ frames: opts.frames ?? 512, swapPages: opts.swapPages ?? 512, seed: 7 });
  const vm = new Vm({
    host,
    memBytes: (opts.guestPages ?? 128) * 4096,
    log: nullLogger,
    output: { write: () => {} },
    detect: true,
    ...opts,
  });
  return { host, vm };
}

/** Start a fault of vCPU 0 on `lin` (paging off: gfn = lin >>> 12). */
export function startFault(vm: Vm, lin: number, write = false): { gen: Generator<string, number, void>; out: FaultResult } {
  const v = vm.vcpus[0]!;
  const out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
  return { gen: pageFault(vm, v.cpu, v.vmmu, v.walker, lin, write ? ACC_WRITE : 0, out), out };
}

/** Run a fault with no interleaving. */
export function fault(vm: Vm, lin: number, write = false): number {
  const { gen } = startFault(vm, lin, write);
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

/** The leaf spte vCPU 0's current root gives for lin, or 0. */
export function spteFor(vm: Vm, lin: number): number {
  const ref = vm.vcpus[0]!.vmmu.leafRef(lin);
  const sp = ref < 0 ? null : vm.mmu.pages[(ref / 1024) | 0];
  return sp ? sp.spt[ref & 1023]! : 0;
}

/** Give guest page `gfn` a private host frame holding `byte` (as if the guest had written it). */
export function touch(vm: Vm, gfn: number, byte = 0xab): number {
  const buf = new Uint8Array(4096).fill(byte);
  vm.host.accessUser(vm.mm, vm.hva + gfn * 4096, buf, true);
  return vm.host.frameAt(vm.mm, vm.hva + gfn * 4096);
}
