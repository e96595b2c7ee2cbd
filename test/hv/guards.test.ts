// Guards of the hypervisor that no other test broke when they were removed by hand (the mutation
// sweep of issue 12): each test here fails when its guard is taken out.

import { describe, expect, it } from 'vitest';
import { checkVmInvariants } from '../../src/hv/check.js';
import type { Vm } from '../../src/hv/vm.js';
import { GuestDriver } from './guest-driver.js';
import { FAULT_FIXED, FAULT_RETRY } from '../../src/hv/shadow/page-fault.js';
import { smallVm, startFault } from './helpers.js';

const DATA = 16;

/** Host-side store of a 32-bit word at a guest-physical address (the guest does not see it happen). */
function poke(vm: Vm, gpa: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  vm.host.accessUser(vm.mm, vm.hva + gpa, b, true);
}

const PT0 = 1;
const PD = 3;
/** Paging on: PD's entry 0 -> PT0, which identity-maps the first 128 pages. */
function pagingOn(vm: Vm, d: GuestDriver): void {
  for (let i = 0; i < 128; i++) poke(vm, PT0 * 4096 + i * 4, (i << 12) | 3);
  poke(vm, PD * 4096, (PT0 << 12) | 3);
  d.setCr3(PD << 12);
  d.setCr0(0x80010011); // PG | WP | ET | PE
}

describe('->release (exit_mmap) zaps the shadow MMU before the process memory goes', () => {
  it('between release and the VM fd closing, the guest can no longer reach the exiting process memory', () => {
    const { host, vm } = smallVm();
    const d = new GuestDriver(vm);
    for (let g = 0; g < 8; g++) d.store((DATA + g) * 4096, 0x100 + g);
    expect(vm.stats.sptes_present).toBeGreaterThan(8);
    // A vCPU thread still running while the VMM process exits: it gets to run right after
    // release (the unmap that follows no longer reaches KVM: release unhooked it), and again
    // after every page was freed, before the exiting process closes the VM fd.
    const probes: string[] = [];
    const probe = (when: string): void => {
      vm.dropTlbs(); // what the CPU may still cache is another guard's business (flush)
      const efault = d.loadExpectEfault(DATA * 4096);
      probes.push(`${when}: ${efault ? 'efault' : 'reached'}`);
    };
    host.onPreempt = (label) => {
      if (label === 'after-release') probe('after release');
    };
    const closeFd = vm.mm.onExit!;
    vm.mm.onExit = () => {
      probe('after the frames were freed');
      closeFd();
    };
    host.mmput(vm.mm);
    host.onPreempt = null;
    expect(probes).toEqual(['after release: efault', 'after the frames were freed: efault']);
    expect(vm.stats.stale_accesses).toBe(0);
    expect(vm.stats.sptes_present).toBe(0);
    checkVmInvariants(vm);
    host.checkInvariants();
  });
});

describe('write-tracking of guest page tables', () => {
  // Linear 0x00400000 (PDE 1) goes through a second page table T. The guest edits T's entry 0
  // through T's own identity mapping and INVLPGs; it must then see the new target page. That
  // works only if every spte mapping T is read-only, so the edit traps and drops the spte derived
  // from the old entry (sptes are never unsync here: INVLPG alone does not refresh them).
  const T = 40;
  const WIN = 0x00400000;

  function setup(): { vm: Vm; d: GuestDriver } {
    const { vm } = smallVm();
    const d = new GuestDriver(vm);
    pagingOn(vm, d);
    d.store(DATA * 4096, 111);
    d.store((DATA + 1) * 4096, 222);
    return { vm, d };
  }

  it('a page the guest wrote as data and then made a page table loses its writable spte', () => {
    const { vm, d } = setup();
    // T is plain data first: the guest writes its entry through a writable spte.
    d.store(T * 4096, (DATA << 12) | 3);
    expect(vm.mmu.isWriteTracked(T)).toBe(false);
    // Now a page table: PDE 1 -> T, then a walk through it shadows T.
    d.storeInvlpg(PD * 4096 + 4, (T << 12) | 3, WIN);
    expect(d.load(WIN)).toBe(111);
    expect(vm.mmu.isWriteTracked(T)).toBe(true);
    // Repoint T[0] at DATA+1 through the old data mapping, flush, and look.
    d.storeInvlpg(T * 4096, ((DATA + 1) << 12) | 3, WIN);
    expect(d.load(WIN)).toBe(222);
    checkVmInvariants(vm);
  });

  it('a page table mapped for the first time after it is shadowed gets a read-only spte', () => {
    const { vm, d } = setup();
    poke(vm, T * 4096, (DATA << 12) | 3); // written by the loader, never through an spte
    d.storeInvlpg(PD * 4096 + 4, (T << 12) | 3, WIN);
    expect(d.load(WIN)).toBe(111);
    expect(vm.mmu.isWriteTracked(T)).toBe(true);
    // The guest's first access to T as data is a write: its fault must not map T writable.
    d.storeInvlpg(T * 4096, ((DATA + 1) << 12) | 3, WIN);
    expect(d.load(WIN)).toBe(222);
    // And again, now that the data spte for T exists.
    d.storeInvlpg(T * 4096, (DATA << 12) | 3, WIN);
    expect(d.load(WIN)).toBe(111);
    checkVmInvariants(vm);
  });
});

describe('the fault path re-reads the guest entries once the table is write-protected', () => {
  it('a gpte changed by another vCPU while the fault was preempted makes the fault retry, not map the old target', () => {
    const { vm } = smallVm();
    const d = new GuestDriver(vm);
    pagingOn(vm, d);
    const T = 40;
    const WIN = 0x00400000;
    d.store(DATA * 4096, 111);
    d.store((DATA + 1) * 4096, 222);
    d.store(T * 4096, (DATA << 12) | 3); // T is data so far (writable spte), not yet a table
    d.storeInvlpg(PD * 4096 + 4, (T << 12) | 3, WIN);
    expect(vm.mmu.isWriteTracked(T)).toBe(false);
    // vCPU 0 faults on WIN: the walk reads T[0] = DATA, then the fault is preempted after
    // sampling the sequence; meanwhile another vCPU repoints T[0] with a plain store (T is not
    // write-protected yet, so nothing traps).
    const { gen } = startFault(vm, WIN, false);
    expect(gen.next().done).toBe(false);
    poke(vm, T * 4096, ((DATA + 1) << 12) | 3);
    let r = gen.next();
    while (!r.done) r = gen.next();
    expect(r.value).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_gpte_changed).toBe(1);
    // The guest's own access now walks the new entry.
    expect(d.load(WIN)).toBe(222);
    const again = startFault(vm, WIN, false).gen;
    let r2 = again.next();
    while (!r2.done) r2 = again.next();
    expect(r2.value).toBe(FAULT_FIXED);
    expect(d.load(WIN)).toBe(222);
    checkVmInvariants(vm);
  });
});
