// Page reclaim: age the anon LRU, and for each cold page add it to swap, unmap it from every
// mm through the notifier, write it out, and free it only if nobody else holds a reference.
// Mirrors mm/vmscan.c shrink_lruvec -> shrink_active_list / shrink_folio_list
// (folio_check_references, add_to_swap, try_to_unmap, pageout, __remove_mapping) and
// mm/rmap.c folio_referenced_one / try_to_unmap_one.

import { MMU_NOTIFY_CLEAR, PAGE_SHIFT, PAGE_SIZE } from './constants.js';
import { PG_ANON, PG_DIRTY, PG_LOCKED, PG_LRU, PG_REFERENCED, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import { mmuNotifierClearFlushYoung, type MmuNotifierRange } from './mmu-notifier.js';
import { mkSwapPte, PTE_YOUNG, ptePresent, pteFrame } from './page-table.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END, PP_BEFORE_FREE } from './preempt-points.js';

const scratch: number[] = [];

/** Reclaims up to nrPages frames; returns the number freed. */
export function shrinkLists(h: Host, nrPages: number): number {
  if (h.inReclaim || nrPages <= 0) return 0;
  h.inReclaim = true;
  let freed = 0;
  try {
    const lru = h.lru;
    // Each page is looked at a bounded number of times per call: no livelock on pinned pages.
    let budget = 2 * (lru.nrActive + lru.nrInactive) + 8;
    while (freed < nrPages && budget-- > 0) {
      // inactive_is_low: keep the inactive list at least as long as the active one.
      if (lru.nrInactive <= lru.nrActive) {
        const a = lru.tail(true);
        if (a >= 0) {
          deactivate(h, a);
          continue;
        }
      }
      const f = lru.tail(false);
      if (f < 0) break;
      h.stats.reclaimScanned++;
      if (shrinkFolio(h, f)) freed++;
    }
  } finally {
    h.inReclaim = false;
  }
  h.stats.reclaimFreed += freed;
  return freed;
}

/** shrink_active_list for anon pages: the young bits are harvested (and cleared) but anon pages
 *  are deactivated regardless; a referenced page gets activated again from the inactive list. */
function deactivate(h: Host, f: number): void {
  if (folioReferenced(h, f)) h.ft.flags[f] |= PG_REFERENCED;
  h.lru.moveTo(f, false);
}

/** folio_referenced: walk the rmap, test-and-clear each pte's young bit, and ask the secondary
 *  MMUs (ptep_clear_flush_young_notify). Returns whether any mapping was young. */
export function folioReferenced(h: Host, f: number): boolean {
  let referenced = false;
  const rmap = h.rmap;
  for (let e = rmap.first(f); e !== -1; e = rmap.entryNext(e)) {
    const mm = h.mms.get(rmap.entryMm(e));
    if (mm === undefined) continue;
    const vpn = rmap.entryVpn(e);
    const pte = mm.pt.get(vpn);
    if ((pte & PTE_YOUNG) !== 0) {
      mm.pt.set(vpn, pte & ~PTE_YOUNG);
      referenced = true;
    }
    const addr = vpn << PAGE_SHIFT;
    if (mmuNotifierClearFlushYoung(mm, addr, addr + PAGE_SIZE)) referenced = true;
  }
  return referenced;
}

/** reclaim_pages for MADV_PAGEOUT: reclaim the anon pages mm maps in [start, end) now, without
 *  looking at their referenced bits (ignore_references). Returns the number of frames freed. */
export function pageoutRange(h: Host, mm: Mm, start: number, end: number): number {
  if (h.inReclaim) return 0;
  const frames: number[] = [];
  mm.pt.forEach(start >>> PAGE_SHIFT, end >>> PAGE_SHIFT, (_vpn, pte) => {
    if (ptePresent(pte)) frames.push(pteFrame(pte));
  });
  h.inReclaim = true;
  let freed = 0;
  try {
    for (const f of frames) {
      // Only exclusively mapped anon pages on the LRU (madvise_cold_or_pageout_pte_range skips shared ones).
      if (h.ft.refcount[f] <= 0 || (h.ft.flags[f] & PG_LRU) === 0 || h.ft.mapcount[f] !== 1) continue;
      h.stats.reclaimScanned++;
      if (shrinkFolio(h, f, true)) freed++;
    }
  } finally {
    h.inReclaim = false;
  }
  h.stats.reclaimFreed += freed;
  return freed;
}

/** shrink_folio_list for one isolated page. Returns true when the frame was freed. */
function shrinkFolio(h: Host, f: number, ignoreReferences = false): boolean {
  const ft = h.ft;
  const st = h.stats;
  if ((ft.flags[f] & PG_LOCKED) !== 0) {
    st.reclaimFailLocked++;
    h.lru.moveTo(f, false);
    return false;
  }
  if ((ft.flags[f] & PG_ANON) === 0) throw new Error(`reclaim: non-anon frame ${f} on the LRU`);
  // Isolate: our own reference and the page lock for the whole walk.
  ft.refcount[f]++;
  ft.flags[f] |= PG_LOCKED;
  h.lru.del(f);
  const done = (active: boolean | null): boolean => {
    ft.flags[f] &= ~PG_LOCKED;
    if (active !== null) h.lru.add(f, active);
    h.putFrame(f);
    return false;
  };

  // folio_check_references: a swap-backed page with young ptes is activated.
  const referencedPtes = !ignoreReferences && folioReferenced(h, f);
  ft.flags[f] &= ~PG_REFERENCED;
  if (referencedPtes) {
    st.reclaimActivated++;
    return done(true);
  }

  // add_to_swap: the swap cache takes a reference; the page must be written before it is freed.
  if ((ft.flags[f] & PG_SWAPCACHE) === 0) {
    const slot = h.swap.alloc();
    if (slot < 0) {
      st.reclaimFailSwapFull++;
      return done(true);
    }
    h.swap.cache[slot] = f;
    ft.swapSlot[f] = slot;
    ft.flags[f] |= PG_SWAPCACHE | PG_DIRTY;
    ft.refcount[f]++;
  }
  const slot = ft.swapSlot[f];

  // try_to_unmap: per mapping S; clear pte (dirty -> page); swap pte; drop rmap and ref; E.
  const maps = h.rmap.snapshot(f, scratch).slice();
  let lastMm = null;
  for (let i = 0; i < maps.length; i += 2) {
    const mm = h.mms.get(maps[i]);
    if (mm === undefined) continue;
    lastMm = mm;
    const vpn = maps[i + 1];
    const addr = vpn << PAGE_SHIFT;
    const range: MmuNotifierRange = { mm, start: addr, end: addr + PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true };
    h.notifyStart(range);
    h.preempt(PP_AFTER_START, mm, range.start, range.end);
    const pte = mm.pt.get(vpn);
    if (ptePresent(pte) && pteFrame(pte) === f) {
      h.unmapPte(mm, vpn);
      mm.pt.set(vpn, mkSwapPte(slot));
      h.swap.count[slot]++;
      mm.swapEnts++;
      h.putFrame(f); // the pte's reference; ours keeps the frame alive
      h.preempt(PP_AFTER_CLEAR, mm, range.start, range.end);
    }
    h.preempt(PP_BEFORE_END, mm, range.start, range.end);
    h.notifyEnd(range);
  }
  if (ft.mapcount[f] > 0) {
    st.reclaimFailMapped++;
    return done(true);
  }

  // pageout: write the page if it has no up-to-date copy on swap yet.
  if ((ft.flags[f] & PG_DIRTY) !== 0) {
    const r = h.swap.write(slot, ft.page(f));
    if (r < 0) {
      // The page stays in the swap cache, dirty; its swap ptes fault it back from the cache.
      st.swapWriteErrors++;
      st.reclaimFailIo++;
      return done(true);
    }
    ft.flags[f] &= ~PG_DIRTY;
    st.swapOuts++;
  } else {
    st.swapOutsClean++;
  }
  if (lastMm !== null) h.preempt(PP_BEFORE_FREE, lastMm, 0, 0);

  // __remove_mapping: freeze refcount at exactly our isolation ref + the swap cache's.
  if (ft.refcount[f] !== 2 || ft.mapcount[f] !== 0) {
    if (ft.mapcount[f] > 0) st.reclaimFailMapped++;
    else st.reclaimFailPinned++;
    return done(false);
  }
  h.swap.cache[slot] = -1;
  ft.swapSlot[f] = -1;
  ft.flags[f] &= ~(PG_SWAPCACHE | PG_LOCKED);
  h.swap.maybeFree(slot); // no swap pte left (all mappings vanished meanwhile): slot unused
  ft.refcount[f] = 1;
  h.putFrame(f);
  return true;
}
