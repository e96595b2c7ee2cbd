// The native MMU: x86 32-bit two-level paging walked over cpu.mem as guest-physical RAM
// (`--mmu native`, the bare-metal reference). Mirrors the hardware page walker that KVM's
// FNAME(walk_addr_generic) imitates in software: A bits at every level, D on writes, WP, PSE.

import { type Logger, nullLogger } from '../obs/log.js';
import type { Cpu } from './cpu.js';
import {
  ACC_USER,
  ACC_WRITE,
  type Mmu,
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

export class NativeMmu implements Mmu {
  readonly ramBytes: number;
  walks = 0;
  faults = 0;
  private readonly log: Logger;
  private readonly debug: boolean;
  /** Pages outside RAM already reported (one debug line per page, not per access). */
  private readonly reported = new Set<number>();

  constructor(ramBytes: number, log: Logger = nullLogger) {
    this.ramBytes = ramBytes;
    this.log = log;
    this.debug = log.enabled('debug');
  }

  private unbacked(phys: number): number {
    if (this.debug && !this.reported.has(phys >>> 12)) {
      this.reported.add(phys >>> 12);
      this.log.debug({ gpa: phys >>> 0 }, `guest-physical address 0x${(phys >>> 0).toString(16)} is outside RAM: reads give all ones, writes are dropped`);
    }
    return XLATE_UNBACKED;
  }

  /** Read a paging-structure entry; outside RAM reads as all ones (not memory). */
  private readEntry(cpu: Cpu, addr: number): number {
    if (addr + 4 > this.ramBytes) return -1;
    const m = cpu.mem;
    return m[addr] | (m[addr + 1] << 8) | (m[addr + 2] << 16) | (m[addr + 3] << 24);
  }

  private writeEntry(cpu: Cpu, addr: number, v: number): void {
    if (addr + 4 > this.ramBytes) return;
    const m = cpu.mem;
    m[addr] = v;
    m[addr + 1] = v >>> 8;
    m[addr + 2] = v >>> 16;
    m[addr + 3] = v >>> 24;
    // A/D updates are stores the Cpu did not make: decoded code in that page must go.
    cpu.invalidateCode(addr >>> 12);
  }

  translate(cpu: Cpu, lin: number, acc: number): number {
    const gen = cpu.frameGen;
    if ((cpu.cr0 & CR0_PG) === 0) {
      const page = lin >>> 12;
      if (page * 4096 >= this.ramBytes) return this.unbacked(lin);
      cpu.tlb.fill(lin, page, TLB_WRITE | TLB_USER, gen === null ? 0 : gen[page]);
      return XLATE_OK;
    }
    this.walks++;
    const write = (acc & ACC_WRITE) !== 0;
    const user = (acc & ACC_USER) !== 0;
    const pdeAddr = ((cpu.cr3 & ~0xfff) >>> 0) + ((lin >>> 22) << 2);
    let pde = this.readEntry(cpu, pdeAddr);
    if ((pde & PTE_P) === 0) return this.fault(cpu, acc, 0);
    let perm: number;
    let phys: number;
    let leafAddr: number;
    let leaf: number;
    if ((pde & PTE_PS) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
      perm = pde;
      leaf = pde;
      leafAddr = pdeAddr;
      phys = ((pde & 0xffc00000) >>> 0) + (lin & 0x3ff000);
    } else {
      // The walker uses the PDE now: it is accessed even if the PTE turns out not present.
      if ((pde & PTE_A) === 0) {
        pde |= PTE_A;
        this.writeEntry(cpu, pdeAddr, pde);
      }
      const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin >>> 12) & 0x3ff) << 2);
      leaf = this.readEntry(cpu, pteAddr);
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
      this.writeEntry(cpu, leafAddr, leaf);
    }
    const page = phys >>> 12;
    if (phys >= this.ramBytes) return this.unbacked(phys);
    const g = gen === null ? 0 : gen[page];
    if (write && (perm & PTE_RW) === 0) {
      // Supervisor write to a read-only page with CR0.WP=0: allowed once, never cached, so a
      // later user-mode write through the same entry still faults.
      cpu.xlatePage = page;
      cpu.xlateFlags = TLB_NOCACHE;
      return XLATE_OK;
    }
    let flags = 0;
    if ((perm & PTE_US) !== 0) flags |= TLB_USER;
    // Write permission only once D is set, so the first write re-walks and sets D.
    if ((perm & PTE_RW) !== 0 && (leaf & PTE_D) !== 0) flags |= TLB_WRITE;
    cpu.tlb.fill(lin, page, flags, g);
    return XLATE_OK;
  }

  private fault(cpu: Cpu, acc: number, present: number): number {
    this.faults++;
    cpu.pfErrorCode = present | (acc & (ACC_WRITE | ACC_USER));
    return XLATE_PF;
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
