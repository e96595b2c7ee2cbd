// Frames leave a process only after its secondary TLBs were told: a subscriber that keeps a
// translation cache and implements nothing but ->invalidate_range (an IOMMU's secondary TLB, the
// 4.x op called from invalidate_range_end) must still find every frame it caches allocated, with
// the generation it cached, when that call arrives. That is mmu_gather's order: clear the ptes,
// end the invalidation (flush the secondary TLBs), and only then free the pages
// (tlb_finish_mmu); exit_mmap tells them in ->release first; reclaim, COW and KSM free the old
// page after their end as well.

import { describe, expect, test } from 'vitest';
import { MADV_DONTNEED, MADV_MERGEABLE, PAGE_SHIFT, PAGE_SIZE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import { MmuNotifier, mmuNotifierRegister } from '../../src/host/mmu-notifier.js';
import { fill, pattern, PRIV, RW } from './helpers.js';

/** A secondary TLB that caches (frame, generation) per page and is flushed only by invalidate_range. */
class SecondaryTlb {
  readonly cache = new Map<number, { frame: number; gen: number }>();
  readonly violations: string[] = [];
  flushes = 0;
  constructor(readonly h: Host, readonly mm: Mm) {
    expect(mmuNotifierRegister(new MmuNotifier({
      invalidateRange: (_s, _mm, start, end) => this.flush(start, end, 'invalidate_range'),
      // exit_mmap: the IOMMU driver flushes everything in ->release, before the unmap.
      release: () => this.flush(0, Number.MAX_SAFE_INTEGER, 'release'),
    }), mm)).toBe(0);
  }
  private flush(start: number, end: number, op: string): void {
    this.flushes++;
    for (const [vpn, e] of this.cache) {
      const addr = vpn << PAGE_SHIFT;
      if (addr < start || addr >= end) continue;
      if (this.h.frameGen[e.frame] !== e.gen) this.violations.push(`frame ${e.frame} at 0x${addr.toString(16)} freed before ${op}`);
      this.cache.delete(vpn);
    }
  }
  /** The device translates every present page of [a, a + n pages) (like an ATS request). */
  load(a: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const f = this.h.frameAt(this.mm, a + i * PAGE_SIZE);
      if (f >= 0) this.cache.set((a >>> PAGE_SHIFT) + i, { frame: f, gen: this.h.frameGen[f]! });
    }
  }
}

function world(frames = 64): { h: Host; mm: Mm; a: number; tlb: SecondaryTlb } {
  const h = new Host({ frames, swapPages: 256, seed: 4 });
  const mm = h.createMm();
  const a = h.mmap(mm, 16 * PAGE_SIZE, RW, PRIV);
  fill(h, mm, a, 16, 300);
  const tlb = new SecondaryTlb(h, mm);
  tlb.load(a, 16);
  return { h, mm, a, tlb };
}

describe('pages are freed only after the secondary TLBs were flushed', () => {
  test('MADV_DONTNEED and munmap', () => {
    const { h, mm, a, tlb } = world();
    const freed = h.stats.framesFreed;
    h.madvise(mm, a, 4 * PAGE_SIZE, MADV_DONTNEED);
    h.munmap(mm, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE);
    expect(h.stats.framesFreed - freed).toBe(8);
    expect(tlb.cache.size).toBe(8);
    expect(tlb.violations).toEqual([]);
    h.checkInvariants();
  });

  test('exit_mmap', () => {
    const { h, mm, tlb } = world();
    expect(tlb.cache.size).toBe(16);
    h.mmput(mm);
    expect(tlb.cache.size).toBe(0);
    expect(tlb.violations).toEqual([]);
    h.checkInvariants();
  });

  test('reclaim, a COW break after fork, and a KSM merge', () => {
    const { h, mm, a, tlb } = world(40);
    h.reclaim(8);
    expect(h.stats.swapOuts).toBeGreaterThan(0);
    tlb.load(a, 16);
    const child = h.fork(mm);
    tlb.load(a, 16);
    h.mmput(child); // the parent's pages are its own again, but write-protected: a write COWs
    const cows = h.stats.cowBreaks;
    const child2 = h.fork(mm);
    tlb.load(a, 16);
    h.accessUser(mm, a + 9 * PAGE_SIZE, pattern(1), true);
    expect(h.stats.cowBreaks).toBeGreaterThan(cows);
    h.mmput(child2);
    h.accessUser(mm, a + 10 * PAGE_SIZE, pattern(77), true);
    h.accessUser(mm, a + 11 * PAGE_SIZE, pattern(77), true);
    h.madvise(mm, a, 16 * PAGE_SIZE, MADV_MERGEABLE);
    tlb.load(a, 16);
    for (let i = 0; i < 6; i++) h.ksmdStep(32);
    expect(h.stats.ksmMerges).toBeGreaterThan(0);
    expect(tlb.violations).toEqual([]);
    h.checkInvariants();
  });
});
