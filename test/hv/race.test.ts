// The race of reference/kvm-mmu.md §1.6, scripted step by step: a vCPU fault that gup()s a frame
// while the host invalidates the page. With the retry check the fault returns RETRY, leaves no
// spte and drops its reference; with the check removed (test-only switch) the stale frame ends
// up mapped and both the invariant checker and the stale-access detector catch it.

import { describe, expect, it } from 'vitest';
import { MADV_DONTNEED } from '../../src/host/constants.js';
import { checkVmInvariants, InvariantError } from '../../src/hv/check.js';
import { FAULT_FIXED, FAULT_RETRY, YIELD_AFTER_GUP, YIELD_AFTER_SEQ, YIELD_BEFORE_LOCK } from '../../src/hv/shadow/page-fault.js';
import { XLATE_EXIT, XLATE_OK } from '../../src/cpu/ports.js';
import { fault, smallVm, spteFor, startFault, touch } from './helpers.js';

const LIN = 5 * 4096;

describe('§1.6: fault vs invalidation', () => {
  it('an invalidation that completes between gup and mmu_lock makes the fault retry (seq moved)', () => {
    const { host, vm } = smallVm();
    touch(vm, 5);
    const { gen } = startFault(vm, LIN);
    expect(gen.next().value).toBe(YIELD_AFTER_SEQ);
    expect(gen.next().value).toBe(YIELD_AFTER_GUP);
    const hva = vm.hva + LIN;
    const p = host.frameAt(vm.mm, hva);
    expect(p).toBeGreaterThanOrEqual(0);
    const genBefore = host.frameGen[p]!;
    host.madvise(vm.mm, hva, 4096, MADV_DONTNEED); // S, clear, E; P survives on our gup reference
    expect(host.frameAt(vm.mm, hva)).toBe(-1);
    expect(gen.next().value).toBe(YIELD_BEFORE_LOCK);
    const r = gen.next();
    expect(r.done).toBe(true);
    expect(r.value).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_seq).toBe(1);
    expect(spteFor(vm, LIN) & 1).toBe(0);
    // Our reference was the last one: the frame is gone now, and nothing maps it.
    expect(host.frameGen[p]).not.toBe(genBefore);
    checkVmInvariants(vm);
    host.checkInvariants();
    // The retried fault succeeds and maps the current (zero-filled) page.
    expect(fault(vm, LIN)).toBe(FAULT_FIXED);
    expect(spteFor(vm, LIN) >>> 12).toBe(host.frameAt(vm.mm, hva));
    checkVmInvariants(vm);
  });

  it('a fault that reaches mmu_lock inside start..end retries (in-progress range)', () => {
    const { host, vm } = smallVm();
    touch(vm, 5);
    const { gen } = startFault(vm, LIN);
    gen.next();
    gen.next(); // gup done
    let result = -1;
    let inProgressSeen = 0;
    host.onPreempt = (label) => {
      if (label !== 'after-clear' || result !== -1) return;
      inProgressSeen = vm.inv.inProgress;
      gen.next(); // before-lock
      const r = gen.next();
      result = r.done ? r.value : -2;
    };
    host.madvise(vm.mm, vm.hva + LIN, 4096, MADV_DONTNEED);
    host.onPreempt = null;
    expect(inProgressSeen).toBe(1);
    expect(result).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_in_progress).toBe(1);
    expect(spteFor(vm, LIN) & 1).toBe(0);
    checkVmInvariants(vm);
    host.checkInvariants();
  });

  it('with the retry check removed, the stale frame gets mapped and is caught', () => {
    const { host, vm } = smallVm();
    vm.inject.noRetryCheck = true;
    touch(vm, 5);
    const { gen } = startFault(vm, LIN);
    gen.next();
    gen.next();
    const hva = vm.hva + LIN;
    const p = host.frameAt(vm.mm, hva);
    host.madvise(vm.mm, hva, 4096, MADV_DONTNEED);
    gen.next();
    const r = gen.next();
    expect(r.value).toBe(FAULT_FIXED); // the bug: committed although the page is gone
    expect(spteFor(vm, LIN) >>> 12).toBe(p);
    expect(() => checkVmInvariants(vm)).toThrow(InvariantError);
    // A guest access through the spte uses a freed frame: the detector reports it.
    const cpu = vm.vcpus[0]!.cpu;
    expect(vm.vcpus[0]!.vmmu.translate(cpu, LIN, 0)).toBe(XLATE_OK);
    expect(vm.stats.stale_accesses).toBe(1);
    expect(vm.staleRecords[0]).toMatchObject({ vcpu: 0, gva: LIN, gfn: 5, frame: p, write: false });
  });

  it('after the invalidation the spte is gone and the next access exits to the fault path', () => {
    const { host, vm } = smallVm();
    expect(fault(vm, LIN, true)).toBe(FAULT_FIXED);
    const cpu = vm.vcpus[0]!.cpu;
    expect(vm.vcpus[0]!.vmmu.translate(cpu, LIN, 0)).toBe(XLATE_OK);
    host.madvise(vm.mm, vm.hva + LIN, 4096, MADV_DONTNEED);
    expect(spteFor(vm, LIN) & 1).toBe(0);
    expect(vm.vcpus[0]!.vmmu.translate(cpu, LIN, 0)).toBe(XLATE_EXIT);
    expect(vm.stats.sptes_zapped_by_invalidation).toBe(1);
    expect(vm.inv.seq).toBe(1);
    expect(vm.inv.inProgress).toBe(0);
    checkVmInvariants(vm);
  });

  it('a fault abandoned while it holds the page (the VM stopped) lets go of it', () => {
    const { host, vm } = smallVm();
    touch(vm, 5);
    const before = host.outstandingGupRefs;
    const { gen } = startFault(vm, LIN);
    gen.next();
    gen.next(); // gup done: one reference held
    expect(host.outstandingGupRefs).toBe(before + 1);
    gen.return(0);
    expect(host.outstandingGupRefs).toBe(before);
    expect(spteFor(vm, LIN) & 1).toBe(0);
    host.checkInvariants();
  });
});
