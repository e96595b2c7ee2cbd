// One test per invariant of reference/kvm-mmu.md §7 that the race and model tests do not already
// pin down: pins (8), dirty/accessed propagation and aging (9), emulated page-table writes and
// flooding (13), the root cache (16), exit_mmap (17), fork (18), KSM (19), mprotect /
// MADV_DONTNEED / munmap (20), change_pte (21), and the three coherence modes side by side.
// Guests run with paging off unless a test turns it on: gpa = linear address.

import { describe, expect, it } from 'vitest';
import { MADV_DONTNEED, PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { mmuNotifierClearYoung, mmuNotifierTestYoung } from '../../src/host/mmu-notifier.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import type { Vm } from '../../src/hv/vm.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm, spteFor, touch } from './helpers.js';

const DATA = 16; // first data gfn

function guestWrite(vm: Vm, gfn: number, off: number, val: number): void {
  driver(vm).store(gfn * 4096 + off, val);
}
function guestRead(vm: Vm, gfn: number, off: number): number {
  return driver(vm).load(gfn * 4096 + off);
}
function hostRead(vm: Vm, gfn: number, off: number): number {
  const b = new Uint8Array(4);
  vm.host.accessUser(vm.mm, vm.hva + gfn * 4096 + off, b, false);
  return new DataView(b.buffer).getInt32(0, true);
}
const drivers = new WeakMap<Vm, GuestDriver>();
/** The VM's driver; created (routines written) on first use, before the guest first runs. */
function driver(vm: Vm): GuestDriver {
  let d = drivers.get(vm);
  if (d === undefined) drivers.set(vm, (d = new GuestDriver(vm)));
  return d;
}

describe('invariant 8: no long-term pins in notifier mode; pins in pin mode', () => {
  it('notifier: after faults KVM holds no page reference and mapped guest pages can be swapped', () => {
    const { host, vm } = smallVm({ frames: 128, swapPages: 512 });
    for (let g = 0; g < 40; g++) guestWrite(vm, DATA + g, 8, 0x1000 + g);
    expect(host.outstandingGupRefs).toBe(0);
    expect(vm.stats.sptes_present).toBeGreaterThan(40);
    host.reclaim(64);
    expect(host.stats.swapOuts).toBeGreaterThan(0);
    expect(host.stats.reclaimFailPinned).toBe(0);
    expect(vm.stats.sptes_zapped_by_invalidation).toBeGreaterThan(0);
    checkVmInvariants(vm);
    // Invariant 9: the guest-written bytes come back from swap exactly.
    for (let g = 0; g < 40; g++) expect(guestRead(vm, DATA + g, 8)).toBe(0x1000 + g);
    expect(host.stats.swapIns).toBeGreaterThan(0);
    checkVmInvariants(vm);
    host.checkInvariants();
  });

  it('pin: every spte holds a reference, reclaim fails on pinned pages, nothing is ever stale', () => {
    const { host, vm } = smallVm({ frames: 128, swapPages: 512, mode: 'pin' });
    for (let g = 0; g < 40; g++) guestWrite(vm, DATA + g, 8, 0x2000 + g);
    expect(vm.stats.pinned_pages).toBe(vm.stats.sptes_present);
    expect(host.outstandingGupRefs).toBe(vm.stats.pinned_pages);
    host.reclaim(64);
    expect(host.stats.reclaimFailPinned).toBeGreaterThan(0);
    for (let g = 0; g < 40; g++) expect(guestRead(vm, DATA + g, 8)).toBe(0x2000 + g);
    expect(vm.stats.stale_accesses).toBe(0);
    checkVmInvariants(vm);
    vm.destroy();
    expect(host.outstandingGupRefs).toBe(0);
    host.checkInvariants();
  });

  it('pin: when the VMM process exits (or is OOM-killed) the VM fd release drops every pin', () => {
    const { host, vm } = smallVm({ mode: 'pin' });
    for (let g = 0; g < 20; g++) guestWrite(vm, DATA + g, 0, g);
    expect(host.outstandingGupRefs).toBeGreaterThan(20);
    const free = host.nrFreeFrames;
    host.mmput(vm.mm); // exit_mmap, then the files close
    expect(vm.stats.pinned_pages).toBe(0);
    expect(host.outstandingGupRefs).toBe(0);
    expect(host.nrFreeFrames).toBeGreaterThan(free + 20); // the pinned frames really came back
    host.checkInvariants();
  });

  it('none: reclaimed frames stay mapped, get reused, and the detector and the data both show it', () => {
    const { host, vm } = smallVm({ frames: 96, swapPages: 512, mode: 'none' });
    // In none mode the host never learns which pages the guest uses, so it reclaims the oldest
    // first. Write the data pages from the host before the guest's code page exists, so they are
    // older: this reclaim takes data, and the guest lives to read it back.
    for (let g = 0; g < 40; g++) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, 0x3000 + g, true);
      host.accessUser(vm.mm, vm.hva + (DATA + g) * 4096 + 8, b, true);
    }
    for (let g = 0; g < 40; g++) expect(guestRead(vm, DATA + g, 8)).toBe(0x3000 + g); // sptes made
    host.reclaim(24);
    expect(host.stats.swapOuts).toBeGreaterThan(0);
    expect(host.stats.swapIns).toBe(0);
    // Another process reuses the freed frames.
    const other = host.createMm();
    const a = host.mmap(other, 40 * 4096, PROT_READ | PROT_WRITE, 0x22);
    host.accessUser(other, a, new Uint8Array(40 * 4096).fill(0x5a), true);
    let foreign = 0;
    for (let g = 0; g < 40; g++) if (guestRead(vm, DATA + g, 8) === 0x5a5a5a5a) foreign++;
    expect(foreign).toBe(host.stats.swapOuts); // every swapped-out page now shows the other process's bytes
    expect(vm.stats.stale_accesses).toBeGreaterThanOrEqual(foreign);
  });

  it('none: without that help the guest runs into its own recycled code', () => {
    const { host, vm } = smallVm({ frames: 96, swapPages: 512, mode: 'none' });
    for (let g = 0; g < 40; g++) guestWrite(vm, DATA + g, 8, 0x3000 + g);
    host.reclaim(64);
    const other = host.createMm();
    const a = host.mmap(other, 40 * 4096, PROT_READ | PROT_WRITE, 0x22);
    host.accessUser(other, a, new Uint8Array(40 * 4096).fill(0x5a), true);
    expect(() => {
      for (let g = 0; g < 40; g++) guestRead(vm, DATA + g, 8);
    }).toThrow(/triple fault/);
    expect(vm.stats.stale_accesses).toBeGreaterThan(0);
  });
});

describe('invariant 9: accessed bits and aging', () => {
  it('clear_young reports and clears spte A bits; test_young never changes state', () => {
    const { vm } = smallVm();
    guestWrite(vm, DATA, 0, 1);
    const hva = vm.hva + DATA * 4096;
    expect(mmuNotifierTestYoung(vm.mm, hva)).toBe(true);
    expect(mmuNotifierTestYoung(vm.mm, hva)).toBe(true);
    expect(mmuNotifierClearYoung(vm.mm, hva, hva + 4096)).toBe(true);
    expect(mmuNotifierTestYoung(vm.mm, hva)).toBe(false);
    expect(mmuNotifierClearYoung(vm.mm, hva, hva + 4096)).toBe(false);
    // clear_young does not flush: a cached translation hides the access until the TLB goes.
    vm.flushRemoteTlbs();
    guestRead(vm, DATA, 0);
    expect(mmuNotifierTestYoung(vm.mm, hva)).toBe(true);
  });

  it('a frame written through a writable spte is dirty before it can be reclaimed', () => {
    const { host, vm } = smallVm();
    guestWrite(vm, DATA, 0, 0x77);
    const f = host.frameAt(vm.mm, vm.hva + DATA * 4096);
    expect(host.ft.flags[f]! & 2).toBe(2); // PG_DIRTY
  });
});

describe('invariants 13 and 16: guest page tables, emulated writes, roots', () => {
  const PD_A = 3;
  const PD_B = 4;
  const PT0 = 1;
  function pagingOn(vm: Vm): void {
    const w = (gpa: number, v: number): void => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, v, true);
      vm.host.accessUser(vm.mm, vm.hva + gpa, b, true);
    };
    for (let i = 0; i < 128; i++) w(PT0 * 4096 + i * 4, (i << 12) | 3);
    w(PD_A * 4096, (PT0 << 12) | 3);
    w(PD_B * 4096, (PT0 << 12) | 3);
    driver(vm).setCr3(PD_A << 12);
    driver(vm).setCr0(0x80010011);
  }

  it('guest writes to a shadowed page table are emulated once and drop the derived sptes', () => {
    const { vm } = smallVm();
    pagingOn(vm);
    guestWrite(vm, DATA, 0, 5); // identity mapped through PT0
    expect(spteFor(vm, DATA * 4096) & 1).toBe(1);
    expect(vm.mmu.isWriteTracked(PT0)).toBe(true);
    // Remap linear DATA page to gfn DATA+1 by writing PT0's entry (a tracked page).
    const writes = vm.stats.mmu_pte_write;
    driver(vm).storeInvlpg(PT0 * 4096 + DATA * 4, ((DATA + 1) << 12) | 3, DATA * 4096);
    expect(vm.stats.mmu_pte_write).toBe(writes + 1);
    expect(spteFor(vm, DATA * 4096) & 1).toBe(0);
    guestWrite(vm, DATA + 1, 0, 9);
    expect(guestRead(vm, DATA, 0)).toBe(9); // linear DATA now shows gfn DATA+1
    checkVmInvariants(vm);
  });

  it('a recursive page-directory entry (the directory as its own page table) stays coherent', () => {
    const { vm } = smallVm();
    pagingOn(vm);
    const d = driver(vm);
    // PDE 1023 -> the directory itself: linear 0xFFC00000 + 4*i shows PDE... as PTEs, and
    // 0xFFFFF000 shows the directory. The same guest page is shadowed at both levels.
    d.storeInvlpg(PD_A * 4096 + 1023 * 4, (PD_A << 12) | 3, 0xfffff000);
    const SELF = 0xfffff000;
    expect(d.load(SELF) >>> 0).toBe(((PT0 << 12) | 3 | 0x20) >>> 0); // PDE 0, A set by the walks
    // Through the window at 0xFFC00000 (PDE 0's table = PT0), PTE for DATA:
    const pteAddr = 0xffc00000 + DATA * 4;
    expect((d.load(pteAddr) & ~0x60) >>> 0).toBe(((DATA << 12) | 3) >>> 0);
    guestWrite(vm, DATA + 2, 0, 77);
    // Remap DATA -> DATA+2 through the recursive window, flush, and read it back.
    d.storeInvlpg(pteAddr, ((DATA + 2) << 12) | 3, DATA * 4096);
    expect(guestRead(vm, DATA, 0)).toBe(77);
    // Map a new PDE through the self-map: linear 0x00400000 -> PT at gfn 8 (identity of 64..).
    for (let i = 0; i < 4; i++) guestWrite(vm, 8, i * 4, ((64 + i) << 12) | 3);
    d.storeInvlpg(SELF + 4, (8 << 12) | 3, 0x00400000);
    guestWrite(vm, 65, 0, 4242);
    expect(d.load(0x00401000)).toBe(4242);
    // Repoint that PDE at another table (gfn 9: linear 0x00401000 -> gfn 70): the old link must go.
    for (let i = 0; i < 4; i++) guestWrite(vm, 9, i * 4, ((69 + i) << 12) | 3);
    guestWrite(vm, 70, 0, 5151);
    d.storeInvlpg(SELF + 4, (9 << 12) | 3, 0x00401000);
    expect(d.load(0x00401000)).toBe(5151);
    checkVmInvariants(vm);
    expect(vm.mmu.isWriteTracked(PD_A)).toBe(true);
    checkVmInvariants(vm);
  });

  it('three emulated writes to a page directory without a walk in between zap its shadow page', () => {
    const { vm } = smallVm();
    pagingOn(vm);
    guestWrite(vm, DATA, 0, 1);
    const flooded = vm.stats.mmu_flooded;
    // PDE 5..7 of the current directory: never walked, so writes keep counting.
    driver(vm).store3(PD_A * 4096 + 20, 0);
    expect(vm.stats.mmu_flooded).toBeGreaterThan(flooded);
    expect(guestRead(vm, DATA, 0)).toBe(1);
    checkVmInvariants(vm);
  });

  it('CR3 switches reuse cached roots for the same directory', () => {
    const { vm } = smallVm();
    pagingOn(vm);
    guestRead(vm, DATA, 0);
    driver(vm).setCr3(PD_B << 12);
    guestRead(vm, DATA, 0);
    const misses = vm.stats.mmu_cache_miss;
    const rootA = vm.vcpus[0]!.vmmu.prevRoots[0];
    expect(rootA?.gfn).toBe(PD_A);
    driver(vm).setCr3(PD_A << 12);
    expect(vm.vcpus[0]!.vmmu.root).toBe(rootA);
    guestRead(vm, DATA, 0);
    expect(vm.stats.mmu_cache_miss).toBe(misses);
    checkVmInvariants(vm);
  });
});

describe('invariants 17-20: host operations on the VM process', () => {
  it('17: exit_mmap runs release before freeing; later invalidations do not reach KVM', () => {
    const { host, vm } = smallVm();
    for (let g = 0; g < 10; g++) guestWrite(vm, DATA + g, 0, g);
    expect(vm.stats.sptes_present).toBeGreaterThan(0);
    const releasedAt: number[] = [];
    const freedBefore = host.stats.framesFreed;
    const origRelease = vm.notifier!.ops.release!;
    vm.notifier!.ops.release = (sub, mm) => {
      releasedAt.push(host.stats.framesFreed);
      origRelease(sub, mm);
    };
    host.mmput(vm.mm);
    expect(releasedAt).toEqual([freedBefore]);
    expect(vm.stats.sptes_present).toBe(0);
    expect(vm.notifier!.hashed).toBe(false);
    expect(vm.stats.notifier_calls['invalidate_range_start:UNMAP'] ?? 0).toBe(0);
    vm.destroy();
    host.checkInvariants();
  });

  it('18: after fork the child keeps the pre-fork bytes; guest writes COW in the parent', () => {
    const { host, vm } = smallVm();
    guestWrite(vm, DATA, 0, 111);
    const child = host.fork(vm.mm);
    expect(child.notifierSubscriptions?.list.length ?? 0).toBe(0);
    expect(spteFor(vm, DATA * 4096) & 2).toBe(0); // parent spte write-protected or zapped
    guestWrite(vm, DATA, 0, 222);
    expect(host.stats.cowBreaks + host.stats.cowReuses).toBeGreaterThan(0);
    const b = new Uint8Array(4);
    host.accessUser(child, vm.hva + DATA * 4096, b, false);
    expect(new DataView(b.buffer).getInt32(0, true)).toBe(111);
    expect(hostRead(vm, DATA, 0)).toBe(222);
    checkVmInvariants(vm);
    host.mmput(child);
    host.checkInvariants();
  });

  it('19: KSM merges identical guest pages; reads see the bytes, a write COWs only one', () => {
    const { host, vm } = smallVm({ ksm: true });
    for (const g of [DATA, DATA + 1]) for (let off = 0; off < 4096; off += 1024) guestWrite(vm, g, off, 0x4b534d);
    for (let i = 0; i < 8 && host.stats.ksmMerges === 0; i++) host.ksmdStep(512);
    expect(host.stats.ksmMerges).toBeGreaterThan(0);
    expect(host.frameAt(vm.mm, vm.hva + DATA * 4096)).toBe(host.frameAt(vm.mm, vm.hva + (DATA + 1) * 4096));
    checkVmInvariants(vm);
    expect(guestRead(vm, DATA, 1024)).toBe(0x4b534d);
    guestWrite(vm, DATA, 1024, 7);
    expect(guestRead(vm, DATA, 1024)).toBe(7);
    expect(guestRead(vm, DATA + 1, 1024)).toBe(0x4b534d);
    checkVmInvariants(vm);
    host.checkInvariants();
  });

  it('20: mprotect(RO) makes guest writes fail with memory unchanged; RW makes them work again', () => {
    const { host, vm } = smallVm();
    guestWrite(vm, DATA, 0, 1);
    host.mprotect(vm.mm, vm.hva + DATA * 4096, 4096, PROT_READ);
    expect(spteFor(vm, DATA * 4096) & 2).toBe(0);
    expect(guestRead(vm, DATA, 0)).toBe(1);
    expect(driver(vm).storeExpectEfault(DATA * 4096, 2)).toBe(true);
    expect(hostRead(vm, DATA, 0)).toBe(1);
    host.mprotect(vm.mm, vm.hva + DATA * 4096, 4096, PROT_READ | PROT_WRITE);
    guestWrite(vm, DATA, 0, 3);
    expect(guestRead(vm, DATA, 0)).toBe(3);
    checkVmInvariants(vm);
  });

  it('20: after MADV_DONTNEED the guest reads zeros; after munmap it cannot reach the range', () => {
    const { host, vm } = smallVm();
    guestWrite(vm, DATA, 0, 42);
    host.madvise(vm.mm, vm.hva + DATA * 4096, 4096, MADV_DONTNEED);
    expect(guestRead(vm, DATA, 0)).toBe(0);
    guestWrite(vm, DATA + 1, 0, 43);
    host.munmap(vm.mm, vm.hva + (DATA + 1) * 4096, 4096);
    expect(spteFor(vm, (DATA + 1) * 4096) & 1).toBe(0);
    expect(driver(vm).loadExpectEfault((DATA + 1) * 4096)).toBe(true);
    checkVmInvariants(vm);
    host.checkInvariants();
  });
});

describe('invariant 21: change_pte is optional', () => {
  // Three ways of living with change_pte, and the guest must not be able to tell them apart:
  //   noop     Linux >= 6.10 KVM: change_pte ignored (start already zapped the spte);
  //   update   KVM 2012-2024: change_pte handled inside start/end, where there is nothing left;
  //   in-place the 2009 flow (host.changePteOutsideInvalidate + KVM's changePteInPlace): KSM's
  //            write_protect_page / replace_page and the COW break call change_pte alone, and
  //            KVM re-points the live spte to the new frame instead of zapping it.
  // Only the last reaches the update branch; it must run there (sptes re-pointed, not zapped,
  // and fewer refaults) and still give the same guest-visible results.
  type Flavour = 'noop' | 'update' | 'in-place';
  const MERGED = 6;

  function scenario(flavour: Flavour): { visible: string; spteFramesAfterMerge: number[]; hostFrames: number[]; faults: number } {
    const { host, vm } = smallVm({ ksm: true, changePte: flavour === 'noop' ? 'noop' : 'update' });
    if (flavour === 'in-place') {
      host.changePteOutsideInvalidate = true;
      vm.inject.changePteInPlace = true;
    }
    const seen: number[] = [];
    // Pairs of identical pages (0 0 1 1 ...), each mapped by a live spte when ksmd merges them.
    for (let g = 0; g < MERGED; g++) guestWrite(vm, DATA + g, 0, g >> 1);
    for (let g = 0; g < MERGED; g++) seen.push(guestRead(vm, DATA + g, 0));
    for (let i = 0; i < 4; i++) host.ksmdStep(512);
    const spteFramesAfterMerge: number[] = [];
    const hostFrames: number[] = [];
    for (let g = 0; g < MERGED; g++) {
      const spte = spteFor(vm, (DATA + g) * 4096);
      spteFramesAfterMerge.push(spte & 1 ? spte >>> 12 : -1);
      hostFrames.push(host.frameAt(vm.mm, vm.hva + (DATA + g) * 4096));
    }
    checkVmInvariants(vm);
    const faults0 = vm.stats.pf_fixed;
    for (let g = 0; g < MERGED; g++) seen.push(guestRead(vm, DATA + g, 0)); // reads of KSM pages
    // Writes break the sharing (COW); a fork write-protects everything again.
    const child = host.fork(vm.mm);
    for (let g = 0; g < MERGED; g++) {
      guestWrite(vm, DATA + g, 4, g * 3);
      seen.push(guestRead(vm, DATA + g, 0), guestRead(vm, DATA + g, 4));
    }
    host.mmput(child);
    for (let g = 0; g < MERGED; g++) seen.push(hostRead(vm, DATA + g, 0), hostRead(vm, DATA + g, 4));
    checkVmInvariants(vm);
    host.checkInvariants();
    const visible = JSON.stringify({ seen, merges: host.stats.ksmMerges, cow: host.stats.cowBreaks, stale: vm.stats.stale_accesses });
    return { visible, spteFramesAfterMerge, hostFrames, faults: vm.stats.pf_fixed - faults0 };
  }

  it('no-op, update inside start/end, and in-place update outside give the same guest-visible results', () => {
    const noop = scenario('noop');
    const update = scenario('update');
    const inPlace = scenario('in-place');
    expect(JSON.parse(noop.visible).merges).toBeGreaterThanOrEqual(MERGED / 2);
    expect(JSON.parse(noop.visible).stale).toBe(0);
    expect(update.visible).toBe(noop.visible);
    expect(inPlace.visible).toBe(noop.visible);
    // Modern flows: the merge zapped every merged page's spte (the guest refaults on next use).
    expect(noop.spteFramesAfterMerge).toEqual(Array(MERGED).fill(-1));
    expect(update.spteFramesAfterMerge).toEqual(Array(MERGED).fill(-1));
    // In place: every spte was re-pointed to the host's new (KSM) frame, so no refault.
    expect(inPlace.spteFramesAfterMerge).toEqual(inPlace.hostFrames);
    expect(new Set(inPlace.hostFrames).size).toBe(MERGED / 2);
    expect(inPlace.faults).toBeLessThan(noop.faults);
  });
});
