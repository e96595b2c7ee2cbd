// fork's address-space copy: the child gets the parent's vmas; for private (COW) areas the
// parent's writable ptes are write-protected inside a PROTECTION_PAGE range on the parent mm and
// the child shares the frames read-only; possibly pinned frames are copied eagerly instead.
// Mirrors kernel/fork.c dup_mmap -> mm/memory.c copy_page_range / copy_present_pte
// (page_needs_cow_for_dma). Shared areas are not copied: the child refaults from shmem.

import { MMU_NOTIFY_PROTECTION_PAGE, PAGE_SHIFT, PAGE_SIZE } from './constants.js';
import { PG_ANON, PG_DIRTY, PG_KSM, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import type { MmuNotifierRange } from './mmu-notifier.js';
import {
  PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pteIsSwap, ptePresent, pteFrame, pteSwapSlot,
} from './page-table.js';
import { exitMmap } from './zap.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END } from './preempt-points.js';

export function dupMmap(h: Host, parent: Mm): Mm {
  const child = h.createMm();
  for (const v of parent.vmas) {
    const c = v.clone();
    if (c.shmem !== null) c.shmem.mapCount++;
    child.vmas.push(c);
  }
  parent.busy++;
  child.busy++;
  let failed = false;
  try {
    const vpns: number[] = [];
    for (const v of parent.vmas) {
      if (!v.isCowMapping) continue;
      const range: MmuNotifierRange = {
        mm: parent, start: v.start, end: v.end, event: MMU_NOTIFY_PROTECTION_PAGE, blockable: true,
      };
      h.notifyStart(range);
      h.preempt(PP_AFTER_START, parent, v.start, v.end);
      vpns.length = 0;
      parent.pt.forEach(v.start >>> PAGE_SHIFT, v.end >>> PAGE_SHIFT, (vpn) => { vpns.push(vpn); });
      for (const vpn of vpns) {
        if (!copyPte(h, parent, child, vpn, v.writable)) {
          failed = true;
          break;
        }
      }
      h.preempt(PP_AFTER_CLEAR, parent, v.start, v.end);
      h.preempt(PP_BEFORE_END, parent, v.start, v.end);
      h.notifyEnd(range);
      if (failed) break;
    }
  } finally {
    parent.busy--;
    child.busy--;
  }
  if (failed) {
    // fork failed with -ENOMEM: the half-built child is torn down.
    child.users = 0;
    exitMmap(h, child);
    throw new Error('fork: out of memory');
  }
  return child;
}

function copyPte(h: Host, parent: Mm, child: Mm, vpn: number, writable: boolean): boolean {
  const ft = h.ft;
  const pte = parent.pt.get(vpn);
  if (pteIsSwap(pte)) {
    h.swap.count[pteSwapSlot(pte)]++;
    child.pt.set(vpn, pte);
    child.swapEnts++;
    return true;
  }
  if (!ptePresent(pte)) return true;
  const f = pteFrame(pte);
  const swapcache = (ft.flags[f] & PG_SWAPCACHE) !== 0 ? 1 : 0;
  // page_needs_cow_for_dma: only in an mm that ever took a long-term pin.
  const maybePinned = parent.hasPinned && ft.refcount[f] > ft.mapcount[f] + swapcache && (ft.flags[f] & PG_KSM) === 0;
  if (maybePinned && ft.mapcount[f] === 1) {
    // copy_present_page: the parent keeps its (pinned) frame writable; the child gets a copy now.
    const nf = h.allocPage();
    if (nf < 0 || parent.dead || child.dead) {
      if (nf >= 0) h.putFrame(nf);
      return false;
    }
    const cur = parent.pt.get(vpn);
    const src = ptePresent(cur) ? pteFrame(cur) : f;
    h.copyFrame(nf, src);
    ft.flags[nf] = PG_ANON | PG_DIRTY;
    h.lru.add(nf);
    h.mapPte(child, vpn, nf, PTE_YOUNG | (writable ? PTE_WRITE : 0) | PTE_DIRTY);
    h.stats.forkEagerCopies++;
    return true;
  }
  if ((pte & PTE_WRITE) !== 0) parent.pt.set(vpn, pte & ~PTE_WRITE);
  ft.refcount[f]++;
  // The child's pte is old and read-only; a write faults and COWs in whichever mm writes.
  h.mapPte(child, vpn, f, pte & PTE_DIRTY);
  return true;
}
