// The VM's TDP MMU (KVM's arch/x86/kvm/mmu/tdp_mmu.c, EPT/NPT-style two-dimensional paging): one
// direct gpa->hpa table per VM, keyed by the memslot layout (not by any guest CR3), whose leaf
// entries map a gfn to the host frame gup gave for it. The guest's own page tables are neither
// shadowed nor write-protected: the processor walks them itself (tdp-vcpu.ts), translating each
// guest-physical reference through this table.
//
// Geometry: a 2-level table over the 20-bit gfn, a root of 1024 entries each naming a leaf table
// of 1024 entries, the same shape as the guest's own tables (so a 2-D walk over a 2-level guest
// reads at most (2+1)*(2+1)-1 = 8 entries). Leaf entries use the spte encoding of shadow/spte.ts
// (frame << 12 | SPTE_P/W/A/D/HOST_WRITABLE/PINNED/STALE*); there are no non-leaf or MMIO entries
// (a gfn outside every memslot is answered by the walker as unbacked memory).
//
// Invariants kept here (reference/kvm-mmu.md §7, as for shadow):
// - 1/2: a present leaf maps what the host PTE maps (writable only if the host PTE is), except
//   for gfns inside an in-flight invalidation; unmapGfnRange tears leaves down by gfn range,
//   without an rmap (the gfn *is* the table index), before invalidate_range_start returns.
// - 9: A/D of a torn-down leaf go to the host frame while it is still the frame we mapped.
// - 17/22: zapAll (release, memslot updates, teardown) drops every leaf and starts a new root.

import type { EventRing } from '../../obs/event-ring.js';
import { EV_SPTE_ZAP, HOST, ZAP_INVALIDATION, ZAP_OTHER, ZAP_REPLACE } from '../../obs/events.js';
import type { Memslot, Memslots } from '../memslots.js';
import type { FrameOwner } from '../shadow/mmu.js';
import type { KvmStats } from '../stats.js';
import { SPTE_A, SPTE_D, SPTE_FRAME_SHIFT, SPTE_HOST_WRITABLE, SPTE_P, SPTE_PINNED, SPTE_W } from '../shadow/spte.js';

export const TDP_ENTRIES = 1024;
/** The spte_ref field of SPTE_SET/SPTE_ZAP events for a TDP leaf (no shadow page: the gfn names it). */
export const TDP_LEAF_REF = -1;

/** One leaf table: 1024 gfns starting at `baseGfn` (KVM's struct kvm_mmu_page with role.direct). */
export class TdpTable {
  readonly spt = new Uint32Array(TDP_ENTRIES);
  /** Host frame generation recorded when each leaf was made (stale-access detector, invariant 4). */
  readonly gens = new Int32Array(TDP_ENTRIES);
  present = 0;
  constructor(readonly baseGfn: number) {}
}

/** Counters of the 2-D walk (summed over vCPUs) and of the table, for --stats and bench hv. */
export class TdpStats {
  /** TLB misses the processor resolved (or tried to) through the 2-D walk. */
  misses = 0;
  /** Guest paging-structure entries (PDE/PTE) read by those walks. */
  guestRefs = 0;
  /** gpa->hpa table entries read by those walks (root and leaf, for every guest-physical reference). */
  tdpRefs = 0;
  /** Most entries one TLB miss read (both dimensions). */
  maxRefsPerMiss = 0;
  /** Walks abandoned for a missing or read-only gpa->hpa leaf (an EPT violation: a KVM exit). */
  tdpViolations = 0;
  /** Of those, on a guest page-table reference (not on the data page). */
  tdpViolationsInWalk = 0;
  /** Guest CR3 writes and INVLPGs: only the processor's TLB is touched, KVM never runs. */
  cr3Writes = 0;
  invlpgs = 0;
  /** Leaf tables allocated, roots built. */
  tablesAllocated = 0;
  rootsBuilt = 1;
}

export interface TdpRequests {
  /** kvm_flush_remote_tlbs: every vCPU's TLB is empty when this returns. */
  flushRemoteTlbs(): void;
}

export class TdpMmu {
  /** The root: root[gfn >>> 10] is the leaf table for those 1024 gfns, or null. */
  root: (TdpTable | null)[] = new Array<TdpTable | null>(TDP_ENTRIES).fill(null);
  /** Bumped whenever the root is replaced (memslot update, release): the layout it was built for. */
  rootGeneration = 0;
  readonly tdpStats = new TdpStats();
  /** Present leaves (also counted in KvmStats.sptes_present). */
  leaves = 0;
  tables = 0;
  ring: EventRing | null = null;
  /** Why leaves are being dropped right now (ZAP_*), for SPTE_ZAP events. */
  zapCause = ZAP_OTHER;

  constructor(
    readonly memslots: Memslots,
    readonly host: FrameOwner,
    readonly stats: KvmStats,
    readonly vcpus: TdpRequests,
  ) {}

  /** The leaf entry for gfn (0 when none). */
  entry(gfn: number): number {
    const t = this.root[gfn >>> 10];
    return t === null || t === undefined ? 0 : t.spt[gfn & 1023]!;
  }

  /** The frame generation recorded in gfn's leaf. */
  gen(gfn: number): number {
    const t = this.root[gfn >>> 10];
    return t === null || t === undefined ? 0 : t.gens[gfn & 1023]!;
  }

  table(gfn: number): TdpTable | null {
    return this.root[gfn >>> 10] ?? null;
  }

  /**
   * tdp_mmu_map_handle_target_level: make gfn's leaf map `frame` with `flags` (SPTE_* except P).
   * Returns true when a different translation was replaced (the caller flushes).
   */
  setLeaf(gfn: number, frame: number, gen: number, flags: number): boolean {
    const ti = gfn >>> 10;
    if (ti >= TDP_ENTRIES) throw new RangeError(`tdp: gfn ${gfn} beyond the 32-bit guest-physical space`);
    let t = this.root[ti];
    if (t === null || t === undefined) {
      t = this.root[ti] = new TdpTable(ti << 10);
      this.tables++;
      this.tdpStats.tablesAllocated++;
    }
    const idx = gfn & 1023;
    const old = t.spt[idx]!;
    let flush = false;
    if (old & SPTE_P) {
      if (old >>> SPTE_FRAME_SHIFT === frame && t.gens[idx] === gen) {
        // Same frame (a write fault upgrading a read-only leaf): update in place, keep one pin.
        if (old & SPTE_PINNED && flags & SPTE_PINNED) {
          this.host.putPage(frame);
          this.stats.pinned_pages--;
        }
        t.spt[idx] = (frame << SPTE_FRAME_SHIFT) | SPTE_P | flags | (old & (SPTE_A | SPTE_D | SPTE_PINNED));
        return (old & ~t.spt[idx]! & SPTE_W) !== 0;
      }
      const cause = this.zapCause;
      this.zapCause = ZAP_REPLACE;
      this.dropLeaf(t, idx);
      this.zapCause = cause;
      flush = true;
    }
    t.spt[idx] = (frame << SPTE_FRAME_SHIFT) | SPTE_P | flags;
    t.gens[idx] = gen;
    t.present++;
    this.leaves++;
    this.stats.sptes_present++;
    if (flags & SPTE_PINNED) this.stats.pinned_pages++;
    return flush;
  }

  /** tdp_mmu_set_spte(.., 0) for a leaf: A/D to the host frame if still ours, drop a pin. */
  dropLeaf(t: TdpTable, idx: number): void {
    const spte = t.spt[idx]!;
    if (!(spte & SPTE_P)) return;
    t.spt[idx] = 0;
    t.present--;
    this.leaves--;
    this.stats.sptes_present--;
    const frame = spte >>> SPTE_FRAME_SHIFT;
    if (this.ring !== null) this.ring.emit(EV_SPTE_ZAP, HOST, t.baseGfn + idx, frame, this.zapCause, TDP_LEAF_REF, -1);
    if (this.host.frameGen[frame] === t.gens[idx]) {
      if (spte & SPTE_D) this.host.markPageDirty(frame);
      if (spte & SPTE_A) this.host.markPageAccessed(frame);
    }
    if (spte & SPTE_PINNED) {
      this.host.putPage(frame);
      this.stats.pinned_pages--;
    }
  }

  /**
   * kvm_tdp_mmu_unmap_gfn_range: zap every leaf for a gfn in [gfnStart, gfnEnd) of slot, walking
   * the table by gfn (no rmap). Empty tables are stepped over whole. Returns the leaves zapped.
   */
  unmapGfnRange(slot: Memslot, gfnStart: number, gfnEnd: number): number {
    const lo = Math.max(gfnStart, slot.baseGfn);
    const hi = Math.min(gfnEnd, slot.baseGfn + slot.npages);
    let zapped = 0;
    const cause = this.zapCause;
    this.zapCause = ZAP_INVALIDATION;
    for (let gfn = lo; gfn < hi; ) {
      const t = this.root[gfn >>> 10];
      const tableEnd = Math.min(hi, ((gfn >>> 10) + 1) << 10);
      if (t === null || t === undefined || t.present === 0) {
        gfn = tableEnd;
        continue;
      }
      for (; gfn < tableEnd; gfn++) {
        const idx = gfn & 1023;
        if (t.spt[idx]! & SPTE_P) {
          this.dropLeaf(t, idx);
          zapped++;
        }
      }
    }
    this.zapCause = cause;
    return zapped;
  }

  /** kvm_tdp_mmu_age_gfn_range / test_age: was any leaf in the range accessed (clear A unless testing)? */
  ageGfnRange(slot: Memslot, gfnStart: number, gfnEnd: number, testOnly: boolean): boolean {
    const lo = Math.max(gfnStart, slot.baseGfn);
    const hi = Math.min(gfnEnd, slot.baseGfn + slot.npages);
    let young = false;
    for (let gfn = lo; gfn < hi; gfn++) {
      const t = this.root[gfn >>> 10];
      if (t === null || t === undefined) {
        gfn = (((gfn >>> 10) + 1) << 10) - 1;
        continue;
      }
      const idx = gfn & 1023;
      const spte = t.spt[idx]!;
      if (spte & SPTE_P && spte & SPTE_A) {
        if (testOnly) return true;
        young = true;
        t.spt[idx] = spte & ~SPTE_A;
      }
    }
    return young;
  }

  /**
   * kvm_tdp_mmu_zap_all / invalidate_all_roots: drop every leaf and every table and start a new
   * root (the old one is obsolete: a fault that began under it finds its memslot changed and
   * retries). The caller flushes remote TLBs.
   */
  zapAll(): void {
    for (let i = 0; i < TDP_ENTRIES; i++) {
      const t = this.root[i];
      if (t === null || t === undefined) continue;
      for (let idx = 0; idx < TDP_ENTRIES && t.present > 0; idx++) if (t.spt[idx]! & SPTE_P) this.dropLeaf(t, idx);
      this.root[i] = null;
      this.tables--;
    }
    this.rootGeneration++;
    this.tdpStats.rootsBuilt++;
    this.vcpus.flushRemoteTlbs();
  }

  /** Every present leaf as (gfn, spte, gen), for checkers and views. */
  *presentLeaves(): IterableIterator<[number, number, number]> {
    for (let i = 0; i < TDP_ENTRIES; i++) {
      const t = this.root[i];
      if (t === null || t === undefined) continue;
      for (let idx = 0; idx < TDP_ENTRIES; idx++) {
        const spte = t.spt[idx]!;
        if (spte & SPTE_P) yield [t.baseGfn + idx, spte, t.gens[idx]!];
      }
    }
  }

  /** make_spte for a TDP leaf: accessed, dirty on a write fault, writable when the host PTE is. */
  static leafFlags(hostWritable: boolean, writeFault: boolean): number {
    let f = SPTE_A;
    if (hostWritable) f |= SPTE_HOST_WRITABLE | SPTE_W;
    if (writeFault) f |= SPTE_D;
    return f;
  }
}
