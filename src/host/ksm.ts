// Kernel samepage merging: ksmd scans MADV_MERGEABLE areas, keeps an unstable tree of candidate
// pages (rebuilt every full scan, only pages whose checksum held still for one pass) and a stable
// tree of merged read-only KSM pages. Both trees are ordered by page contents and searched with a
// byte comparison (memcmp), as Linux's rbtrees are; the checksum is only the "did this page change
// since the last scan" filter (rmap_item.oldchecksum), never a key. Mirrors mm/ksm.c
// (ksm_do_scan, cmp_and_merge_page, stable_tree_search, unstable_tree_search_insert,
// try_to_merge_one_page, write_protect_page, replace_page, break_ksm). The trees are sorted
// arrays searched by bisection: the same comparisons an rbtree walk makes, O(log n) of them.

import { MMU_NOTIFY_CLEAR, PAGE_SHIFT, PAGE_SIZE } from './constants.js';
import { PG_ANON, PG_DIRTY, PG_KSM, PG_LOCKED, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import { mmuNotifierChangePte, type MmuNotifierRange } from './mmu-notifier.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, ptePresent, pteFrame } from './page-table.js';
import { findVma, mergeAdjacent, splitAt, VM_MERGEABLE } from './vma.js';
import { wpPageCopy } from './fault.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END } from './preempt-points.js';

const VPN_SPAN = 1 << 20; // TASK_SIZE >> PAGE_SHIFT fits below this

export class Ksm {
  /** Stable tree: KSM frames, ordered by contents. */
  private readonly stable: number[] = [];
  private readonly stableSet = new Set<number>();
  /** Unstable tree of this pass: flat [mmId, vpn] items, ordered by the contents of the page each
   *  maps now. Its pages are not write-protected, so an item's key may change under the tree (the
   *  reason for the name); a search that goes astray just finds nothing, as in Linux. */
  private unstable: number[] = [];
  /** rmap_item.oldchecksum by (mm, vpn). */
  private readonly oldChecksum = new Map<number, number>();
  private cursorMm = 0;
  private cursorVpn = 0;
  private foundThisPass = 0;

  constructor(private readonly h: Host) {}

  get pagesShared(): number {
    return this.stable.length;
  }

  madviseMergeable(mm: Mm, start: number, end: number): void {
    splitAt(mm.vmas, start);
    splitAt(mm.vmas, end);
    for (const v of mm.vmas) {
      if (v.start >= start && v.end <= end && !v.shared) v.flags |= VM_MERGEABLE;
    }
    mergeAdjacent(mm.vmas);
  }

  /** MADV_UNMERGEABLE: break every KSM page in the range (unshare by COW), then clear the flag. */
  madviseUnmergeable(mm: Mm, start: number, end: number): void {
    const h = this.h;
    mm.busy++;
    try {
      for (let vpn = start >>> PAGE_SHIFT; vpn < end >>> PAGE_SHIFT; vpn++) {
        const pte = mm.pt.get(vpn);
        if (!ptePresent(pte) || (h.ft.flags[pteFrame(pte)] & PG_KSM) === 0) continue;
        const vma = findVma(mm.vmas, vpn << PAGE_SHIFT);
        wpPageCopy(h, mm, vpn, pte, vma !== null && vma.writable);
      }
      splitAt(mm.vmas, start);
      splitAt(mm.vmas, end);
      for (const v of mm.vmas) if (v.start >= start && v.end <= end) v.flags &= ~VM_MERGEABLE;
      mergeAdjacent(mm.vmas);
    } finally {
      mm.busy--;
    }
  }

  isStable(f: number): boolean {
    return this.stableSet.has(f);
  }

  stableFrames(): number[] {
    return [...this.stable];
  }

  /** Drops the scan state of an exited mm (its rmap_items). */
  forgetMm(mm: Mm): void {
    for (const key of [...this.oldChecksum.keys()]) {
      if (Math.floor(key / VPN_SPAN) === mm.id) this.oldChecksum.delete(key);
    }
  }

  /** Called when a KSM frame is freed (its stable node goes away). */
  forgetStable(f: number): void {
    if (!this.stableSet.delete(f)) return;
    const i = this.stable.indexOf(f);
    if (i >= 0) this.stable.splice(i, 1);
  }

  /** ksm_do_scan: look at up to `pages` present pages of mergeable areas. */
  scan(pages: number): void {
    const h = this.h;
    let emptyPasses = 0;
    for (let n = 0; n < pages; ) {
      const item = this.nextItem();
      if (item === null) {
        // End of a full pass: the unstable tree is rebuilt from scratch next pass.
        h.stats.ksmFullScans++;
        this.unstable = [];
        const nothing = this.foundThisPass === 0;
        this.foundThisPass = 0;
        if (nothing && ++emptyPasses > 1) return;
        continue;
      }
      n++;
      this.foundThisPass++;
      h.stats.ksmPagesScanned++;
      this.cmpAndMergePage(item, this.cursorVpn - 1);
    }
  }

  private nextItem(): Mm | null {
    const ids = [...this.h.mms.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      if (id < this.cursorMm) continue;
      if (id > this.cursorMm) {
        this.cursorMm = id;
        this.cursorVpn = 0;
      }
      const mm = this.h.mms.get(id)!;
      if (mm.dead) continue;
      for (const v of mm.vmas) {
        if ((v.flags & VM_MERGEABLE) === 0) continue;
        const endVpn = v.end >>> PAGE_SHIFT;
        let vpn = Math.max(this.cursorVpn, v.start >>> PAGE_SHIFT);
        for (; vpn < endVpn; vpn++) {
          const pte = mm.pt.get(vpn);
          if (ptePresent(pte) && (this.h.ft.flags[pteFrame(pte)] & PG_ANON) !== 0) {
            this.cursorVpn = vpn + 1;
            return mm;
          }
        }
      }
      this.cursorMm = id + 1;
      this.cursorVpn = 0;
    }
    this.cursorMm = 0;
    this.cursorVpn = 0;
    return null;
  }

  private cmpAndMergePage(mm: Mm, vpn: number): void {
    const h = this.h;
    const f = pteFrame(mm.pt.get(vpn));
    if ((h.ft.flags[f] & PG_KSM) !== 0) return;
    // 1. Stable tree: merge into an existing KSM page with the same bytes.
    const at = this.stableSearch(f);
    if (at >= 0) {
      if (this.tryToMergeOnePage(mm, vpn, f, this.stable[at]!)) h.stats.ksmMerges++;
      return;
    }
    // 2. A page that changed since the last pass stays out of the unstable tree: the checksum is
    //    only this filter.
    const key = mm.id * VPN_SPAN + vpn;
    const sum = checksum(h.ram, f);
    const old = this.oldChecksum.get(key);
    this.oldChecksum.set(key, sum);
    if (old !== sum) return;
    // 3. Unstable tree: a page of this pass with the same bytes becomes the KSM page; otherwise
    //    this page goes into the tree where the search ended.
    const { index, found } = this.unstableSearch(f);
    if (found) {
      const mm2 = h.mms.get(this.unstable[2 * index]!)!;
      const vpn2 = this.unstable[2 * index + 1]!;
      const f2 = pteFrame(mm2.pt.get(vpn2));
      // try_to_merge_two_pages: the tree page becomes the KSM page, then ours is replaced by it.
      this.unstable.splice(2 * index, 2);
      if (!this.tryToMergeOnePage(mm2, vpn2, f2, -1)) return;
      this.insertStable(f2);
      if (this.tryToMergeOnePage(mm, vpn, f, f2)) h.stats.ksmMerges++;
      return;
    }
    this.unstable.splice(2 * index, 0, mm.id, vpn);
  }

  /** stable_tree_search: the index of the KSM frame with f's bytes, or -1. */
  private stableSearch(f: number): number {
    const ram = this.h.ram;
    let lo = 0;
    let hi = this.stable.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = comparePages(ram, f, this.stable[mid]!);
      if (c === 0) return mid;
      if (c < 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return -1;
  }

  private insertStable(kf: number): void {
    const ram = this.h.ram;
    let lo = 0;
    let hi = this.stable.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePages(ram, kf, this.stable[mid]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    this.stable.splice(lo, 0, kf);
    this.stableSet.add(kf);
  }

  /**
   * unstable_tree_search_insert's search: bisect the items by the contents of the page each maps
   * now. An item whose page went away (unmapped, exited, no longer mergeable, already KSM) cannot
   * be merged with; it still steers the search by its current bytes when it has any, as a stale
   * rbtree node does. Returns where f's bytes are (found) or would be inserted.
   */
  private unstableSearch(f: number): { index: number; found: boolean } {
    const h = this.h;
    const ram = h.ram;
    let lo = 0;
    let hi = this.unstable.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const mm2 = h.mms.get(this.unstable[2 * mid]!);
      const vpn2 = this.unstable[2 * mid + 1]!;
      const pte2 = mm2 === undefined || mm2.dead ? 0 : mm2.pt.get(vpn2);
      if (!ptePresent(pte2)) {
        // Nothing to compare with: drop the dead node and search the same range again.
        this.unstable.splice(2 * mid, 2);
        hi--;
        continue;
      }
      const f2 = pteFrame(pte2);
      const c = comparePages(ram, f, f2);
      if (c === 0) {
        const v2 = findVma(mm2!.vmas, vpn2 << PAGE_SHIFT);
        const usable = f2 !== f && v2 !== null && (v2.flags & VM_MERGEABLE) !== 0 && (h.ft.flags[f2] & PG_KSM) === 0;
        return { index: mid, found: usable };
      }
      if (c < 0) hi = mid;
      else lo = mid + 1;
    }
    return { index: lo, found: false };
  }

  /** try_to_merge_one_page: write-protect `f` and, if kf >= 0, replace it by kf. kf === -1 turns
   *  `f` itself into a KSM page. KSM holds its own reference on `f` meanwhile (the "+1"). */
  private tryToMergeOnePage(mm: Mm, vpn: number, f: number, kf: number): boolean {
    const h = this.h;
    const ft = h.ft;
    if (f === kf) return true;
    if ((ft.flags[f] & PG_LOCKED) !== 0) return false;
    ft.flags[f] |= PG_LOCKED;
    ft.refcount[f]++;
    mm.busy++;
    let ok = false;
    try {
      if (this.writeProtectPage(mm, vpn, f)) {
        if (kf < 0) {
          // Mark dirty so the KSM page is written to swap if ever reclaimed.
          ft.flags[f] |= PG_KSM | PG_DIRTY;
          ok = true;
        } else if (pagesIdentical(h.ram, f, kf)) {
          ok = this.replacePage(mm, vpn, f, kf);
        }
      }
    } finally {
      mm.busy--;
      ft.flags[f] &= ~PG_LOCKED;
      h.putFrame(f);
    }
    return ok;
  }

  /** write_protect_page: S; clear+flush the pte first (so no new gup can race the check);
   *  refuse if mapcount + 1 + swapped != refcount (someone else holds a reference: a pin);
   *  otherwise install it read-only and clean (dirty moves to the page); E. */
  private writeProtectPage(mm: Mm, vpn: number, f: number): boolean {
    const h = this.h;
    const ft = h.ft;
    const addr = vpn << PAGE_SHIFT;
    const range: MmuNotifierRange = { mm, start: addr, end: addr + PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true };
    const inPlace = h.changePteOutsideInvalidate;
    if (!inPlace) h.notifyStart(range);
    h.preempt(PP_AFTER_START, mm, range.start, range.end);
    let ok = false;
    const pte = mm.pt.get(vpn);
    if (ptePresent(pte) && pteFrame(pte) === f) {
      // Linux also checks an anon-exclusive page (a pin needs one); here: a single mapping.
      if ((pte & (PTE_WRITE | PTE_DIRTY)) !== 0 || ft.mapcount[f] === 1) {
        const swapped = (ft.flags[f] & PG_SWAPCACHE) !== 0 ? 1 : 0;
        mm.pt.set(vpn, 0);
        if (ft.mapcount[f] + 1 + swapped !== ft.refcount[f]) {
          mm.pt.set(vpn, pte);
          h.stats.ksmRefusedPinned++;
        } else {
          if ((pte & PTE_DIRTY) !== 0) ft.flags[f] |= PG_DIRTY;
          if (inPlace) mmuNotifierChangePte(mm, addr, f, false); // set_pte_at_notify: secondary first
          mm.pt.set(vpn, pte & ~(PTE_WRITE | PTE_DIRTY));
          ok = true;
        }
      } else {
        ok = true;
      }
    }
    h.preempt(PP_BEFORE_END, mm, range.start, range.end);
    if (!inPlace) h.notifyEnd(range);
    return ok;
  }

  /** replace_page: S; pte_same; take kf; clear+flush; map kf read-only; drop f's rmap and
   *  reference (it may be freed once KSM drops its own); E. */
  private replacePage(mm: Mm, vpn: number, f: number, kf: number): boolean {
    const h = this.h;
    const ft = h.ft;
    const addr = vpn << PAGE_SHIFT;
    const range: MmuNotifierRange = { mm, start: addr, end: addr + PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true };
    const inPlace = h.changePteOutsideInvalidate;
    if (!inPlace) h.notifyStart(range);
    h.preempt(PP_AFTER_START, mm, range.start, range.end);
    const pte = mm.pt.get(vpn);
    let ok = false;
    if (ptePresent(pte) && pteFrame(pte) === f && (pte & PTE_WRITE) === 0 && ft.refcount[kf] > 0) {
      ft.refcount[kf]++;
      h.unmapPte(mm, vpn);
      mmuNotifierChangePte(mm, addr, kf, false);
      h.mapPte(mm, vpn, kf, pte & PTE_YOUNG);
      h.preempt(PP_AFTER_CLEAR, mm, range.start, range.end);
      if (ft.mapcount[f] === 0) h.tryFreeSwap(f);
      h.putFrame(f);
      ok = true;
    }
    h.preempt(PP_BEFORE_END, mm, range.start, range.end);
    if (!inPlace) h.notifyEnd(range);
    return ok;
  }
}

/** FNV-1a over the page's 32-bit words (calc_checksum's role: cheap "did it change" test). */
export function checksum(ram: Uint8Array, f: number): number {
  const words = new Int32Array(ram.buffer, ram.byteOffset + f * PAGE_SIZE, PAGE_SIZE >>> 2);
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

export function pagesIdentical(ram: Uint8Array, a: number, b: number): boolean {
  return comparePages(ram, a, b) === 0;
}

/** memcmp of two frames: negative, zero or positive, by the first differing byte. */
export function comparePages(ram: Uint8Array, a: number, b: number): number {
  const oa = a * PAGE_SIZE;
  const ob = b * PAGE_SIZE;
  // Word-wise first (equal words are equal bytes), then the first differing byte decides.
  const wa = new Int32Array(ram.buffer, ram.byteOffset + oa, PAGE_SIZE >>> 2);
  const wb = new Int32Array(ram.buffer, ram.byteOffset + ob, PAGE_SIZE >>> 2);
  for (let i = 0; i < wa.length; i++) {
    if (wa[i] !== wb[i]) {
      for (let k = i * 4; k < i * 4 + 4; k++) {
        const d = ram[oa + k]! - ram[ob + k]!;
        if (d !== 0) return d;
      }
    }
  }
  return 0;
}
