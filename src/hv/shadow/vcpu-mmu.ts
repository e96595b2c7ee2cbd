// One vCPU's view of the shadow MMU: the processor's "hardware walker" over the shadow root
// (what the Cpu calls on a TLB miss), the root cache (current + 3 previous roots keyed by guest
// CR3 and role, KVM's prev_roots), and the intercepts of CR3 writes, INVLPG and paging-mode
// changes that shadow paging needs. The Cpu does not know it is virtualized: it only sees an Mmu.

import type { Cpu } from '../../cpu/cpu.js';
import { CR0_PG, CR0_WP, CR4_PSE } from '../../cpu/paging.js';
import {
  ACC_USER,
  ACC_WRITE,
  TLB_NOCACHE,
  TLB_USER,
  TLB_WRITE,
  XLATE_EXIT,
  XLATE_OK,
  XLATE_UNBACKED,
  type Mmu,
} from '../../cpu/ports.js';
import type { ShadowMmu } from './mmu.js';
import type { ShadowPage } from './shadow-page.js';
import { ROLE_CR0_WP, ROLE_DIRECT, ROLE_PSE } from './role.js';
import {
  SPTE_A,
  SPTE_D,
  SPTE_HOST_WRITABLE,
  SPTE_MMIO,
  SPTE_MMU_WRITABLE,
  SPTE_P,
  SPTE_STALE,
  SPTE_STALE_WRITE,
  SPTE_U,
  SPTE_W,
} from './spte.js';
import { trackWrite } from './track-write.js';
import { EV_TLB_FLUSH, FLUSH_CR3, FLUSH_MODE } from '../../obs/events.js';

/** TLB generation for detector-flagged translations: no frame ever has it, so every hit reports. */
const STALE_GEN = -1;

/** KVM_MMU_NUM_PREV_ROOTS */
export const NUM_PREV_ROOTS = 3;

/** Called when an access goes through a translation whose host frame was freed or replaced. */
export type StaleReporter = (vcpu: number, lin: number, gfn: number, frame: number, write: boolean) => void;

export class ShadowVcpuMmu implements Mmu {
  /** Current root, or null when it must be (re)loaded before the guest runs. */
  root: ShadowPage | null = null;
  readonly prevRoots: (ShadowPage | null)[] = [null, null, null];
  /** gfn of the write-tracked page written through the last TLB_NOCACHE translation. */
  private emuGfn = 0;

  constructor(
    readonly index: number,
    readonly mmu: ShadowMmu,
    private readonly reportStale: StaleReporter,
  ) {}

  // ---- the hardware walk over the shadow tables (slow path of every TLB miss) --------------

  translate(cpu: Cpu, lin: number, acc: number): number {
    const root = this.root;
    if (root === null || !root.valid) return this.exit(cpu, lin, acc);
    const pde = root.spt[lin >>> 22];
    if (!(pde & SPTE_P)) return this.exit(cpu, lin, acc);
    const sp = this.mmu.pages[pde >>> 12] as ShadowPage;
    const idx = (lin >>> 12) & 1023;
    let spte = sp.spt[idx];
    if (!(spte & SPTE_P)) return this.exit(cpu, lin, acc);
    const user = (acc & ACC_USER) !== 0;
    const write = (acc & ACC_WRITE) !== 0;
    if (user && !(spte & SPTE_U)) return this.exit(cpu, lin, acc);
    // Outside RAM: nothing to cache, but the guest's permissions hold (the fault path walks the
    // guest tables again: a #PF for the guest, or the A/D update and a wider spte).
    if (spte & SPTE_MMIO) return write && !(spte & SPTE_W) ? this.exit(cpu, lin, acc) : XLATE_UNBACKED;
    if (spte & (SPTE_STALE | SPTE_STALE_WRITE)) return this.translateFlagged(cpu, lin, acc, sp, idx, spte);
    const frame = spte >>> 12;
    const gen = sp.gens[idx];
    if (write && !(spte & SPTE_W)) {
      if ((spte & (SPTE_MMU_WRITABLE | SPTE_HOST_WRITABLE)) !== (SPTE_MMU_WRITABLE | SPTE_HOST_WRITABLE))
        return this.exit(cpu, lin, acc);
      const gfn = sp.gfns[idx];
      if (this.mmu.isWriteTracked(gfn)) {
        // A store to a shadowed guest page table: let the Cpu make it once, uncached, then
        // trackedWrite() drops the sptes built from the old gpte (KVM emulates the instruction).
        this.checkGen(cpu, lin, gfn, frame, gen, true);
        this.emuGfn = gfn;
        sp.spt[idx] = spte | SPTE_A | SPTE_D;
        cpu.xlatePage = frame;
        cpu.xlateFlags = TLB_NOCACHE | TLB_WRITE | (spte & SPTE_U ? TLB_USER : 0);
        this.mmu.stats.pf_emulate++;
        return XLATE_OK;
      }
      // No longer shadowed (its shadow page was zapped): the guest and host both allow the write.
      spte |= SPTE_W;
    }
    spte |= SPTE_A;
    if (write) spte |= SPTE_D;
    sp.spt[idx] = spte;
    this.checkGen(cpu, lin, sp.gfns[idx], frame, gen, write);
    // Grant TLB write only once the spte is dirty, so the first write is seen (spte D -> frame dirty).
    const flags = (spte & SPTE_U ? TLB_USER : 0) | (spte & SPTE_W && spte & SPTE_D ? TLB_WRITE : 0);
    cpu.tlb.fill(lin, frame, flags, gen);
    return XLATE_OK;
  }

  /**
   * An spte the stale detector flagged (the host replaced or write-protected its page behind a
   * hypervisor that was not told): the access still goes to the same frame, as it would on a
   * broken KVM, but it is reported. A stale translation is cached with an impossible generation,
   * so every later access through the TLB is reported too; a write to a write-protected page is
   * done uncached, one report per write.
   */
  private translateFlagged(cpu: Cpu, lin: number, acc: number, sp: ShadowPage, idx: number, spte: number): number {
    const write = (acc & ACC_WRITE) !== 0;
    const frame = spte >>> 12;
    const gfn = sp.gfns[idx];
    if (write && !(spte & SPTE_W)) return this.exit(cpu, lin, acc);
    const userFlag = spte & SPTE_U ? TLB_USER : 0;
    sp.spt[idx] = spte | SPTE_A | (write ? SPTE_D : 0);
    if (spte & SPTE_STALE) {
      this.reportStale(this.index, lin, gfn, frame, write);
      cpu.tlb.fill(lin, frame, userFlag | (spte & SPTE_W ? TLB_WRITE : 0), STALE_GEN);
      return XLATE_OK;
    }
    if (write) {
      this.reportStale(this.index, lin, gfn, frame, true);
      this.emuGfn = -1;
      cpu.xlatePage = frame;
      cpu.xlateFlags = TLB_NOCACHE | TLB_WRITE | userFlag;
      return XLATE_OK;
    }
    cpu.tlb.fill(lin, frame, userFlag, sp.gens[idx]);
    return XLATE_OK;
  }

  /** The leaf slot the current root gives for lin, as an spte ref (rmap.ts spteRef), or -1 when no
   *  root is loaded or no page table is linked there (for checkers and reports, not translate). */
  leafRef(lin: number): number {
    const root = this.root;
    if (root === null) return -1;
    const pde = root.spt[lin >>> 22]!;
    if (!(pde & SPTE_P)) return -1;
    return (pde >>> 12) * 1024 + ((lin >>> 12) & 1023);
  }

  private checkGen(cpu: Cpu, lin: number, gfn: number, frame: number, gen: number, write: boolean): void {
    const gens = cpu.frameGen;
    if (gens !== null && gens[frame] !== gen) this.reportStale(this.index, lin, gfn, frame, write);
  }

  private exit(cpu: Cpu, lin: number, acc: number): number {
    cpu.exitLin = lin;
    cpu.exitAcc = acc;
    return XLATE_EXIT;
  }

  trackedWrite(cpu: Cpu, lin: number, phys: number, size: number): void {
    // emuGfn < 0: an uncached write through a detector-flagged spte, not a page-table write.
    if (this.emuGfn >= 0) trackWrite(this.mmu, this.emuGfn, phys & 0xfff, size, this.index);
  }

  // ---- intercepts ----------------------------------------------------------------------------

  onCr3Write(cpu: Cpu): void {
    this.newPgd(cpu);
    cpu.tlb.flushAll();
    this.mmu.stats.tlb_flush++;
    const ring = this.mmu.ring;
    if (ring !== null) ring.emit(EV_TLB_FLUSH, this.index, 1, FLUSH_CR3);
  }

  onInvlpg(cpu: Cpu, lin: number): void {
    // Sptes never go out of sync with gptes here (every gpte write traps and zaps), so INVLPG
    // only has to drop the processor's cached translation.
    cpu.tlb.flushPage(lin);
    this.mmu.stats.invlpg++;
  }

  onPagingModeChange(cpu: Cpu): void {
    // kvm_mmu_reset_context: the role of every root changes; unload them all.
    this.freeRoots(true);
    cpu.tlb.flushAll();
    this.mmu.stats.tlb_flush++;
    const ring = this.mmu.ring;
    if (ring !== null) ring.emit(EV_TLB_FLUSH, this.index, 1, FLUSH_MODE);
  }

  /** The role a root for the vCPU's current paging mode must have. */
  rootRole(cpu: Cpu): number {
    let role = 2;
    if (!(cpu.cr0 & CR0_PG)) role |= ROLE_DIRECT;
    if (cpu.cr0 & CR0_WP) role |= ROLE_CR0_WP;
    if (cpu.cr4 & CR4_PSE) role |= ROLE_PSE;
    return role;
  }

  private rootGfn(cpu: Cpu): number {
    return cpu.cr0 & CR0_PG ? cpu.cr3 >>> 12 : 0;
  }

  /**
   * kvm_mmu_new_pgd / fast_pgd_switch: reuse a cached root for (gfn, role) if one is valid;
   * otherwise the current root is parked in the cache and a new one is loaded on demand.
   * The cache rotates current -> prev[0] -> prev[1] -> prev[2] -> freed.
   */
  private newPgd(cpu: Cpu): void {
    const gfn = this.rootGfn(cpu);
    const role = this.rootRole(cpu);
    let cur = this.root;
    if (cur !== null && cur.valid && cur.gfn === gfn && cur.role === role) return;
    for (let i = 0; i < NUM_PREV_ROOTS; i++) {
      const p = this.prevRoots[i];
      this.prevRoots[i] = cur;
      cur = p;
      if (cur !== null && cur.valid && cur.gfn === gfn && cur.role === role) {
        this.root = cur;
        return;
      }
    }
    if (cur !== null) this.mmu.putRoot(cur);
    this.root = null;
  }

  /** kvm_mmu_load: make sure a valid root exists for the current CR3 and mode. */
  loadRoot(cpu: Cpu): ShadowPage {
    const r = this.root;
    if (r !== null && r.valid) return r;
    if (r !== null) {
      this.mmu.putRoot(r);
      this.root = null;
    }
    const sp = this.mmu.get(this.rootGfn(cpu), this.rootRole(cpu));
    sp.rootCount++;
    sp.writeFloodingCount = 0;
    this.root = sp;
    return sp;
  }

  /** Drop the current (and optionally the cached) roots, e.g. on a mode change or teardown. */
  freeRoots(includePrev: boolean): void {
    if (this.root !== null) this.mmu.putRoot(this.root);
    this.root = null;
    if (!includePrev) return;
    for (let i = 0; i < NUM_PREV_ROOTS; i++) {
      const p = this.prevRoots[i];
      if (p !== null) this.mmu.putRoot(p);
      this.prevRoots[i] = null;
    }
  }

  /** A root was zapped while in use: forget it wherever this vCPU holds it. */
  rootInvalidated(sp: ShadowPage): void {
    if (this.root === sp) {
      this.root = null;
      this.mmu.putRoot(sp);
    }
    for (let i = 0; i < NUM_PREV_ROOTS; i++) {
      if (this.prevRoots[i] === sp) {
        this.prevRoots[i] = null;
        this.mmu.putRoot(sp);
      }
    }
  }
}
