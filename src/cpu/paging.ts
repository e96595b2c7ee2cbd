// The native MMU: x86 32-bit two-level paging walked over cpu.mem as guest-physical RAM
// (`--mmu native`, the bare-metal reference). Mirrors the hardware page walker that KVM's
// FNAME(walk_addr_generic) imitates in software: A bits at every level, D on writes, WP, PSE.
// The walker (PageWalker) reads memory through a WalkPort, so the hypervisor's TDP MMU runs the
// same walk two-dimensionally (every guest-physical reference translated through its gpa->hpa map).

import { type Logger, nullLogger } from '../obs/log.js';
import type { Cpu } from './cpu.js';
import {
  ACC_USER,
  ACC_WRITE,
  type Mmu,
  TLB_LARGE,
  TLB_NOCACHE,
  TLB_USER,
  TLB_WRITE,
  XLATE_OK,
  XLATE_PF,
  XLATE_UNBACKED,
} from './ports.js';

export const CR0_PE = 1;
export const CR0_WP = 1 << 16;
export const CR0_PG = 0x80000000 | 0;
export const CR4_PSE = 1 << 4;

/** Bits of a 32-bit non-PAE guest PDE/PTE (Intel SDM vol. 3 §4.3). */
export const PTE_P = 1;
export const PTE_RW = 2;
export const PTE_US = 4;
export const PTE_A = 0x20;
export const PTE_D = 0x40;
/** In a PDE with CR4.PSE: a 4 MiB page. */
export const PTE_PS = 0x80;
/** The page-fault exception's vector (#PF). */
export const EXC_PF = 14;

/** What a read-only walk found: the guest's PDE and PTE (null: not read) and the gpa (null: not mapped). */
export interface PeekedWalk {
  pde: number | null;
  pte: number | null;
  gpa: number | null;
}

/**
 * The two-level walk of `gva` as the vCPU's paging registers define it, for debuggers and views:
 * it sets no accessed or dirty bit and raises nothing. `read32` gives the 4-byte entry at a gpa,
 * or null when it cannot be read without changing state (not RAM, or swapped out on the host);
 * the walk stops there.
 */
export function peekGuestWalk(cr0: number, cr3: number, cr4: number, gva: number, read32: (gpa: number) => number | null): PeekedWalk {
  const lin = gva >>> 0;
  if (!(cr0 & CR0_PG)) return { pde: null, pte: null, gpa: lin };
  const pde = read32(((cr3 & 0xfffff000) + ((lin >>> 22) << 2)) >>> 0);
  if (pde === null || !(pde & PTE_P)) return { pde, pte: null, gpa: null };
  if (cr4 & CR4_PSE && pde & PTE_PS) return { pde, pte: null, gpa: ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0 };
  const pte = read32(((pde & 0xfffff000) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0);
  return { pde, pte, gpa: pte === null || !(pte & PTE_P) ? null : ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0 };
}

/**
 * Where a page walk reads and writes paging-structure entries and what backs the page it finds.
 * Natively both are guest-physical RAM (cpu.mem); under two-dimensional paging (hv/tdp) every
 * guest-physical reference is itself translated through the hypervisor's gpa->hpa table.
 * A port may abandon the walk by throwing EXIT_SIGNAL with cpu.exitLin/exitAcc set (a TDP
 * violation: the hypervisor must map that guest-physical page first); the instruction then
 * re-executes from scratch, as after any XLATE_EXIT. A/D bits already set stay set, as on
 * hardware (they are never cleared behind the guest's back).
 */
export interface WalkPort {
  /** The 4-byte entry at guest-physical `gpa`, or -1 (all ones) outside memory. */
  readEntry(cpu: Cpu, gpa: number, lin: number, acc: number): number;
  /** Store an entry the walker updated (A/D bits); dropped outside memory. */
  writeEntry(cpu: Cpu, gpa: number, v: number, lin: number, acc: number): void;
  /**
   * The backing of guest-physical page `gfn` for the access: XLATE_OK with `walk.page` and
   * `walk.gen` set, or XLATE_UNBACKED outside memory. `walk.backWritable` false keeps write
   * permission out of the TLB (every write comes back to the port); for a write access it
   * means "do this one write uncached" (TLB_NOCACHE).
   */
  backing(cpu: Cpu, gfn: number, lin: number, acc: number, walk: PageWalker): number;
}

/**
 * The hardware page walker for x86 32-bit two-level paging (A bits at every level, D on writes,
 * CR0.WP, CR4.PSE), over whatever memory its port gives it. Counts walks, guest page faults and
 * the paging-structure entries it read (the port adds its own references).
 */
export class PageWalker {
  walks = 0;
  faults = 0;
  /** Paging-structure entries read by walks (guest PDEs/PTEs; ports add their own). */
  refs = 0;
  /** Most guest entries one walk read (2 for a 4 KiB page, 1 for a 4 MiB one). */
  maxRefsPerMiss = 0;
  /** Set by WalkPort.backing for the walk in progress. */
  page = 0;
  gen = 0;
  backWritable = true;

  constructor(readonly port: WalkPort) {}

  translate(cpu: Cpu, lin: number, acc: number): number {
    const port = this.port;
    if ((cpu.cr0 & CR0_PG) === 0) {
      this.backWritable = true;
      const r = port.backing(cpu, lin >>> 12, lin, acc, this);
      if (r !== XLATE_OK) return r;
      if (!this.backWritable && (acc & ACC_WRITE) !== 0) {
        cpu.xlatePage = this.page;
        cpu.xlateFlags = TLB_NOCACHE;
        return XLATE_OK;
      }
      cpu.tlb.fill(lin, this.page, (this.backWritable ? TLB_WRITE : 0) | TLB_USER, this.gen);
      return XLATE_OK;
    }
    this.walks++;
    const write = (acc & ACC_WRITE) !== 0;
    const user = (acc & ACC_USER) !== 0;
    const pdeAddr = ((cpu.cr3 & ~0xfff) >>> 0) + ((lin >>> 22) << 2);
    this.refs++;
    if (this.maxRefsPerMiss < 1) this.maxRefsPerMiss = 1;
    let pde = port.readEntry(cpu, pdeAddr, lin, acc);
    if ((pde & PTE_P) === 0) return this.fault(cpu, acc, 0);
    let perm: number;
    let phys: number;
    let leafAddr: number;
    let leaf: number;
    const large = (pde & PTE_PS) !== 0 && (cpu.cr4 & CR4_PSE) !== 0;
    if (large) {
      perm = pde;
      leaf = pde;
      leafAddr = pdeAddr;
      phys = ((pde & 0xffc00000) >>> 0) + (lin & 0x3ff000);
    } else {
      // The walker uses the PDE now: it is accessed even if the PTE turns out not present.
      if ((pde & PTE_A) === 0) {
        pde |= PTE_A;
        port.writeEntry(cpu, pdeAddr, pde, lin, acc);
      }
      const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin >>> 12) & 0x3ff) << 2);
      this.refs++;
      if (this.maxRefsPerMiss < 2) this.maxRefsPerMiss = 2;
      leaf = port.readEntry(cpu, pteAddr, lin, acc);
      if ((leaf & PTE_P) === 0) return this.fault(cpu, acc, 0);
      perm = pde & leaf;
      leafAddr = pteAddr;
      phys = (leaf & 0xfffff000) >>> 0;
    }
    if (user) {
      if ((perm & PTE_US) === 0 || (write && (perm & PTE_RW) === 0)) return this.fault(cpu, acc, 1);
    } else if (write && (perm & PTE_RW) === 0 && (cpu.cr0 & CR0_WP) !== 0) {
      return this.fault(cpu, acc, 1);
    }
    const want = write ? PTE_A | PTE_D : PTE_A;
    if ((leaf & want) !== want) {
      leaf |= want;
      port.writeEntry(cpu, leafAddr, leaf, lin, acc);
    }
    this.backWritable = true;
    const r = port.backing(cpu, phys >>> 12, lin, acc, this);
    if (r !== XLATE_OK) return r;
    const page = this.page;
    if (write && ((perm & PTE_RW) === 0 || !this.backWritable)) {
      // Supervisor write to a read-only page with CR0.WP=0 (or a write the port allows only
      // once): done once, never cached, so a later write through the same entry walks again.
      cpu.xlatePage = page;
      cpu.xlateFlags = TLB_NOCACHE;
      return XLATE_OK;
    }
    let flags = large ? TLB_LARGE : 0;
    if ((perm & PTE_US) !== 0) flags |= TLB_USER;
    // Write permission only once D is set, so the first write re-walks and sets D.
    if ((perm & PTE_RW) !== 0 && (leaf & PTE_D) !== 0 && this.backWritable) flags |= TLB_WRITE;
    cpu.tlb.fill(lin, page, flags, this.gen);
    return XLATE_OK;
  }

  private fault(cpu: Cpu, acc: number, present: number): number {
    this.faults++;
    cpu.pfErrorCode = present | (acc & (ACC_WRITE | ACC_USER));
    return XLATE_PF;
  }
}

export class NativeMmu implements Mmu, WalkPort {
  readonly ramBytes: number;
  private readonly log: Logger;
  private readonly debug: boolean;
  /** Pages outside RAM already reported (one debug line per page, not per access). */
  private readonly reported = new Set<number>();
  readonly walker: PageWalker = new PageWalker(this);

  constructor(ramBytes: number, log: Logger = nullLogger) {
    this.ramBytes = ramBytes;
    this.log = log;
    this.debug = log.enabled('debug');
  }

  get walks(): number {
    return this.walker.walks;
  }

  get faults(): number {
    return this.walker.faults;
  }

  private unbacked(phys: number): number {
    if (this.debug && !this.reported.has(phys >>> 12)) {
      this.reported.add(phys >>> 12);
      this.log.debug({ gpa: phys >>> 0 }, `guest-physical address 0x${(phys >>> 0).toString(16)} is outside RAM: reads give all ones, writes are dropped`);
    }
    return XLATE_UNBACKED;
  }

  /** Read a paging-structure entry; outside RAM reads as all ones (not memory). */
  readEntry(cpu: Cpu, addr: number): number {
    if (addr + 4 > this.ramBytes) return -1;
    const m = cpu.mem;
    return m[addr] | (m[addr + 1] << 8) | (m[addr + 2] << 16) | (m[addr + 3] << 24);
  }

  writeEntry(cpu: Cpu, addr: number, v: number): void {
    if (addr + 4 > this.ramBytes) return;
    const m = cpu.mem;
    m[addr] = v;
    m[addr + 1] = v >>> 8;
    m[addr + 2] = v >>> 16;
    m[addr + 3] = v >>> 24;
    // A/D updates are stores the Cpu did not make: decoded code in that page must go.
    cpu.invalidateCode(addr >>> 12);
  }

  backing(cpu: Cpu, gfn: number, lin: number, _acc: number, walk: PageWalker): number {
    if (gfn * 4096 >= this.ramBytes) return this.unbacked(((cpu.cr0 & CR0_PG) === 0 ? lin : gfn * 4096) >>> 0);
    walk.page = gfn;
    const gen = cpu.frameGen;
    walk.gen = gen === null ? 0 : gen[gfn];
    return XLATE_OK;
  }

  translate(cpu: Cpu, lin: number, acc: number): number {
    return this.walker.translate(cpu, lin, acc);
  }

  trackedWrite(_cpu: Cpu, _lin: number, _phys: number, _size: number): void {}

  onCr3Write(cpu: Cpu): void {
    cpu.tlb.flushAll();
  }

  onInvlpg(cpu: Cpu, lin: number): void {
    cpu.tlb.flushPage(lin);
  }

  onPagingModeChange(cpu: Cpu): void {
    cpu.tlb.flushAll();
  }
}
