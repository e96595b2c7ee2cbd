// The TDP MMU (hv/tdp, `--mmu tdp`) against its contract: the notifier zaps a gpa->hpa leaf
// before the host can free its frame, the fault path's retry check holds under TDP too, a guest
// never reaches memory outside its memslots through the 2-D walk, the stale detector reports
// what `none` mode lets through, and the walk's memory references per TLB miss are exactly the
// hand-computed (n+1)*(m+1)-1.

import { describe, expect, it } from 'vitest';
import { MADV_DONTNEED } from '../../src/host/constants.js';
import { checkVmInvariants, InvariantError } from '../../src/hv/check.js';
import { FAULT_FIXED, FAULT_RETRY, YIELD_AFTER_GUP, YIELD_AFTER_SEQ, YIELD_BEFORE_LOCK, type FaultResult } from '../../src/hv/shadow/page-fault.js';
import { tdpPageFault } from '../../src/hv/tdp/tdp-fault.js';
import type { Vm } from '../../src/hv/vm.js';
import { ACC_WRITE, XLATE_OK } from '../../src/cpu/ports.js';
import { EXIT_SIGNAL } from '../../src/cpu/cpu.js';
import { CR0_PG, CR0_PE, CR4_PSE, NativeMmu, PTE_P, PTE_PS, PTE_RW } from '../../src/cpu/paging.js';
import { CODE_GPA, GuestDriver, identityPaging } from './guest-driver.js';
import { smallVm, touch } from './helpers.js';
import { TLB_MASK } from '../../src/cpu/tlb.js';

const GFN = 5;

function tdpFault(vm: Vm, gfn: number, write = false): { gen: Generator<string, number, void>; out: FaultResult } {
  const v = vm.vcpus[0]!;
  const out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
  v.cpu.exitLin = gfn * 4096;
  return { gen: tdpPageFault(vm, v.cpu, v.tdpMmu!, gfn, write, out), out };
}

function finish(gen: Generator<string, number, void>): number {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

function tdpVm(opts: Parameters<typeof smallVm>[0] = {}): ReturnType<typeof smallVm> {
  return smallVm({ mmu: 'tdp', ...opts });
}


describe('TDP: invalidation zaps the gpa->hpa leaf before the host frees the frame', () => {
  for (const how of ['swap-out', 'MADV_DONTNEED'] as const) {
    it(`${how}: no leaf and no TLB entry for the gfn once invalidate_range_start returns`, () => {
      const { host, vm } = tdpVm({ frames: 512 });
      const driver = new GuestDriver(vm);
      touch(vm, GFN, 0x5a);
      expect(driver.load(GFN * 4096) & 0xff).toBe(0x5a); // paging off: gva = gpa
      const tdp = vm.tdp!;
      expect(tdp.entry(GFN) & 1).toBe(1);
      const frame = host.frameAt(vm.mm, vm.hva + GFN * 4096);
      const genBefore = host.frameGen[frame]!;
      let checked = 0;
      host.onPreempt = (label, _mm, start, end) => {
        if (label !== 'after-start' || vm.hva + GFN * 4096 < start || vm.hva + GFN * 4096 >= end) return;
        checked++;
        // The window is open: the frame is still the host's, and KVM no longer maps it.
        expect(host.frameGen[frame]).toBe(genBefore);
        expect(tdp.entry(GFN) & 1).toBe(0);
        const tlb = vm.vcpus[0]!.cpu.tlb;
        for (let i = 0; i < tlb.off.length; i++) if (tlb.tagSR[i] !== -1) expect(tlb.off[i]! >>> 12).not.toBe(frame);
      };
      if (how === 'MADV_DONTNEED') host.madvise(vm.mm, vm.hva + GFN * 4096, 4096, MADV_DONTNEED);
      else while (host.frameAt(vm.mm, vm.hva + GFN * 4096) >= 0 && host.reclaim(64) > 0);
      host.onPreempt = null;
      expect(checked).toBeGreaterThan(0);
      expect(host.frameAt(vm.mm, vm.hva + GFN * 4096)).toBe(-1);
      expect(vm.stats.sptes_zapped_by_invalidation).toBeGreaterThan(0);
      checkVmInvariants(vm);
      // The guest sees its data again (swap-in) or zeros (DONTNEED), through a fresh leaf.
      expect(driver.load(GFN * 4096) & 0xff).toBe(how === 'swap-out' ? 0x5a : 0);
      expect(vm.stats.stale_accesses).toBe(0);
      checkVmInvariants(vm);
    });
  }

  it('without the zap (injected bug) the guest reads a freed frame: the checker and the detector both see it', () => {
    const { host, vm } = tdpVm({ frames: 512 });
    const driver = new GuestDriver(vm);
    touch(vm, GFN, 0x5a);
    driver.load(GFN * 4096);
    vm.inject.noZapInStart = true;
    host.madvise(vm.mm, vm.hva + GFN * 4096, 4096, MADV_DONTNEED);
    expect(() => checkVmInvariants(vm)).toThrow(InvariantError);
    driver.load(GFN * 4096);
    expect(vm.stats.stale_accesses).toBeGreaterThan(0);
  });
});

describe('TDP: the fault path retry check (reference/kvm-mmu.md §1.6)', () => {
  it('an invalidation between gup and mmu_lock makes the TDP fault retry, leave no leaf and drop its reference', () => {
    const { host, vm } = tdpVm();
    touch(vm, GFN);
    const { gen } = tdpFault(vm, GFN);
    expect(gen.next().value).toBe(YIELD_AFTER_SEQ);
    expect(gen.next().value).toBe(YIELD_AFTER_GUP);
    const hva = vm.hva + GFN * 4096;
    const p = host.frameAt(vm.mm, hva);
    const genBefore = host.frameGen[p]!;
    host.madvise(vm.mm, hva, 4096, MADV_DONTNEED);
    expect(gen.next().value).toBe(YIELD_BEFORE_LOCK);
    const r = gen.next();
    expect(r.done && r.value).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_seq).toBe(1);
    expect(vm.tdp!.entry(GFN) & 1).toBe(0);
    expect(host.frameGen[p]).not.toBe(genBefore); // our reference was the last: freed
    checkVmInvariants(vm);
    host.checkInvariants();
    expect(finish(tdpFault(vm, GFN).gen)).toBe(FAULT_FIXED);
    expect(vm.tdp!.entry(GFN) >>> 12).toBe(host.frameAt(vm.mm, hva));
    checkVmInvariants(vm);
  });

  it('a fault reaching mmu_lock inside start..end retries on the in-progress range', () => {
    const { host, vm } = tdpVm();
    touch(vm, GFN);
    const { gen } = tdpFault(vm, GFN, true);
    gen.next();
    gen.next();
    let result = -1;
    host.onPreempt = (label) => {
      if (label !== 'after-clear' || result !== -1) return;
      gen.next();
      const r = gen.next();
      result = r.done ? r.value : -2;
    };
    host.madvise(vm.mm, vm.hva + GFN * 4096, 4096, MADV_DONTNEED);
    host.onPreempt = null;
    expect(result).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_in_progress).toBe(1);
    expect(vm.tdp!.entry(GFN) & 1).toBe(0);
    checkVmInvariants(vm);
  });

  it('with the retry check removed (injected bug) the freed frame gets mapped and the checker catches it', () => {
    const { host, vm } = tdpVm();
    vm.inject.noRetryCheck = true;
    touch(vm, GFN);
    const { gen } = tdpFault(vm, GFN);
    gen.next();
    gen.next();
    host.madvise(vm.mm, vm.hva + GFN * 4096, 4096, MADV_DONTNEED);
    expect(finish(gen)).toBe(FAULT_FIXED);
    expect(() => checkVmInvariants(vm)).toThrow(/invariant (1|4)/);
  });
});

describe('TDP: a guest never reaches memory outside its memslots', () => {
  it('guest PTEs and CR3 pointing past guest RAM read all ones, drop writes and create no leaf', () => {
    const guestPages = 64;
    const { host, vm } = tdpVm({ guestPages, frames: 512 });
    const driver = new GuestDriver(vm);
    identityPaging(vm, driver);
    // gva 0x300000 -> gpa far beyond the 256 KiB of guest RAM; gva 0x301000 -> gpa just past it.
    const pt = 0x11000;
    vm.guestMem.writeGpa32(pt + 0x300 * 4, 0x7ff00000 | PTE_P | PTE_RW);
    vm.guestMem.writeGpa32(pt + 0x301 * 4, (guestPages << 12) | PTE_P | PTE_RW);
    // Every host frame's bytes before the guest tries.
    const before = host.ram.slice();
    for (const gva of [0x300000, 0x301000, 0x301ffc]) {
      driver.store(gva, 0x12345678);
      expect(driver.load(gva)).toBe(-1);
    }
    // A page directory entry pointing outside RAM: its "page table" reads as all ones.
    vm.guestMem.writeGpa32(0x10000 + 4 * 1, 0x40000000 | PTE_P | PTE_RW);
    driver.reloadCr3();
    expect(driver.load(0x400000)).toBe(-1);
    for (const [gfn] of vm.tdp!.presentLeaves()) expect(gfn).toBeLessThan(guestPages);
    // No frame other than the guest's own pages (and the host's page tables) changed.
    const own = new Set<number>();
    for (let g = 0; g < guestPages; g++) own.add(host.pageAt(vm.mm, vm.hva + g * 4096));
    for (let f = 0; f < host.ram.length / 4096; f++) {
      if (own.has(f)) continue;
      const a = host.ram.subarray(f * 4096, f * 4096 + 4096);
      const b = before.subarray(f * 4096, f * 4096 + 4096);
      if (!a.every((x, i) => x === b[i]) && vm.tdp!.entry(0) >>> 12 !== f) {
        // Only host-side structures may change; a guest store of 0x12345678 must not appear.
        const view = new DataView(a.buffer, a.byteOffset, 4096);
        for (let o = 0; o < 4096; o += 4) expect(view.getUint32(o, true)).not.toBe(0x12345678);
      }
    }
    checkVmInvariants(vm);
  });

  it('the fault path refuses a gfn with no memslot: it retries and installs nothing', () => {
    const { vm } = tdpVm({ guestPages: 64 });
    expect(finish(tdpFault(vm, 1000).gen)).toBe(FAULT_RETRY);
    expect(vm.tdp!.leaves).toBe(0);
  });
});

describe('TDP: the stale-access detector', () => {
  for (const mode of ['none', 'notifier'] as const) {
    it(`${mode} mode: a guest reading a page the host freed behind KVM is ${mode === 'none' ? 'reported' : 'impossible'}`, () => {
      const { host, vm } = tdpVm({ mode, frames: 512 });
      const driver = new GuestDriver(vm);
      touch(vm, GFN, 0x77);
      expect(driver.load(GFN * 4096) & 0xff).toBe(0x77);
      host.madvise(vm.mm, vm.hva + GFN * 4096, 4096, MADV_DONTNEED);
      // The freed frame is reused by someone else before the guest looks again.
      const other = host.createMm();
      const a = host.mmap(other, 64 * 4096, 3, 0x22);
      for (let i = 0; i < 64; i++) host.accessUser(other, a + i * 4096, new Uint8Array(16).fill(0xee), true);
      const v = driver.load(GFN * 4096) & 0xff;
      if (mode === 'none') {
        expect(vm.stats.stale_accesses).toBeGreaterThan(0);
        expect(vm.staleRecords[0]!.gfn).toBe(GFN);
      } else {
        expect(v).toBe(0);
        expect(vm.stats.stale_accesses).toBe(0);
        checkVmInvariants(vm);
      }
    });
  }

  it('pin mode: after the host copies the page on a write of its own, the guest keeps the old copy, reported', () => {
    const { host, vm } = tdpVm({ mode: 'pin', frames: 512 });
    const driver = new GuestDriver(vm);
    touch(vm, GFN, 1);
    expect(driver.load(GFN * 4096) & 0xff).toBe(1); // a pinned leaf
    const child = host.fork(vm.mm); // COW-shares the frame; the pin keeps it alive
    const pinned = host.frameAt(vm.mm, vm.hva + GFN * 4096);
    host.accessUser(vm.mm, vm.hva + GFN * 4096, new Uint8Array([9, 0, 0, 0]), true); // the VMM writes guest RAM
    expect(host.frameAt(vm.mm, vm.hva + GFN * 4096)).not.toBe(pinned);
    expect(vm.stats.stale_accesses).toBe(0);
    expect(driver.load(GFN * 4096) & 0xff).toBe(1); // the guest still reads its orphaned copy
    expect(vm.stats.stale_accesses).toBe(1);
    expect(vm.staleRecords[0]).toMatchObject({ gfn: GFN, frame: pinned, write: false });
    host.mmput(child);
  });

  it('none mode: a write through a leaf the host write-protected (KSM-like) is reported', () => {
    const { host, vm } = tdpVm({ mode: 'none', frames: 512 });
    const driver = new GuestDriver(vm);
    touch(vm, GFN, 1);
    driver.store(GFN * 4096, 2); // writable leaf, dirty
    host.mprotect(vm.mm, vm.hva + GFN * 4096, 4096, 1 /* PROT_READ */);
    driver.store(GFN * 4096, 3);
    expect(vm.stats.stale_accesses).toBeGreaterThan(0);
    expect(vm.staleRecords[0]!.write).toBe(true);
  });
});

describe('TDP: memory references per TLB miss, hand-computed', () => {
  // Guest: PD at gpa 0x10000 -> PT at 0x11000 -> data page 0x5000. A miss reads, in order:
  // TDP root + leaf for the PD's gfn (2), the PDE (1), TDP root + leaf for the PT's gfn (2), the
  // PTE (1), TDP root + leaf for the data gfn (2): 8 = (2+1)*(2+1)-1. Natively: PDE + PTE = 2.
  function setup(mmu: 'tdp' | 'native'): { vm: Vm; translate: (lin: number, acc?: number) => number; refs: () => number } {
    const { vm } = tdpVm({ frames: 512 });
    const driver = new GuestDriver(vm);
    identityPaging(vm, driver);
    // A 4 MiB page at gva 0x800000 -> gpa 0 (PSE).
    vm.guestMem.writeGpa32(0x10000 + 2 * 4, 0 | PTE_P | PTE_RW | PTE_PS);
    const cpu = vm.vcpus[0]!.cpu;
    cpu.cr4 |= CR4_PSE;
    const t = vm.vcpus[0]!.tdpMmu!;
    if (mmu === 'tdp') {
      return {
        vm,
        translate: (lin, acc = 0) => {
          try {
            return t.translate(cpu, lin, acc);
          } catch (e) {
            if (e !== EXIT_SIGNAL) throw e;
            return -1;
          }
        },
        refs: () => t.mmu.tdpStats.guestRefs + t.mmu.tdpStats.tdpRefs,
      };
    }
    // The same tables in a flat RAM image, walked by the native MMU.
    const ram = new Uint8Array(vm.memBytes);
    for (let g = 0; g < vm.memBytes / 4096; g++) {
      const f = vm.host.frameAt(vm.mm, vm.hva + g * 4096);
      if (f >= 0) ram.set(vm.host.ram.subarray(f * 4096, f * 4096 + 4096), g * 4096);
    }
    const nat = new NativeMmu(vm.memBytes);
    const fake = Object.assign(Object.create(Object.getPrototypeOf(cpu)) as typeof cpu, { mem: ram, cr0: cpu.cr0, cr3: cpu.cr3, cr4: cpu.cr4, tlb: cpu.tlb, frameGen: null, code: cpu.code });
    fake.invalidateCode = () => {};
    return { vm, translate: (lin, acc = 0) => nat.translate(fake, lin, acc), refs: () => nat.walker.refs };
  }

  it('a 4 KiB page: 8 references per miss under TDP once every leaf exists, 2 natively', () => {
    const tdp = setup('tdp');
    // Make every leaf exist first (the walk exits to KVM at each missing one).
    tdp.vm.vcpus[0]!.cpu.tlb.flushAll();
    new GuestDriver(tdp.vm).load(0x5000);
    tdp.vm.vcpus[0]!.cpu.tlb.flushAll();
    const r0 = tdp.refs();
    expect(tdp.translate(0x5000)).toBe(XLATE_OK);
    expect(tdp.refs() - r0).toBe(8);
    expect(tdp.vm.tdp!.tdpStats.maxRefsPerMiss).toBe(8);

    const nat = setup('native');
    const n0 = nat.refs();
    expect(nat.translate(0x5000)).toBe(XLATE_OK);
    expect(nat.refs() - n0).toBe(2);
  });

  it('a 4 MiB page: 5 (PDE 1 + its gfn 2 + the data gfn 2); paging off: 2 (the data gfn only)', () => {
    const tdp = setup('tdp');
    const d = new GuestDriver(tdp.vm);
    d.load(0x800000 + 0x3000);
    tdp.vm.vcpus[0]!.cpu.tlb.flushAll();
    let r0 = tdp.refs();
    expect(tdp.translate(0x800000 + 0x3000)).toBe(XLATE_OK);
    expect(tdp.refs() - r0).toBe(5);
    d.setCr0(CR0_PE | 0x10);
    tdp.vm.vcpus[0]!.cpu.tlb.flushAll();
    r0 = tdp.refs();
    expect(tdp.translate(0x3000)).toBe(XLATE_OK);
    expect(tdp.refs() - r0).toBe(2);
  });

  it('a cold gpa->hpa table: the walk stops at the first missing leaf (1 root ref) and exits to KVM for that gfn', () => {
    const { vm } = tdpVm({ frames: 512 });
    const t = vm.vcpus[0]!.tdpMmu!;
    const cpu = vm.vcpus[0]!.cpu;
    cpu.cr0 |= CR0_PG;
    cpu.cr3 = 0x10000;
    expect(() => t.translate(cpu, 0x5000, ACC_WRITE)).toThrow();
    expect(t.exitGfn).toBe(0x10);
    expect(t.exitWrite).toBe(false);
    expect(t.exitInWalk).toBe(true);
    expect(t.mmu.tdpStats.tdpRefs).toBe(1);
    expect(t.mmu.tdpStats.guestRefs).toBe(1);
    expect(CODE_GPA).toBeGreaterThan(0);
  });
});

describe('describeTranslation (for the gdb stub\'s monitor translate): one chain, either MMU', () => {
  it('shadow and tdp agree on gva -> gpa -> hva -> hpa; each names its own entry; nothing is faulted in', () => {
    const views = (['shadow', 'tdp'] as const).map((mmu) => {
      const { vm } = smallVm({ mmu, frames: 512 });
      const driver = new GuestDriver(vm);
      identityPaging(vm, driver);
      const pt = 0x11000;
      vm.guestMem.writeGpa32(pt + 0x40 * 4, (0x23 << 12) | PTE_P | PTE_RW); // gva 0x40000 -> gpa 0x23000
      driver.store(0x40010, 0x1234);
      const before = vm.stats.pf_taken;
      const v = vm.describeTranslation(0x40010);
      const cold = vm.describeTranslation(0x41000); // mapped by the guest, never touched
      expect(vm.stats.pf_taken).toBe(before);
      const frame = vm.host.frameAt(vm.mm, vm.hva + 0x23000);
      return { v, cold, frame, hva: vm.hva };
    });
    for (const { v, cold, frame, hva } of views) {
      expect(v.gpa).toBe(0x23010);
      expect(v.hva).toBe(hva + 0x23010);
      expect(v.hpa).toBe(frame * 4096 + 0x10);
      expect(v.entryFrame).toBe(frame);
      expect(v.text).toContain('gpa 0x23010');
      expect(cold.gpa).toBe(0x41000);
      expect(cold.entry).toBeNull();
    }
    expect(views[0]!.v.mmu).toBe('shadow');
    expect(views[0]!.v.text).toMatch(/spte \d+: frame \d+/);
    expect(views[1]!.v.mmu).toBe('tdp');
    expect(views[1]!.v.text).toMatch(/tdp leaf for gfn 0x23: frame \d+ W A D/);
  });
});

describe('front ends pass --mmu tdp through', () => {
  it('the web page\'s cell (#mmu=tdp) builds a tdp swap cell; a bad value is refused', async () => {
    const { webCellSpec, WEB_DEFAULTS } = await import('../../src/web/web-cell.js');
    const img = new Uint8Array(16);
    expect(webCellSpec({ ...WEB_DEFAULTS, mmu: 'tdp' }, img).mmu).toBe('tdp');
    expect(webCellSpec(WEB_DEFAULTS, img).mmu).toBeUndefined();
    expect(() => webCellSpec({ ...WEB_DEFAULTS, mmu: 'ept' as 'tdp' }, img)).toThrow(/mmu: expected shadow or tdp/);
  });
});

describe('TDP: roots keyed by the memslot layout (invariant 22)', () => {
  it('a slot added later becomes memory; deleting it retires the root, no leaf maps its gfns, and a fault in flight retries', () => {
    const { host, vm } = tdpVm({ frames: 512 });
    const g = new GuestDriver(vm);
    const EXTRA_GFN = 512;
    const hva = host.mmap(vm.mm, 16 * 4096, 3, 0x22);
    expect(g.load(EXTRA_GFN * 4096) >>> 0).toBe(0xffffffff);
    expect(vm.addMemslot(1, EXTRA_GFN, 16, hva)).toBe(true);
    g.store(EXTRA_GFN * 4096, 7);
    expect(g.load(EXTRA_GFN * 4096)).toBe(7);
    expect(vm.tdp!.entry(EXTRA_GFN) & 1).toBe(1);
    const rootBefore = vm.tdp!.rootGeneration;
    // A fault on RAM that sampled the old root: the layout changes before it takes mmu_lock.
    const { gen } = tdpFault(vm, GFN);
    gen.next();
    gen.next();
    expect(vm.deleteMemslot(1)).toBe(true);
    expect(vm.tdp!.rootGeneration).toBe(rootBefore + 1);
    expect(finish(gen)).toBe(FAULT_RETRY);
    expect(vm.stats.pf_retry_memslot).toBe(1);
    expect(vm.tdp!.leaves).toBe(0);
    checkVmInvariants(vm);
    expect(g.load(EXTRA_GFN * 4096) >>> 0).toBe(0xffffffff);
    g.store(16 * 4096, 3);
    expect(g.load(16 * 4096)).toBe(3);
    checkVmInvariants(vm);
  });
});

describe('TDP: the TLB bookkeeping names only what the TLB holds', () => {
  // With CR0.WP=0 a supervisor write to a read-only page is done once and never cached. The
  // record of which gfn each TLB slot holds (invariant 2, stale-access reports) must not take
  // that write's gfn: the slot still holds whatever it held (here the driver's code page, whose
  // linear page shares the slot).
  it('a CR0.WP=0 write to a read-only page leaves the record of its TLB slot alone', () => {
    const { vm } = tdpVm();
    const driver = new GuestDriver(vm);
    identityPaging(vm, driver);
    const pd = 0x10000;
    const pt2 = 0x12000;
    const lin = 0x1000000 + CODE_GPA; // PDE 4; the same TLB slot as the code page at CODE_GPA
    expect((lin >>> 12) & TLB_MASK).toBe((CODE_GPA >>> 12) & TLB_MASK);
    vm.guestMem.writeGpa32(pt2 + ((lin >>> 12) & 1023) * 4, 0x30000 | PTE_P); // read-only
    vm.guestMem.writeGpa32(pd + (lin >>> 22) * 4, pt2 | PTE_P | PTE_RW);
    driver.setCr0(CR0_PE | 0x10); // paging off and on again: a clean TLB, WP clear
    driver.setCr0(CR0_PG | CR0_PE | 0x10);
    driver.store(lin, 0x1234); // supervisor write, WP=0: allowed, not cached
    expect(vm.guestMem.readGpa32(0x30000)).toBe(0x1234);
    checkVmInvariants(vm);
  });
});
