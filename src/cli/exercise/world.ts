// The small machine every exercise is cut from: one host (a few dozen frames, a small swap
// store), one VM in a chosen memory mode with the trace ring on, guest paging set up by writing
// real page tables into guest memory, and accesses made through the real Cpu, shadow walk and
// fault path (kvm_mmu_page_fault run to completion, no interleaving). A seeded Prng decides
// everything a topic varies, so the same seed builds the same machine, frame for frame.

import { EXIT_SIGNAL } from '../../cpu/cpu.js';
import { CR0_PG, CR0_WP, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../cpu/paging.js';
import { ACC_WRITE } from '../../cpu/ports.js';
import { Host } from '../../host/host.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../host/constants.js';
import { Prng } from '../../host/prng.js';
import { PageSwapStore } from '../../host/swap.js';
import { FAULT_EFAULT, FAULT_GUEST, pageFault, type FaultResult, type MemoryMode } from '../../hv/shadow/page-fault.js';
import { tdpPageFault } from '../../hv/tdp/tdp-fault.js';
import { Vm, type HvMmuKind } from '../../hv/vm.js';
import { EventRing, readEvents, type TraceEvent } from '../../obs/event-ring.js';
import { nullLogger } from '../../obs/log.js';

export { PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US };

/** Where the guest keeps its page directory and page tables (gfns). */
export const PD_GFN = 1;
export const PT_GFNS = [2, 3] as const;

export interface WorldOptions {
  seed: number;
  mode?: MemoryMode;
  /** The hypervisor's MMU: shadow paging (default) or TDP (the 2-D walk, hv/tdp). */
  mmu?: HvMmuKind;
  vcpus?: number;
  /** Pages of memslot 0 (gfn 0..); default 32. */
  pages?: number;
  /** A second memslot of this many pages at gfn `slot1Gfn` (its own mmap), or 0. */
  slot1Pages?: number;
  slot1Gfn?: number;
  ksm?: boolean;
  frames?: number;
}

export type AccessResult = 'ok' | 'guest-pf' | 'efault';

export class World {
  readonly rng: Prng;
  readonly host: Host;
  readonly vm: Vm;
  readonly ring = new EventRing(4096);
  readonly slot1Hva: number;
  /** The value the last successful read of access() returned. */
  lastRead = 0;

  constructor(readonly opts: WorldOptions) {
    this.rng = new Prng(Math.imul(opts.seed, 0x9e3779b1) + 0x5eed);
    const swap = 64;
    this.host = new Host({ frames: opts.frames ?? 96, swapPages: swap, swapStore: new PageSwapStore(swap), seed: 1 });
    // Another process takes a seed-dependent handful of frames first, so host frame numbers
    // differ from gfns and from seed to seed.
    const other = this.host.createMm();
    const n = 3 + this.rng.below(12);
    const at = this.host.mmap(other, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    this.host.accessUser(other, at, new Uint8Array(n * 4096).fill(0x5a), true);
    this.vm = new Vm({
      host: this.host,
      memBytes: (opts.pages ?? 32) * 4096,
      vcpus: opts.vcpus ?? 1,
      mode: opts.mode ?? 'notifier',
      mmu: opts.mmu ?? 'shadow',
      ksm: opts.ksm === true,
      detect: true,
      log: nullLogger,
      output: { write: () => {} },
      ring: this.ring,
    });
    this.slot1Hva = -1;
    const s1 = opts.slot1Pages ?? 0;
    if (s1 > 0) {
      this.slot1Hva = this.host.mmap(this.vm.mm, s1 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      this.vm.addMemslot(1, opts.slot1Gfn ?? 0x40, s1, this.slot1Hva);
    }
  }

  /** Seeded integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.rng.below(hi - lo + 1);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.below(xs.length)]!;
  }

  /** `k` distinct values from xs, in the order drawn. */
  pickDistinct<T>(xs: readonly T[], k: number): T[] {
    const pool = [...xs];
    const out: T[] = [];
    for (let i = 0; i < k && pool.length > 0; i++) out.push(pool.splice(this.rng.below(pool.length), 1)[0]!);
    return out;
  }

  /** Write one whole guest page through the host (as firmware or the loader would). */
  fillGuestPage(gfn: number, byte: number): void {
    this.vm.guestMem.write(gfn * 4096, new Uint8Array(4096).fill(byte));
  }

  readGpa32(gpa: number): number {
    return this.vm.guestMem.readGpa32(gpa) >>> 0;
  }

  writeGpa32(gpa: number, v: number): void {
    this.vm.guestMem.writeGpa32(gpa, v);
  }

  /** The hva of gfn (its memslot's), or -1. */
  hvaOf(gfn: number): number {
    const s = this.vm.memslots.find(gfn);
    return s === null ? -1 : s.gfnToHva(gfn);
  }

  /**
   * Turn paging on for every vCPU with the page directory at PD_GFN (CR0.PG|WP). The tables
   * themselves are written by the caller with mapPage().
   */
  enablePaging(): void {
    this.fillGuestPage(PD_GFN, 0);
    for (const g of PT_GFNS) this.fillGuestPage(g, 0);
    for (const v of this.vm.vcpus) {
      v.cpu.cr3 = PD_GFN * 4096;
      v.cpu.cr0 = (v.cpu.cr0 | CR0_PG | CR0_WP) | 0;
      (v.tdpMmu ?? v.vmmu).onPagingModeChange(v.cpu);
    }
  }

  /** Guest PDE index `pdi` points at page table `ptGfn` (P|W|U|A). */
  setPde(pdi: number, ptGfn: number): void {
    this.writeGpa32(PD_GFN * 4096 + pdi * 4, (ptGfn << 12) | PTE_P | PTE_RW | PTE_US | PTE_A);
  }

  /** Guest PTE `pti` of table `ptGfn` maps `gfn` with `flags` (PTE_* bits, P implied). */
  setPte(ptGfn: number, pti: number, gfn: number, flags: number): void {
    this.writeGpa32(ptGfn * 4096 + pti * 4, (gfn << 12) | PTE_P | flags);
  }

  /**
   * One 32-bit supervisor access by vCPU `vcpu` at `gva`, with every shadow fault on the way
   * handled to completion (as KVM_RUN would, one exit at a time).
   */
  access(vcpu: number, gva: number, write: boolean, value = 0): AccessResult {
    const v = this.vm.vcpus[vcpu]!;
    const cpu = v.cpu;
    const out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
    for (let tries = 0; tries < 16; tries++) {
      try {
        if (write) cpu.writeAcc(gva, 4, value, 0);
        else this.lastRead = cpu.readAcc(gva, 4, 0) >>> 0;
        return 'ok';
      } catch (e) {
        if (e !== EXIT_SIGNAL) throw e;
        const t = v.tdpMmu;
        const gen = t === null ? pageFault(this.vm, cpu, v.vmmu, v.walker, gva, write ? ACC_WRITE : 0, out) : tdpPageFault(this.vm, cpu, t, t.exitGfn, t.exitWrite, out);
        let r = gen.next();
        while (!r.done) r = gen.next();
        if (r.value === FAULT_GUEST) return 'guest-pf';
        if (r.value === FAULT_EFAULT) return 'efault';
      }
    }
    throw new Error(`exercise: access to 0x${(gva >>> 0).toString(16)} did not complete`);
  }

  /** Events emitted since sequence number `from`. */
  eventsSince(from: number): TraceEvent[] {
    return readEvents(this.ring).filter((e) => e.seq >= from);
  }

  get eventSeq(): number {
    return this.ring.emitted;
  }
}
