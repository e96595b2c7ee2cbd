// Kernel samepage merging: ksmd scans MADV_MERGEABLE areas, keeps an unstable tree of candidate
// pages (rebuilt every full scan, only pages whose checksum held still for one pass) and a stable
// tree of merged read-only KSM pages, all keyed by content. Mirrors mm/ksm.c
// (ksm_do_scan, cmp_and_merge_page, try_to_merge_one_page, write_protect_page, replace_page,
// break_ksm). The "trees" are maps from a content checksum to candidates, compared byte-wise.

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
  /** Stable tree: checksum -> KSM frames with that content. */
  readonly stable = new Map<number, number[]>();
  private readonly stableChecksum = new Map<number, number>();
  /** Unstable tree: checksum -> flat [mmId, vpn, ...] candidates of this pass. */
  private unstable = new Map<number, number[]>();
  /** rmap_item.oldchecksum by (mm, vpn). */
  private readonly oldChecksum = new Map<number, number>();
  private cursorMm = 0;
  private cursorVpn = 0;
  private foundThisPass = 0;

  constructor(private readonly h: Host) {}

  get pagesShared(): number {
    return this.stableChecksum.size;
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
    return this.stableChecksum.has(f);
  }

  stableFrames(): number[] {
    return [...this.stableChecksum.keys()];
  }

  /** Drops the scan state of an exited mm (its rmap_items). */
  forgetMm(mm: Mm): void {
    for (const key of [...this.oldChecksum.keys()]) {
      if (Math.floor(key / VPN_SPAN) === mm.id) this.oldChecksum.delete(key);
    }
  }

  /** Called when a KSM frame is freed (its stable node goes away). */
  forgetStable(f: number): void {
    const sum = this.stableChecksum.get(f);
    if (sum === undefined) return;
    this.stableChecksum.delete(f);
    const list = this.stable.get(sum)!;
    const i = list.indexOf(f);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.stable.delete(sum);
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
        this.unstable = new Map();
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
    const pte = mm.pt.get(vpn);
    const f = pteFrame(pte);
    if ((h.ft.flags[f] & PG_KSM) !== 0) return;
    const sum = checksum(h.ram, f);
    // 1. Stable tree: merge into an existing KSM page with the same bytes.
    const kpages = this.stable.get(sum);
    if (kpages !== undefined) {
      for (const kf of kpages) {
        if (pagesIdentical(h.ram, kf, f)) {
          if (this.tryToMergeOnePage(mm, vpn, f, kf)) h.stats.ksmMerges++;
          return;
        }
      }
    }
    // 2. Volatile pages (checksum changed since last pass) stay out of the unstable tree.
    const key = mm.id * VPN_SPAN + vpn;
    const old = this.oldChecksum.get(key);
    this.oldChecksum.set(key, sum);
    if (old !== sum) return;
    // 3. Unstable tree: a page of this pass with the same bytes becomes the KSM page.
    let cands = this.unstable.get(sum);
    if (cands !== undefined) {
      for (let i = 0; i < cands.length; i += 2) {
        const mm2 = h.mms.get(cands[i]);
        const vpn2 = cands[i + 1];
        if (mm2 === undefined || mm2.dead) continue;
        const v2 = findVma(mm2.vmas, vpn2 << PAGE_SHIFT);
        if (v2 === null || (v2.flags & VM_MERGEABLE) === 0) continue;
        const pte2 = mm2.pt.get(vpn2);
        if (!ptePresent(pte2)) continue;
        const f2 = pteFrame(pte2);
        if (f2 === f || (h.ft.flags[f2] & PG_KSM) !== 0 || !pagesIdentical(h.ram, f, f2)) continue;
        // try_to_merge_two_pages: the tree page becomes the KSM page, then ours is replaced.
        if (!this.tryToMergeOnePage(mm2, vpn2, f2, -1)) return;
        this.insertStable(f2, checksum(h.ram, f2));
        cands.splice(i, 2);
        if (this.tryToMergeOnePage(mm, vpn, f, f2)) h.stats.ksmMerges++;
        return;
      }
    } else {
      cands = [];
      this.unstable.set(sum, cands);
    }
    cands.push(mm.id, vpn);
  }

  private insertStable(kf: number, sum: number): void {
    this.stableChecksum.set(kf, sum);
    const list = this.stable.get(sum);
    if (list === undefined) this.stable.set(sum, [kf]);
    else list.push(kf);
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
  const wa = new Int32Array(ram.buffer, ram.byteOffset + a * PAGE_SIZE, PAGE_SIZE >>> 2);
  const wb = new Int32Array(ram.buffer, ram.byteOffset + b * PAGE_SIZE, PAGE_SIZE >>> 2);
  for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
  return true;
}
