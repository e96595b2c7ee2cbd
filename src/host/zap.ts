// Tearing mappings down: munmap (UNMAP), MADV_DONTNEED (CLEAR) and exit_mmap (RELEASE first,
// then UNMAP of everything). Pages are gathered while ptes are cleared and freed only after
// invalidate_range_end, as mmu_gather / tlb_finish_mmu do. Mirrors mm/memory.c
// unmap_vmas / zap_page_range_single / zap_pte_range, mm/mmap.c do_vmi_munmap and exit_mmap.

import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_UNMAP, PAGE_SHIFT, TASK_SIZE } from './constants.js';
import { PG_LOCKED } from './frames.js';
import type { Host } from './host.js';
import { mmdrop, type Mm } from './mm.js';
import { mmuNotifierRelease, type MmuNotifierRange } from './mmu-notifier.js';
import { pteIsSwap, ptePresent, pteSwapSlot } from './page-table.js';
import { mergeAdjacent, splitAt, type Vma } from './vma.js';
import { PP_AFTER_CLEAR, PP_AFTER_RELEASE, PP_AFTER_START, PP_BEFORE_END, PP_BEFORE_FREE } from './preempt-points.js';

/** zap_pte_range over [start, end): present ptes are cleared into `gather` (their references
 *  are dropped by the caller after E); swap ptes drop their swap count right away. */
export function zapPtes(h: Host, mm: Mm, start: number, end: number, gather: number[]): void {
  const vpns: number[] = [];
  mm.pt.forEach(start >>> PAGE_SHIFT, end >>> PAGE_SHIFT, (vpn) => { vpns.push(vpn); });
  for (const vpn of vpns) {
    const pte = mm.pt.get(vpn);
    if (ptePresent(pte)) {
      gather.push(h.unmapPte(mm, vpn));
    } else if (pteIsSwap(pte)) {
      const slot = pteSwapSlot(pte);
      mm.pt.set(vpn, 0);
      h.swap.count[slot]--;
      mm.swapEnts--;
      freeSwapAndCache(h, slot);
    }
  }
}

/** free_swap_and_cache: once no swap pte refers to the slot, an unmapped, unlocked swap-cache
 *  page is dropped too, and the slot is freed. */
export function freeSwapAndCache(h: Host, slot: number): void {
  if (h.swap.count[slot] !== 0) return;
  const f = h.swap.cache[slot];
  if (f >= 0) {
    if (h.ft.mapcount[f] !== 0 || (h.ft.flags[f] & PG_LOCKED) !== 0) return;
    h.tryFreeSwap(f);
  } else {
    h.swap.maybeFree(slot);
  }
}

function releaseVma(h: Host, v: Vma): void {
  const shmem = v.shmem;
  if (shmem === null || --shmem.mapCount > 0) return;
  // Last mapping of the shmem object: its page cache goes away.
  for (let i = 0; i < shmem.nrPages; i++) {
    const f = shmem.pages[i];
    if (f >= 0) {
      shmem.pages[i] = -1;
      h.putFrame(f);
    }
  }
}

function unmapRange(h: Host, mm: Mm, start: number, end: number, event: number): void {
  const range: MmuNotifierRange = { mm, start, end, event, blockable: true };
  const gather: number[] = [];
  h.notifyStart(range);
  h.preempt(PP_AFTER_START, mm, start, end);
  zapPtes(h, mm, start, end, gather);
  h.preempt(PP_AFTER_CLEAR, mm, start, end);
  h.preempt(PP_BEFORE_END, mm, start, end);
  h.notifyEnd(range);
  h.preempt(PP_BEFORE_FREE, mm, start, end);
  // tlb_finish_mmu -> free_pages_and_swap_cache: frees after E; an unmapped swap-cache page
  // whose slot no pte needs any more leaves the swap cache too.
  for (const f of gather) {
    if (h.ft.mapcount[f] === 0 && (h.ft.flags[f] & PG_LOCKED) === 0) h.tryFreeSwap(f);
    h.putFrame(f);
  }
}

/**
 * The OOM reaper's unmap (__oom_reap_task_mm): the private anonymous memory of a killed mm is torn
 * down at once, before the victim gets to exit_mmap, through *non-blockable* notifier ranges. A
 * subscriber that would have to sleep answers -EAGAIN; the reaper then leaves that vma alone and
 * calls no invalidate_range_end for it (seed 001: "On -EAGAIN the non-blocking caller is not
 * allowed to call invalidate_range_end()"); exit_mmap frees it later. Returns the vmas skipped.
 */
export function oomReap(h: Host, mm: Mm): number {
  if (mm.dead) return 0;
  let skipped = 0;
  mm.busy++;
  try {
    for (const v of mm.vmas.slice()) {
      if (v.shared || v.shmem !== null) continue; // only private anonymous memory is reaped
      const range: MmuNotifierRange = { mm, start: v.start, end: v.end, event: MMU_NOTIFY_UNMAP, blockable: false };
      if (h.notifyStart(range) !== 0) {
        skipped++;
        h.stats.oomReapSkipped++;
        continue;
      }
      const gather: number[] = [];
      h.preempt(PP_AFTER_START, mm, v.start, v.end);
      zapPtes(h, mm, v.start, v.end, gather);
      h.preempt(PP_AFTER_CLEAR, mm, v.start, v.end);
      h.notifyEnd(range);
      h.preempt(PP_BEFORE_FREE, mm, v.start, v.end);
      for (const f of gather) {
        if (h.ft.mapcount[f] === 0 && (h.ft.flags[f] & PG_LOCKED) === 0) h.tryFreeSwap(f);
        h.putFrame(f);
        h.stats.oomReapedPages++;
      }
    }
  } finally {
    mm.busy--;
  }
  return skipped;
}

export function doMunmap(h: Host, mm: Mm, start: number, end: number): void {
  if (end <= start) return;
  mm.busy++;
  try {
    splitAt(mm.vmas, start);
    splitAt(mm.vmas, end);
    // Detach first: a fault racing with the unmap finds no vma (-EFAULT).
    const removed = mm.vmas.filter((v) => v.start >= start && v.end <= end);
    if (removed.length === 0) return;
    mm.vmas = mm.vmas.filter((v) => !(v.start >= start && v.end <= end));
    unmapRange(h, mm, start, end, MMU_NOTIFY_UNMAP);
    for (const v of removed) releaseVma(h, v);
    mm.pt.freeEmptyTables();
  } finally {
    mm.busy--;
  }
}

export function madviseDontneed(h: Host, mm: Mm, start: number, end: number): void {
  if (end <= start) return;
  mm.busy++;
  try {
    // Only the mapped part of the range is zapped (the kernel returns -ENOMEM for holes).
    for (const v of mm.vmas.slice()) {
      const s = Math.max(start, v.start);
      const e = Math.min(end, v.end);
      if (s < e) unmapRange(h, mm, s, e, MMU_NOTIFY_CLEAR);
    }
  } finally {
    mm.busy--;
  }
  mergeAdjacent(mm.vmas);
}

/** exit_mmap: mmu_notifier_release first (subscribers drop every secondary mapping while all
 *  pages are still mapped), then unmap everything and free it. */
export function exitMmap(h: Host, mm: Mm): void {
  if (mm.dead) return;
  mm.dead = true;
  mm.users = 0;
  mm.busy++;
  try {
    mmuNotifierRelease(mm);
    h.preempt(PP_AFTER_RELEASE, mm, 0, TASK_SIZE);
    unmapRange(h, mm, 0, TASK_SIZE, MMU_NOTIFY_UNMAP);
    const vmas = mm.vmas;
    mm.vmas = [];
    for (const v of vmas) releaseVma(h, v);
    mm.pt.freeEmptyTables();
  } finally {
    mm.busy--;
  }
  h.mms.delete(mm.id);
  h.ksm.forgetMm(mm);
  // The exiting process closes its files (do_exit's exit_files runs after exit_mm): for a VMM
  // that is the VM fd, whose release tears the VM down and drops any page it still pins.
  const onExit = mm.onExit;
  mm.onExit = null;
  if (onExit !== null) onExit();
  mmdrop(mm); // the reference all users shared
}
