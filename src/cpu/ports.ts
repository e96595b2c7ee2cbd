// The processor's view of the world around it: the narrow interfaces through which a Cpu reaches
// memory translation, I/O ports and the interrupt controller. Nothing here knows whether the
// Cpu runs on bare guest-physical RAM (`--mmu native`) or under a hypervisor's shadow MMU: the
// hypervisor supplies its own Mmu, exactly as KVM points the hardware walker at a shadow root.
//
// Contract for all implementations: these are slow paths (TLB misses, port I/O, interrupt
// acknowledge). They may allocate; the Cpu's hot path (TLB hits) never calls them.

import type { Cpu } from './cpu.js';

/** Results of Mmu.translate(). */
export const XLATE_OK = 0;
/** Guest-visible page fault: the Mmu has set cpu.pfErrorCode; the Cpu raises #PF with CR2 = lin. */
export const XLATE_PF = 1;
/** The translation cannot be resolved here (a shadow-MMU miss): the Cpu abandons the current
 *  instruction with no architectural side effects and run() returns EXIT_MMU, with cpu.exitLin
 *  and cpu.exitAcc describing the access. The instruction re-executes on the next run(). */
export const XLATE_EXIT = 2;
/** The address is not backed by memory (guest-physical outside RAM or any memslot): reads
 *  return all ones, writes are dropped, nothing is cached in the TLB. */
export const XLATE_UNBACKED = 3;

/** Access bits passed to Mmu.translate(); also the low bits of a #PF error code. */
export const ACC_WRITE = 2;
export const ACC_USER = 4;
export const ACC_FETCH = 16;

/** TLB entry flags given to Tlb.fill(). */
export const TLB_WRITE = 1;
export const TLB_USER = 2;
/** Do not cache: the access is performed once through cpu.xlatePage (set by translate) and,
 *  for a write, Mmu.trackedWrite() is called after the bytes are stored (write-tracked guest
 *  page tables under a shadow MMU). */
export const TLB_NOCACHE = 4;
/** The entry is a 4 KiB piece of a 4 MiB page: INVLPG anywhere in that page drops it (Tlb.flushPage). */
export const TLB_LARGE = 8;

export interface Mmu {
  /**
   * Resolve the linear page containing `lin` for an access (`acc` = ACC_* bits; ACC_USER is set
   * when CPL = 3). On XLATE_OK the Mmu has either filled cpu.tlb (the Cpu retries its fast
   * path) or set cpu.xlatePage / cpu.xlateFlags with TLB_NOCACHE for a one-off access.
   */
  translate(cpu: Cpu, lin: number, acc: number): number;
  /** After a store through a TLB_NOCACHE translation: `size` bytes at backing byte offset `phys`
   *  (linear `lin`) now hold the new value. */
  trackedWrite(cpu: Cpu, lin: number, phys: number, size: number): void;
  /** MOV to CR3 (the Cpu has already stored cpu.cr3). Native: flush non-global TLB entries. */
  onCr3Write(cpu: Cpu): void;
  /** INVLPG lin. Native: drop that page from the TLB. */
  onInvlpg(cpu: Cpu, lin: number): void;
  /** CR0.PG / CR0.WP / CR4.PSE changed (the Cpu has stored the new values). */
  onPagingModeChange(cpu: Cpu): void;
}

export interface IoBus {
  portIn(port: number, size: 1 | 2 | 4): number;
  portOut(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface InterruptController {
  /** Highest-priority pending, unmasked IRQ is accepted; returns its vector (after EOI rules). */
  acknowledge(): number;
}

/** Reasons Cpu.run() returns. */
export const EXIT_BUDGET = 0; // instruction budget for this slice used up
export const EXIT_HLT = 1; // HLT executed (cpu.halted is true)
export const EXIT_MMU = 2; // XLATE_EXIT from the Mmu
export const EXIT_STOP = 3; // someone set cpu.stopRequested (exit device, debugger)
export const EXIT_TRIPLE_FAULT = 4; // cpu.tripleFaultVector / cpu.tripleFaultEip describe it
