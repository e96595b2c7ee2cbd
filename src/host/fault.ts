// The host page-fault handler: demand zero, swap-in through the swap cache, shmem lookup, and
// write faults on read-only private pages (reuse when exclusive, copy otherwise). Mirrors
// mm/memory.c handle_mm_fault -> do_anonymous_page / do_swap_page / do_wp_page
// (wp_can_reuse_anon_folio, wp_page_reuse, wp_page_copy) and shmem_fault.

import { EFAULT, ENOMEM, MMU_NOTIFY_CLEAR, PAGE_SHIFT, PAGE_SIZE, PROT_NONE } from './constants.js';
import { PG_ANON, PG_DIRTY, PG_KSM, PG_LOCKED, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import { mmuNotifierChangePte, type MmuNotifierRange } from './mmu-notifier.js';
import {
  PTE_DIRTY, PTE_WRITE, PTE_YOUNG, ptePresent, pteFrame, pteIsSwap, pteSwapSlot,
} from './page-table.js';
import { findVma, type Vma } from './vma.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END, PP_BEFORE_FREE } from './preempt-points.js';

/** A fault step lost a race (pte_same failed) and must be retried from the top. */
const RETRY = -1_000_000;
const MAX_RETRIES = 16;

/** Resolves a user access at addr; returns the frame now mapped with the needed permission (no
 *  extra reference), or a negative errno. */
export function handleMmFault(h: Host, mm: Mm, addr: number, write: boolean): number {
  // Not marked busy: the OOM killer may pick the faulting mm itself, so every step re-checks
  // mm.dead after an allocation.
  const vpn = addr >>> PAGE_SHIFT;
  for (let i = 0; i < MAX_RETRIES; i++) {
    if (mm.dead || mm.users <= 0) return -EFAULT;
    const r = faultOnce(h, mm, addr, write);
    if (r === RETRY) continue;
    if (r < 0) return r;
    // Like the CPU re-walking after a fault: whatever ran at a preemption point inside the fault
    // (reclaim, an unmap) may already have taken the page away again.
    const pte = mm.pt.get(vpn);
    if (ptePresent(pte) && pteFrame(pte) === r && (!write || (pte & PTE_WRITE) !== 0)) return r;
  }
  return -ENOMEM; // lost every race to reclaim: memory pressure, not a bad address

}

function faultOnce(h: Host, mm: Mm, addr: number, write: boolean): number {
  const vma = findVma(mm.vmas, addr);
  if (vma === null || vma.prot === PROT_NONE) return -EFAULT;
  if (write && !vma.writable) return -EFAULT;
  const vpn = addr >>> PAGE_SHIFT;
  const pte = mm.pt.get(vpn);
  if (ptePresent(pte)) {
    if (write && (pte & PTE_WRITE) === 0) return doWpPage(h, mm, vma, vpn, pte);
    // A hit: the hardware would set A (and D on a write).
    mm.pt.set(vpn, pte | PTE_YOUNG | (write ? PTE_DIRTY : 0));
    return pteFrame(pte);
  }
  h.stats.faults++;
  if (vma.shmem !== null) return shmemFault(h, mm, vma, vpn, write);
  if (pte === 0) return doAnonymousPage(h, mm, vma, vpn, write);
  return doSwapPage(h, mm, vma, vpn, pte, write);
}

function doAnonymousPage(h: Host, mm: Mm, vma: Vma, vpn: number, write: boolean): number {
  const f = h.allocPage();
  if (f < 0) return -ENOMEM;
  if (mm.dead) {
    h.putFrame(f);
    return -EFAULT;
  }
  if (mm.pt.get(vpn) !== 0) {
    h.putFrame(f);
    return RETRY;
  }
  h.zeroFrame(f);
  h.ft.flags[f] = PG_ANON;
  h.lru.add(f);
  // No shared zero page here: even a read fault gets its own exclusive (hence writable) frame.
  h.mapPte(mm, vpn, f, PTE_YOUNG | (vma.writable ? PTE_WRITE : 0) | (write ? PTE_DIRTY : 0));
  h.stats.zeroFills++;
  return f;
}

function shmemFault(h: Host, mm: Mm, vma: Vma, vpn: number, write: boolean): number {
  const shmem = vma.shmem!;
  const idx = vma.shmemIndex(vpn << PAGE_SHIFT);
  let f = shmem.pages[idx];
  if (f < 0) {
    f = h.allocPage();
    if (f < 0) return -ENOMEM;
    if (mm.dead) {
      h.putFrame(f);
      return -EFAULT;
    }
    if (shmem.pages[idx] >= 0 || mm.pt.get(vpn) !== 0) {
      h.putFrame(f);
      return RETRY;
    }
    h.zeroFrame(f);
    h.ft.flags[f] = 0; // shmem: not anon, never on the LRU (shmem swap is not modelled)
    shmem.pages[idx] = f; // the cache keeps the allocation reference
    h.stats.zeroFills++;
  } else if (mm.pt.get(vpn) !== 0) {
    return RETRY;
  }
  h.ft.refcount[f]++;
  if (write) h.ft.flags[f] |= PG_DIRTY;
  h.mapPte(mm, vpn, f, PTE_YOUNG | (vma.writable ? PTE_WRITE : 0) | (write ? PTE_DIRTY : 0));
  return f;
}

function doSwapPage(h: Host, mm: Mm, vma: Vma, vpn: number, pte: number, write: boolean): number {
  if (!pteIsSwap(pte)) throw new Error(`fault: bad pte ${pte}`);
  const ft = h.ft;
  const slot = pteSwapSlot(pte);
  let f = h.swap.cache[slot];
  if (f < 0) {
    f = h.allocPage();
    if (f < 0) return -ENOMEM;
    if (mm.dead) {
      h.putFrame(f);
      return -EFAULT;
    }
    if (mm.pt.get(vpn) !== pte || h.swap.cache[slot] >= 0) {
      h.putFrame(f);
      return RETRY;
    }
    const r = h.swap.read(slot, ft.page(f));
    h.frameWritten(f);
    if (r < 0) {
      // The page never became uptodate: SIGBUS for the faulting task, -EFAULT for gup.
      h.stats.swapReadErrors++;
      h.putFrame(f);
      return -EFAULT;
    }
    ft.flags[f] = PG_ANON | PG_SWAPCACHE;
    ft.swapSlot[f] = slot;
    h.swap.cache[slot] = f;
    ft.refcount[f]++; // the swap cache's reference; ours becomes the pte's
    h.lru.add(f, true);
    h.stats.swapIns++;
  } else {
    ft.refcount[f]++;
    h.stats.swapInsFromCache++;
  }
  h.swap.count[slot]--;
  mm.swapEnts--;
  // Exclusive when no other swap pte and no other mapping will ever see this copy.
  const exclusive = h.swap.count[slot] === 0 && ft.mapcount[f] === 0 && (ft.flags[f] & PG_KSM) === 0 &&
    ft.refcount[f] === 2;
  const flags = PTE_YOUNG;
  if (write && exclusive) {
    h.mapPte(mm, vpn, f, flags | PTE_WRITE | PTE_DIRTY);
    h.tryFreeSwap(f);
    ft.flags[f] |= PG_DIRTY;
    return f;
  }
  h.mapPte(mm, vpn, f, flags);
  if (write) return doWpPage(h, mm, vma, vpn, mm.pt.get(vpn));
  return f;
}

/** wp_can_reuse_anon_folio: any reference beyond our mapping (and the swap cache) means someone
 *  else may see this frame (a fork sibling, a gup pin): then we must copy. */
function canReuseAnon(h: Host, f: number): boolean {
  const ft = h.ft;
  if ((ft.flags[f] & PG_KSM) !== 0) return false;
  const swapcache = (ft.flags[f] & PG_SWAPCACHE) !== 0 ? 1 : 0;
  if (ft.refcount[f] > 1 + swapcache) return false;
  if (swapcache) h.tryFreeSwap(f);
  return ft.refcount[f] === 1;
}

function doWpPage(h: Host, mm: Mm, vma: Vma, vpn: number, pte: number): number {
  const ft = h.ft;
  const f = pteFrame(pte);
  if (vma.shared) {
    // wp_page_shared: same frame, now writable.
    ft.flags[f] |= PG_DIRTY;
    mm.pt.set(vpn, pte | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
    return f;
  }
  if (canReuseAnon(h, f)) {
    // wp_page_reuse: a permission upgrade only, invisible to secondary MMUs (no notifier).
    mm.pt.set(vpn, pte | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
    h.stats.cowReuses++;
    return f;
  }
  const swapcache = (ft.flags[f] & PG_SWAPCACHE) !== 0 ? 1 : 0;
  if (ft.refcount[f] > ft.mapcount[f] + swapcache) h.stats.cowCopiesForPins++;
  return wpPageCopy(h, mm, vpn, pte, true);
}

/** wp_page_copy: allocate and copy outside the notifier range, then
 *  S; pte_same; clear+flush old pte; install new (writable, dirty); drop old rmap; E; put old.
 *  `writable` false is the unshare flavour (break_ksm on a read-only vma). */
export function wpPageCopy(h: Host, mm: Mm, vpn: number, oldPte: number, writable: boolean): number {
  const ft = h.ft;
  const old = pteFrame(oldPte);
  ft.refcount[old]++; // hold the old frame while copying
  // Lock it across the allocation so direct reclaim cannot unmap the very page we are copying.
  const locked = (ft.flags[old] & PG_LOCKED) === 0;
  if (locked) ft.flags[old] |= PG_LOCKED;
  const nf = h.allocPage();
  if (locked) ft.flags[old] &= ~PG_LOCKED;
  if (nf < 0) {
    h.putFrame(old);
    return -ENOMEM;
  }
  if (mm.dead || mm.pt.get(vpn) !== oldPte) {
    h.putFrame(nf);
    h.putFrame(old);
    return mm.dead ? -EFAULT : RETRY;
  }
  h.copyFrame(nf, old);
  const addr = vpn << PAGE_SHIFT;
  const range: MmuNotifierRange = { mm, start: addr, end: addr + PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true };
  const inPlace = h.changePteOutsideInvalidate; // the 2009 flow: change_pte alone, no start/end
  if (!inPlace) h.notifyStart(range);
  h.preempt(PP_AFTER_START, mm, range.start, range.end);
  if (mm.pt.get(vpn) !== oldPte) {
    // Someone changed the pte while we were preempted: drop our copy and refault.
    if (!inPlace) h.notifyEnd(range);
    h.putFrame(nf);
    h.putFrame(old);
    return RETRY;
  }
  const wasKsm = (ft.flags[old] & PG_KSM) !== 0;
  h.unmapPte(mm, vpn);
  mmuNotifierChangePte(mm, addr, nf, writable);
  ft.flags[nf] = PG_ANON | PG_DIRTY;
  h.lru.add(nf, true);
  h.mapPte(mm, vpn, nf, PTE_YOUNG | (writable ? PTE_WRITE | PTE_DIRTY : 0));
  h.preempt(PP_AFTER_CLEAR, mm, range.start, range.end);
  h.preempt(PP_BEFORE_END, mm, range.start, range.end);
  if (!inPlace) h.notifyEnd(range);
  h.preempt(PP_BEFORE_FREE, mm, range.start, range.end);
  h.putFrame(old); // the old pte's reference: may free the old frame, after E
  h.putFrame(old); // our hold
  h.stats.cowBreaks++;
  if (wasKsm) h.stats.ksmCowBreaks++;
  return nf;
}
