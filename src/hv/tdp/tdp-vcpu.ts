// One vCPU's view of the TDP MMU: the processor's two-dimensional page walk (what EPT/NPT
// hardware does on a TLB miss, reference/kvm-mmu.md §2.10). The guest's page tables are walked by
// the same PageWalker as natively (cpu/paging.ts, A/D bits set by the "hardware"), but every
// guest-physical reference it makes (the PDE, the PTE, the final page) is translated through the
// VM's gpa->hpa table (tdp-mmu.ts). A missing or read-only gpa->hpa leaf is an EPT violation: the
// walk is abandoned, the vCPU exits to KVM with the gfn (exitGfn/exitWrite), KVM's fault path
// maps it, and the instruction re-executes. CR3 writes, INVLPG and paging-mode changes only
// touch the processor's TLB: KVM has no work to do for them under TDP.

import { EXIT_SIGNAL, type Cpu } from '../../cpu/cpu.js';
import { PageWalker, type WalkPort } from '../../cpu/paging.js';
import { ACC_WRITE, TLB_NOCACHE, XLATE_OK, XLATE_UNBACKED, type Mmu } from '../../cpu/ports.js';
import { TLB_MASK, TLB_SIZE } from '../../cpu/tlb.js';
import { EV_TDP_WALK } from '../../obs/events.js';
import type { Memslots } from '../memslots.js';
import { SPTE_A, SPTE_D, SPTE_FRAME_SHIFT, SPTE_P, SPTE_STALE, SPTE_STALE_WRITE, SPTE_W } from '../shadow/spte.js';
import type { StaleReporter } from '../shadow/vcpu-mmu.js';
import type { TdpMmu } from './tdp-mmu.js';

/** TLB generation for detector-flagged translations: no frame ever has it, so every hit reports. */
const STALE_GEN = -1;

export class TdpVcpuMmu implements Mmu, WalkPort {
  readonly walker: PageWalker;
  /** The gfn and access kind of the last EPT violation (read by the vCPU's exit handler). */
  exitGfn = -1;
  exitWrite = false;
  /** Whether the last violation hit a guest page-table reference (not the data page). */
  exitInWalk = false;
  /** gfn behind each TLB slot as last filled (stale reports and checkers: the TLB holds frames). */
  readonly tlbGfn = new Int32Array(TLB_SIZE).fill(-1);
  /** gpa->hpa entries read by the walk in progress, and the gfn it ended on. */
  private tdpRefsNow = 0;
  private finalGfn = -1;
  private inWalk = false;

  constructor(
    readonly index: number,
    readonly mmu: TdpMmu,
    private readonly memslots: Memslots,
    private readonly reportStale: StaleReporter,
    private readonly noteUnbacked: (gfn: number) => void,
  ) {
    this.walker = new PageWalker(this);
  }

  translate(cpu: Cpu, lin: number, acc: number): number {
    const s = this.mmu.tdpStats;
    const w = this.walker;
    s.misses++;
    const g0 = w.refs;
    this.tdpRefsNow = 0;
    this.finalGfn = -1;
    this.inWalk = true;
    let r = -1;
    try {
      r = w.translate(cpu, lin, acc);
    } finally {
      // Counted whether the walk completed, faulted or exited: those references were made.
      const guest = w.refs - g0;
      s.guestRefs += guest;
      s.tdpRefs += this.tdpRefsNow;
      if (guest + this.tdpRefsNow > s.maxRefsPerMiss) s.maxRefsPerMiss = guest + this.tdpRefsNow;
      const ring = this.mmu.ring;
      if (ring !== null) ring.emit(EV_TDP_WALK, this.index, lin >>> 0, this.finalGfn, guest, this.tdpRefsNow, r === -1 ? this.exitGfn : -1);
    }
    // Only a translation the TLB now holds is recorded: a one-off access (TLB_NOCACHE: a CR0.WP=0
    // supervisor write to a read-only page, a write the host allows only once) left the slot
    // holding whatever it held.
    if (r === XLATE_OK && this.finalGfn >= 0 && (cpu.xlateFlags & TLB_NOCACHE) === 0) this.tlbGfn[(lin >>> 12) & TLB_MASK] = this.finalGfn;
    return r;
  }

  /** An EPT violation: leave the walk and exit to KVM's TDP fault path for gfn. */
  private violation(cpu: Cpu, lin: number, acc: number, gfn: number, write: boolean): never {
    const s = this.mmu.tdpStats;
    s.tdpViolations++;
    if (this.inWalk) s.tdpViolationsInWalk++;
    this.exitGfn = gfn;
    this.exitWrite = write;
    this.exitInWalk = this.inWalk;
    cpu.exitLin = lin;
    cpu.exitAcc = acc;
    throw EXIT_SIGNAL;
  }

  /** The gpa->hpa leaf for gfn, counting the entries the hardware reads to find it. */
  private leaf(gfn: number): number {
    const t = this.mmu.root[gfn >>> 10];
    this.tdpRefsNow++;
    if (t === null || t === undefined) return 0;
    this.tdpRefsNow++;
    return t.spt[gfn & 1023]!;
  }

  private setBits(gfn: number, spte: number, bits: number): void {
    if ((spte & bits) !== bits) (this.mmu.root[gfn >>> 10]!).spt[gfn & 1023] = spte | bits;
  }

  /** Detector on: report an access through a leaf whose frame was freed/replaced since it was made. */
  private checkStale(cpu: Cpu, lin: number, gfn: number, spte: number, write: boolean): boolean {
    const gens = cpu.frameGen;
    if (gens === null) return false;
    const frame = spte >>> SPTE_FRAME_SHIFT;
    if (spte & SPTE_STALE || (write && spte & SPTE_STALE_WRITE) || gens[frame] !== this.mmu.gen(gfn)) {
      this.reportStale(this.index, lin, gfn, frame, write);
      return true;
    }
    return false;
  }

  // ---- WalkPort: the guest walk's guest-physical references, through the gpa->hpa table ------

  readEntry(cpu: Cpu, gpa: number, lin: number, acc: number): number {
    const gfn = gpa >>> 12;
    const spte = this.leaf(gfn);
    if (!(spte & SPTE_P)) {
      if (this.memslots.find(gfn) === null) {
        this.noteUnbacked(gfn);
        return -1;
      }
      this.violation(cpu, lin, acc, gfn, false);
    }
    this.setBits(gfn, spte, SPTE_A);
    this.checkStale(cpu, lin, gfn, spte, false);
    const m = cpu.mem;
    const o = (spte >>> SPTE_FRAME_SHIFT) * 4096 + (gpa & 0xfff);
    return m[o]! | (m[o + 1]! << 8) | (m[o + 2]! << 16) | (m[o + 3]! << 24);
  }

  writeEntry(cpu: Cpu, gpa: number, v: number, lin: number, acc: number): void {
    const gfn = gpa >>> 12;
    // The translation was just used for the read: the hardware does not walk the table again.
    const t = this.mmu.root[gfn >>> 10];
    const spte = t === null || t === undefined ? 0 : t.spt[gfn & 1023]!;
    if (!(spte & SPTE_P)) {
      if (this.memslots.find(gfn) === null) return;
      this.violation(cpu, lin, acc, gfn, true);
    }
    // A/D updates are writes for the gpa->hpa table (EPT with A/D: guest paging-structure
    // accesses count as writes), so a page table in a KSM-merged or COW-shared frame exits here.
    if (!(spte & SPTE_W)) this.violation(cpu, lin, acc, gfn, true);
    this.setBits(gfn, spte, SPTE_A | SPTE_D);
    this.checkStale(cpu, lin, gfn, spte, true);
    const frame = spte >>> SPTE_FRAME_SHIFT;
    const m = cpu.mem;
    const o = frame * 4096 + (gpa & 0xfff);
    m[o] = v;
    m[o + 1] = v >>> 8;
    m[o + 2] = v >>> 16;
    m[o + 3] = v >>> 24;
    cpu.invalidateCode(frame);
  }

  backing(cpu: Cpu, gfn: number, lin: number, acc: number, walk: PageWalker): number {
    this.inWalk = false;
    const write = (acc & ACC_WRITE) !== 0;
    const spte = this.leaf(gfn);
    if (!(spte & SPTE_P)) {
      if (this.memslots.find(gfn) === null) {
        this.noteUnbacked(gfn);
        return XLATE_UNBACKED;
      }
      this.violation(cpu, lin, acc, gfn, write);
    }
    if (write && !(spte & SPTE_W)) this.violation(cpu, lin, acc, gfn, true);
    this.setBits(gfn, spte, write ? SPTE_A | SPTE_D : SPTE_A);
    this.finalGfn = gfn;
    walk.page = spte >>> SPTE_FRAME_SHIFT;
    walk.gen = this.mmu.gen(gfn);
    // TLB write only once the leaf is dirty, so the first write is seen (leaf D -> frame dirty).
    walk.backWritable = (spte & SPTE_W) !== 0 && (write || (spte & SPTE_D) !== 0);
    if (this.checkStale(cpu, lin, gfn, spte, write)) {
      if (spte & SPTE_STALE) walk.gen = STALE_GEN;
      // A write the host no longer allows: done uncached, one report per write.
      else if (spte & SPTE_STALE_WRITE) walk.backWritable = false;
    }
    return XLATE_OK;
  }

  // ---- the rest of the Mmu: no KVM work under TDP ----------------------------------------------

  trackedWrite(_cpu: Cpu, _lin: number, _phys: number, _size: number): void {}

  onCr3Write(cpu: Cpu): void {
    cpu.tlb.flushAll();
    this.mmu.tdpStats.cr3Writes++;
  }

  onInvlpg(cpu: Cpu, lin: number): void {
    cpu.tlb.flushPage(lin);
    this.mmu.tdpStats.invlpgs++;
  }

  onPagingModeChange(cpu: Cpu): void {
    cpu.tlb.flushAll();
  }

  /** gfn behind the TLB entry for lin, or -1 (stale reports from TLB hits). */
  gfnOfTlb(cpu: Cpu, lin: number): number {
    const i = (lin >>> 12) & TLB_MASK;
    return cpu.tlb.tagSR[i] === lin >>> 12 ? this.tlbGfn[i]! : -1;
  }
}

