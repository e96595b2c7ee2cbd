// Consistency checker for the whole host: refcount, mapcount, rmap, LRU, swap counts and swap
// cache must all tell the same story. The TigerBeetle-style assertion layer for host/ (the
// kernel has pieces of this as VM_BUG_ON_FOLIO / check_pte / swap_map accounting).

import { PG_ANON, PG_KSM, PG_LRU, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import { pteIsSwap, ptePresent, pteFrame, pteSwapSlot } from './page-table.js';
import { findVma } from './vma.js';
import { PAGE_SHIFT } from './constants.js';

function fail(msg: string): never {
  throw new Error(`host invariant: ${msg}`);
}

export function checkHostInvariants(h: Host): void {
  const ft = h.ft;
  const n = ft.nrFrames;
  const ptesPerFrame = new Int32Array(n);
  const cacheRefs = new Int32Array(n);
  const swapPtes = new Int32Array(h.swap.nrSlots);

  // Page tables -> frames and slots.
  for (const mm of h.mms.values()) {
    let rss = 0;
    let swapEnts = 0;
    mm.pt.forEach(0, 1 << 20, (vpn, pte) => {
      const addr = vpn << PAGE_SHIFT;
      if (findVma(mm.vmas, addr) === null) fail(`mm ${mm.id} has a pte at ${addr.toString(16)} outside every vma`);
      if (ptePresent(pte)) {
        const f = pteFrame(pte);
        if (f >= n || ft.refcount[f] <= 0) fail(`mm ${mm.id} vpn ${vpn} maps free frame ${f}`);
        let found = 0;
        for (let e = h.rmap.first(f); e !== -1; e = h.rmap.entryNext(e)) {
          if (h.rmap.entryMm(e) === mm.id && h.rmap.entryVpn(e) === vpn) found++;
        }
        if (found !== 1) fail(`frame ${f}: ${found} rmap entries for mm ${mm.id} vpn ${vpn}`);
        ptesPerFrame[f]++;
        rss++;
      } else if (pteIsSwap(pte)) {
        const slot = pteSwapSlot(pte);
        if (slot >= h.swap.nrSlots) fail(`mm ${mm.id} vpn ${vpn}: bad swap slot ${slot}`);
        swapPtes[slot]++;
        swapEnts++;
      }
    });
    if (rss !== mm.rss) fail(`mm ${mm.id}: rss ${mm.rss} but ${rss} present ptes`);
    if (swapEnts !== mm.swapEnts) fail(`mm ${mm.id}: swapEnts ${mm.swapEnts} but ${swapEnts} swap ptes`);
    for (const v of mm.vmas) {
      if (v.shmem !== null) {
        for (let i = 0; i < v.shmem.nrPages; i++) {
          const f = v.shmem.pages[i];
          if (f >= 0) cacheRefs[f] = 1; // one reference per cached page, however many vmas share it
        }
      }
    }
  }

  // Swap slots.
  let freeSlots = 0;
  const onFreeStack = h.swap.freeCounts();
  for (let s = 0; s < h.swap.nrSlots; s++) {
    if (h.swap.count[s] !== swapPtes[s]) fail(`swap slot ${s}: count ${h.swap.count[s]} but ${swapPtes[s]} swap ptes`);
    const f = h.swap.cache[s];
    if (f >= 0) {
      if (ft.refcount[f] <= 0) fail(`swap slot ${s}: cache holds free frame ${f}`);
      if ((ft.flags[f] & PG_SWAPCACHE) === 0 || ft.swapSlot[f] !== s) fail(`swap slot ${s}: frame ${f} not marked as its cache page`);
    }
    if (onFreeStack[s] > 1) fail(`swap slot ${s} is on the free stack ${onFreeStack[s]} times`);
    const isFree = onFreeStack[s] === 1;
    if (isFree) {
      freeSlots++;
      if (swapPtes[s] !== 0 || f >= 0) fail(`swap slot ${s} is free but still referenced`);
    } else if (swapPtes[s] === 0 && f < 0) {
      fail(`swap slot ${s} leaked (allocated, no pte, no cache page)`);
    }
  }
  if (freeSlots !== h.swap.nrFree) fail(`swap: nrFree ${h.swap.nrFree} but ${freeSlots} free slots`);

  // Frames.
  let free = 0;
  let extraRefs = 0;
  let onLru = 0;
  for (let f = 0; f < n; f++) {
    const rc = ft.refcount[f];
    const fl = ft.flags[f];
    if (rc === 0) {
      free++;
      if (ft.mapcount[f] !== 0 || ft.rmapHead[f] !== -1 || fl !== 0) fail(`free frame ${f} has mapcount/rmap/flags`);
      continue;
    }
    if (rc < 0) fail(`frame ${f}: negative refcount ${rc}`);
    const rm = h.rmap.count(f);
    if (ft.mapcount[f] !== rm) fail(`frame ${f}: mapcount ${ft.mapcount[f]} but ${rm} rmap entries`);
    if (ptesPerFrame[f] !== rm) fail(`frame ${f}: ${rm} rmap entries but ${ptesPerFrame[f]} ptes map it`);
    const swapcache = (fl & PG_SWAPCACHE) !== 0 ? 1 : 0;
    if (swapcache && h.swap.cache[ft.swapSlot[f]] !== f) fail(`frame ${f}: PG_swapcache but slot ${ft.swapSlot[f]} disagrees`);
    const expected = ft.mapcount[f] + swapcache + cacheRefs[f];
    if (rc < expected) fail(`frame ${f}: refcount ${rc} < mapcount ${ft.mapcount[f]} + caches ${swapcache + cacheRefs[f]}`);
    extraRefs += rc - expected;
    const anon = (fl & PG_ANON) !== 0;
    if (anon !== ((fl & PG_LRU) !== 0)) fail(`frame ${f}: anon pages must be on the LRU and only they (flags ${fl})`);
    // A shmem page may outlive its object only through extra (gup) references.
    if (!anon && cacheRefs[f] === 0 && rc === ft.mapcount[f]) fail(`frame ${f}: shmem frame outside any shmem cache`);
    if ((fl & PG_KSM) !== 0 && !h.ksm.isStable(f)) fail(`frame ${f}: PG_ksm but not in the stable tree`);
    if ((fl & PG_LRU) !== 0) onLru++;
  }
  if (free !== ft.nrFree) fail(`allocator: nrFree ${ft.nrFree} but ${free} frames have refcount 0`);
  const listed = h.lru.check();
  if (listed !== onLru) fail(`lru: ${listed} listed but ${onLru} frames flagged`);
  if (!h.inReclaim && extraRefs !== h.outstandingGupRefs) {
    fail(`${extraRefs} references beyond mappings and caches, but ${h.outstandingGupRefs} gup references outstanding`);
  }
  for (const f of h.ksm.stableFrames()) {
    if (ft.refcount[f] <= 0 || (ft.flags[f] & PG_KSM) === 0) fail(`ksm: stable tree holds frame ${f} that is not a KSM page`);
  }
  // Notifier bookkeeping must be balanced when nothing is in flight.
  for (const mm of h.mms.values()) {
    const subs = mm.notifierSubscriptions;
    if (subs !== null && mm.busy === 0 && subs.activeInvalidateRanges === 0 && (subs.invalidateSeq & 1) !== 0) {
      fail(`mm ${mm.id}: itree invalidate_seq odd with no active range`);
    }
    if (subs !== null) subs.itree.check();
  }
}
