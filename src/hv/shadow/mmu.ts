// The VM's shadow MMU (KVM's arch/x86/kvm/mmu/mmu.c, shadow paging only): the shadow page hash
// keyed by (gfn, role), allocation and recycling, linking, leaf sptes and their rmap entries,
// write-protection of shadowed guest tables, and every way an spte is torn down.
//
// Invariants kept here (reference/kvm-mmu.md §7):
// - 14: every present leaf spte is in its gfn's rmap exactly once; parentPtes mirror non-leaf sptes.
// - 10: a gfn shadowed by a valid indirect shadow page is write-tracked and no spte maps it writable.
// - 15: shadow pages are freed only after every vCPU TLB was flushed; roots in use are only
//   marked invalid, and vCPUs reload them before running again.

import type { EventRing } from '../../obs/event-ring.js';
import { EV_SPTE_ZAP, HOST, ZAP_INVALIDATION, ZAP_OTHER, ZAP_RECYCLE, ZAP_REPLACE } from '../../obs/events.js';
import type { Memslot, Memslots } from '../memslots.js';
import type { KvmStats } from '../stats.js';
import { ShadowPage } from './shadow-page.js';
import { GUEST_ACC_U, GUEST_ACC_W, isDirect, roleKey, ROLE_INVALID } from './role.js';
import { refIndex, refPage, rmapAdd, rmapOf, rmapRemove, spteRef } from './rmap.js';
import {
  SPTE_A,
  SPTE_D,
  SPTE_FRAME_SHIFT,
  SPTE_HOST_WRITABLE,
  SPTE_MMIO,
  SPTE_MMU_WRITABLE,
  SPTE_NONLEAF,
  SPTE_P,
  SPTE_PINNED,
  SPTE_U,
  SPTE_W,
} from './spte.js';

/** What the shadow MMU needs from the host for the frames its sptes map. */
export interface FrameOwner {
  readonly frameGen: Int32Array;
  putPage(frame: number): void;
  markPageDirty(frame: number): void;
  markPageAccessed(frame: number): void;
}

/** What the shadow MMU needs from the VM's vCPUs (KVM's requests). */
export interface VcpuRequests {
  /** kvm_flush_remote_tlbs: every vCPU's TLB is empty when this returns. */
  flushRemoteTlbs(): void;
  /** A root some vCPU holds was zapped: that vCPU must reload before its next instruction. */
  rootInvalidated(sp: ShadowPage): void;
}

/** KVM_MIN_ALLOC_MMU_PAGES and the refill target of make_mmu_pages_available. */
const MIN_ALLOC_MMU_PAGES = 64;
const REFILL_PAGES = 25;

export class ShadowMmu {
  readonly pages: (ShadowPage | null)[] = [];
  private readonly freeIds: number[] = [];
  private readonly hash = new Map<number, ShadowPage[]>();
  /** Valid shadow pages, oldest first (KVM's active_mmu_pages FIFO). */
  private readonly active = new Map<number, ShadowPage>();
  readonly maxPages: number;
  /** Number of valid indirect shadow pages (KVM's indirect_shadow_pages). */
  indirectShadowPages = 0;
  /** Trace ring (null: tracing off). Slow paths only: zaps, faults, notifier calls. */
  ring: EventRing | null = null;
  /** Why sptes are being dropped right now (ZAP_*), for SPTE_ZAP events; callers set and restore. */
  zapCause = ZAP_OTHER;

  constructor(
    readonly memslots: Memslots,
    readonly host: FrameOwner,
    readonly stats: KvmStats,
    readonly vcpus: VcpuRequests,
    guestPages: number,
    maxPages = 0,
  ) {
    // KVM_PERMILLE_MMU_PAGES = 20, but our shadow pages hold 1024 entries, not 512.
    this.maxPages = maxPages > 0 ? maxPages : Math.max(MIN_ALLOC_MMU_PAGES, Math.floor((guestPages * 40) / 1000));
  }

  get count(): number {
    return this.active.size;
  }

  page(id: number): ShadowPage {
    const sp = this.pages[id];
    if (sp === null || sp === undefined) throw new Error(`shadow page ${id} does not exist`);
    return sp;
  }

  /** kvm_mmu_find_shadow_page: a valid page for (gfn, role), or null. */
  find(gfn: number, role: number): ShadowPage | null {
    const list = this.hash.get(gfn);
    if (list === undefined) return null;
    const key = roleKey(role);
    for (const sp of list) if (sp.valid && roleKey(sp.role) === key) return sp;
    return null;
  }

  /** kvm_mmu_get_shadow_page: find, or allocate and (for indirect pages) account as shadowed. */
  get(gfn: number, role: number): ShadowPage {
    const found = this.find(gfn, role);
    if (found !== null) return found;
    this.stats.mmu_cache_miss++;
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.pages.length;
    const sp = new ShadowPage(id, gfn, roleKey(role));
    this.pages[id] = sp;
    let list = this.hash.get(gfn);
    if (list === undefined) this.hash.set(gfn, (list = []));
    list.push(sp);
    this.active.set(id, sp);
    this.stats.shadow_pages = this.active.size;
    if (!isDirect(role)) this.accountShadowed(sp);
    return sp;
  }

  /** account_shadowed: the guest table's gfn becomes write-tracked and loses writable sptes. */
  private accountShadowed(sp: ShadowPage): void {
    this.indirectShadowPages++;
    const slot = this.memslots.find(sp.gfn);
    if (slot === null) return;
    const i = sp.gfn - slot.baseGfn;
    slot.writeTrack[i]++;
    if (slot.writeTrack[i] === 1 && this.writeProtectGfn(slot, sp.gfn)) this.vcpus.flushRemoteTlbs();
  }

  private unaccountShadowed(sp: ShadowPage): void {
    this.indirectShadowPages--;
    const slot = this.memslots.find(sp.gfn);
    if (slot === null) return;
    const i = sp.gfn - slot.baseGfn;
    if (slot.writeTrack[i] > 0) slot.writeTrack[i]--;
  }

  isWriteTracked(gfn: number): boolean {
    const slot = this.memslots.find(gfn);
    return slot !== null && slot.writeTrack[gfn - slot.baseGfn] > 0;
  }

  /** kvm_mmu_slot_gfn_write_protect: clear W on every spte mapping gfn. Returns "flush needed". */
  writeProtectGfn(slot: Memslot, gfn: number): boolean {
    const refs = rmapOf(slot, gfn);
    if (refs === undefined) return false;
    let flush = false;
    for (const ref of refs) {
      const sp = this.pages[refPage(ref)] as ShadowPage;
      const idx = refIndex(ref);
      const spte = sp.spt[idx];
      if (spte & SPTE_W) {
        // Keep D: the frame was possibly written; it is pushed to the host when the spte goes.
        if (spte & SPTE_D) this.propagateDirty(sp, idx, spte);
        sp.spt[idx] = spte & ~SPTE_W;
        flush = true;
      }
    }
    return flush;
  }

  // ---- leaf sptes and the rmap --------------------------------------------------------------

  /**
   * mmu_set_spte: make `sp.spt[idx]` map `frame` for `gfn` with `flags` (SPTE_* bits except P).
   * Returns true when a different translation was replaced (caller flushes).
   */
  setLeaf(sp: ShadowPage, idx: number, slot: Memslot, gfn: number, frame: number, gen: number, flags: number): boolean {
    const old = sp.spt[idx];
    let flush = false;
    if (old & SPTE_P) {
      if (old & SPTE_NONLEAF) {
        this.unlinkChild(sp, idx);
        this.stats.mmu_pde_zapped++;
        flush = true;
      } else if (old >>> SPTE_FRAME_SHIFT === frame && sp.gfns[idx] === gfn && !(old & SPTE_MMIO) && sp.gens[idx] === gen) {
        // Same frame: update permissions in place, keep the rmap entry, keep a pin if any.
        if (old & SPTE_PINNED && flags & SPTE_PINNED) {
          this.host.putPage(frame); // the new fault's reference is redundant
          this.stats.pinned_pages--;
        }
        const keep = old & (SPTE_A | SPTE_D | SPTE_PINNED);
        sp.spt[idx] = (frame << SPTE_FRAME_SHIFT) | SPTE_P | flags | keep;
        return (old & ~sp.spt[idx] & (SPTE_W | SPTE_U)) !== 0;
      } else {
        const cause = this.zapCause;
        this.zapCause = ZAP_REPLACE;
        this.dropSpte(sp, idx);
        this.zapCause = cause;
        flush = true;
      }
    }
    sp.spt[idx] = (frame << SPTE_FRAME_SHIFT) | SPTE_P | flags;
    sp.gfns[idx] = gfn;
    sp.gens[idx] = gen;
    sp.presentCount++;
    this.stats.sptes_present++;
    if (flags & SPTE_PINNED) this.stats.pinned_pages++;
    this.rmapAdd(slot, gfn, spteRef(sp.id, idx));
    return flush;
  }

  /** An MMIO spte for a gfn outside every memslot: no frame, no rmap entry. */
  /** An MMIO spte for `gfn` with the guest walk's effective access (GUEST_ACC_W | GUEST_ACC_U, after
   *  protect_clean_gpte): outside RAM the guest's U/S and R/W bits are honoured, and a first write
   *  through a clean gpte still faults so the walk sets D, exactly as for memory. */
  setMmio(sp: ShadowPage, idx: number, gfn: number, access: number): void {
    if (sp.spt[idx] & SPTE_P) this.dropSpte(sp, idx);
    sp.spt[idx] = SPTE_P | SPTE_MMIO | (access & GUEST_ACC_U ? SPTE_U : 0) | (access & GUEST_ACC_W ? SPTE_W : 0);
    sp.gfns[idx] = gfn;
    sp.presentCount++;
    this.stats.sptes_present++;
    this.stats.pf_mmio_spte_created++;
  }

  private rmapAdd(slot: Memslot, gfn: number, ref: number): void {
    const n = rmapAdd(slot, gfn, ref);
    if (n > this.stats.max_mmu_rmap_size) this.stats.max_mmu_rmap_size = n;
  }

  private rmapRemove(gfn: number, ref: number): void {
    const slot = this.memslots.find(gfn);
    if (slot === null) throw new Error(`rmap: gfn ${gfn} has no memslot`);
    rmapRemove(slot, gfn, ref);
  }

  private propagateDirty(sp: ShadowPage, idx: number, spte: number): void {
    const frame = spte >>> SPTE_FRAME_SHIFT;
    // Only while the frame is still the one we mapped: a recycled frame belongs to someone else.
    if (this.host.frameGen[frame] === sp.gens[idx]) this.host.markPageDirty(frame);
  }

  /**
   * drop_spte for a leaf (mmu_spte_clear_track_bits + rmap_remove): A and D go to the host frame
   * (the pre-6.x explicit rule), a pin is released, the rmap entry removed.
   */
  dropSpte(sp: ShadowPage, idx: number): void {
    const spte = sp.spt[idx];
    if (!(spte & SPTE_P)) return;
    if (spte & SPTE_NONLEAF) {
      this.unlinkChild(sp, idx);
      return;
    }
    sp.spt[idx] = 0;
    sp.presentCount--;
    this.stats.sptes_present--;
    const ring = this.ring;
    if (ring !== null) {
      // The gva is known when the page has a parent: its PDE index and our PTE index.
      const gva = sp.parentPtes.length > 0 ? ((refIndex(sp.parentPtes[0]!) << 22) | (idx << 12)) >>> 0 : -1;
      ring.emit(EV_SPTE_ZAP, HOST, sp.gfns[idx], spte & SPTE_MMIO ? -1 : spte >>> SPTE_FRAME_SHIFT, this.zapCause, spteRef(sp.id, idx), gva);
    }
    if (spte & SPTE_MMIO) return;
    const frame = spte >>> SPTE_FRAME_SHIFT;
    const live = this.host.frameGen[frame] === sp.gens[idx];
    if (live) {
      if (spte & SPTE_D) this.host.markPageDirty(frame);
      if (spte & SPTE_A) this.host.markPageAccessed(frame);
    }
    if (spte & SPTE_PINNED) {
      this.host.putPage(frame);
      this.stats.pinned_pages--;
    }
    this.rmapRemove(sp.gfns[idx], spteRef(sp.id, idx));
  }

  // ---- non-leaf links -------------------------------------------------------------------------

  /** link_shadow_page: parent.spt[idx] -> child. An existing different link is dropped first. */
  link(parent: ShadowPage, idx: number, child: ShadowPage): boolean {
    const old = parent.spt[idx];
    let flush = false;
    if (old & SPTE_P) {
      if (old & SPTE_NONLEAF && old >>> SPTE_FRAME_SHIFT === child.id) return false;
      this.dropSpte(parent, idx);
      flush = true;
    }
    parent.spt[idx] = (child.id << SPTE_FRAME_SHIFT) | SPTE_P | SPTE_W | SPTE_U | SPTE_NONLEAF;
    parent.presentCount++;
    child.parentPtes.push(spteRef(parent.id, idx));
    return flush;
  }

  /** drop_parent_pte: clear a non-leaf spte and forget it in the child's parent list. */
  private unlinkChild(parent: ShadowPage, idx: number): void {
    const spte = parent.spt[idx];
    const child = this.pages[spte >>> SPTE_FRAME_SHIFT] as ShadowPage;
    parent.spt[idx] = 0;
    parent.presentCount--;
    const ref = spteRef(parent.id, idx);
    const at = child.parentPtes.indexOf(ref);
    if (at < 0) throw new Error(`parent_ptes: ${ref} missing from shadow page ${child.id}`);
    child.parentPtes[at] = child.parentPtes[child.parentPtes.length - 1];
    child.parentPtes.pop();
  }

  // ---- zapping --------------------------------------------------------------------------------

  /**
   * kvm_mmu_prepare_zap_page + commit: drop every spte, unlink from parents, stop write-tracking.
   * A page that is some vCPU's root is only marked invalid (freed when its last root slot goes).
   * The caller must flush remote TLBs before any vCPU runs again (we flush here to be safe).
   */
  zapPage(sp: ShadowPage): void {
    if (!sp.valid) return;
    for (let i = 0; i < 1024 && sp.presentCount > 0; i++) if (sp.spt[i] & SPTE_P) this.dropSpte(sp, i);
    while (sp.parentPtes.length > 0) {
      const ref = sp.parentPtes[sp.parentPtes.length - 1];
      this.unlinkChild(this.pages[refPage(ref)] as ShadowPage, refIndex(ref));
    }
    if (!isDirect(sp.role)) this.unaccountShadowed(sp);
    sp.valid = false;
    this.stats.mmu_shadow_zapped++;
    const list = this.hash.get(sp.gfn) as ShadowPage[];
    list.splice(list.indexOf(sp), 1);
    if (list.length === 0) this.hash.delete(sp.gfn);
    this.active.delete(sp.id);
    this.stats.shadow_pages = this.active.size;
    this.vcpus.flushRemoteTlbs();
    if (sp.rootCount > 0) {
      sp.role |= ROLE_INVALID;
      this.vcpus.rootInvalidated(sp);
    } else {
      this.free(sp);
    }
  }

  /** A root slot let go of sp; free it if it was zapped meanwhile. */
  putRoot(sp: ShadowPage): void {
    sp.rootCount--;
    if (sp.rootCount === 0 && !sp.valid) this.free(sp);
  }

  private free(sp: ShadowPage): void {
    this.pages[sp.id] = null;
    this.freeIds.push(sp.id);
  }

  /** make_mmu_pages_available: recycle the oldest non-root pages when the budget is exhausted. */
  makePagesAvailable(): void {
    if (this.active.size < this.maxPages) return;
    const target = Math.max(0, this.maxPages - REFILL_PAGES);
    const cause = this.zapCause;
    this.zapCause = ZAP_RECYCLE;
    for (const sp of this.active.values()) {
      if (this.active.size <= target) break;
      if (sp.rootCount > 0) continue;
      this.zapPage(sp);
      this.stats.mmu_recycled++;
    }
    this.zapCause = cause;
  }

  /** Zap every leaf spte mapping a gfn in [gfnStart, gfnEnd) of slot (kvm_zap_rmap). Returns count. */
  unmapGfnRange(slot: Memslot, gfnStart: number, gfnEnd: number): number {
    let zapped = 0;
    const lo = Math.max(gfnStart, slot.baseGfn) - slot.baseGfn;
    const hi = Math.min(gfnEnd, slot.baseGfn + slot.npages) - slot.baseGfn;
    const cause = this.zapCause;
    this.zapCause = ZAP_INVALIDATION;
    for (let i = lo; i < hi; i++) {
      const refs = slot.rmap[i];
      if (refs === undefined) continue;
      while (refs.length > 0) {
        const ref = refs[refs.length - 1];
        this.dropSpte(this.pages[refPage(ref)] as ShadowPage, refIndex(ref));
        zapped++;
        if (slot.rmap[i] === undefined) break;
      }
    }
    this.zapCause = cause;
    return zapped;
  }

  /** kvm_age_gfn / kvm_test_age_gfn over the rmap: was any spte's A set (and clear it unless testing)? */
  ageGfnRange(slot: Memslot, gfnStart: number, gfnEnd: number, testOnly: boolean): boolean {
    let young = false;
    const lo = Math.max(gfnStart, slot.baseGfn) - slot.baseGfn;
    const hi = Math.min(gfnEnd, slot.baseGfn + slot.npages) - slot.baseGfn;
    for (let i = lo; i < hi; i++) {
      const refs = slot.rmap[i];
      if (refs === undefined) continue;
      for (const ref of refs) {
        const sp = this.pages[refPage(ref)] as ShadowPage;
        const idx = refIndex(ref);
        if (sp.spt[idx] & SPTE_A) {
          if (testOnly) return true;
          young = true;
          sp.spt[idx] &= ~SPTE_A;
        }
      }
    }
    return young;
  }

  /** kvm_arch_flush_shadow_all: zap every shadow page (release, teardown). */
  zapAll(): void {
    for (const sp of [...this.active.values()]) this.zapPage(sp);
  }

  /** Every valid shadow page, oldest first (checkers, views). */
  validPages(): IterableIterator<ShadowPage> {
    return this.active.values();
  }

  pagesForGfn(gfn: number): readonly ShadowPage[] {
    return this.hash.get(gfn) ?? [];
  }

  /** Leaf spte flags for a fresh mapping (make_spte), given effective guest access and host state. */
  static leafFlags(accW: boolean, accU: boolean, hostWritable: boolean, tracked: boolean, writeFault: boolean): number {
    let f = SPTE_A;
    if (accU) f |= SPTE_U;
    if (hostWritable) f |= SPTE_HOST_WRITABLE;
    if (accW) {
      f |= SPTE_MMU_WRITABLE;
      if (hostWritable && !tracked) {
        f |= SPTE_W;
        if (writeFault) f |= SPTE_D;
      }
    }
    return f;
  }
}
