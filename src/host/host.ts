// One simulated host machine: RAM, page allocator with watermarks, LRU, swap, KSM, every mm,
// and the public syscall-like API (mmap, munmap, mprotect, madvise, fork, mmput, gup, reclaim).
// Mirrors the glue of mm/ (page_alloc's watermarks, mmap.c, the pte/rmap helpers of memory.c
// and rmap.c). The individual operations live in their own files next to this one.

import {
  EFAULT, EINVAL, ENOMEM, MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, MADV_DONTNEED, MADV_MERGEABLE,
  MADV_PAGEOUT, MADV_UNMERGEABLE, MMAP_MIN_ADDR, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE,
} from './constants.js';
import { FrameTable, PG_DIRTY, PG_KSM, PG_LOCKED, PG_REFERENCED, PG_SWAPCACHE } from './frames.js';
import { Lru } from './lru.js';
import { RmapPool } from './rmap.js';
import { MemorySwapStore, SwapDevice, type SwapStore } from './swap.js';
import { HostStats } from './stats.js';
import { Prng } from './prng.js';
import { Srcu } from './srcu.js';
import { Mm } from './mm.js';
import { findVma, insertVma, mergeAdjacent, Vma, VM_SHARED } from './vma.js';
import { ShmemObject } from './shmem.js';
import { PTE_DIRTY, PTE_PRESENT, PTE_YOUNG, ptePresent, pteFrame, pteIsSwap, pteSwapSlot, mkPte } from './page-table.js';
import {
  mmuNotifierClearYoung, mmuNotifierInvalidateRangeEnd, mmuNotifierInvalidateRangeStart,
  mmuNotifierTestYoung, type MmuNotifierRange,
} from './mmu-notifier.js';
import { handleMmFault } from './fault.js';
import { pageoutRange, shrinkLists } from './reclaim.js';
import { Ksm } from './ksm.js';
import { dupMmap } from './fork.js';
import { exitMmap, madviseDontneed, doMunmap, freeSwapAndCache } from './zap.js';
import { changeProtection } from './mprotect.js';
import { outOfMemory } from './oom.js';
import { migratePage } from './migrate.js';
import { checkHostInvariants } from './invariants.js';
import { nullLogger, type Logger } from '../obs/log.js';
import type { HostPreemptPoint } from './preempt-points.js';

export interface HostOptions {
  frames: number;
  swapPages: number;
  swapStore?: SwapStore;
  seed?: number;
  log?: Logger;
  /** Allocates the host's RAM (zeroed): the engine's processor may want it in memory its
   *  compiled code can address (cpu/jit/wasm-arena.ts). Default: a plain ArrayBuffer. */
  allocRam?: (bytes: number) => Uint8Array;
  /** Free-frame watermarks (defaults scale with RAM, as min_free_kbytes does). */
  wmarkMin?: number;
  wmarkLow?: number;
  wmarkHigh?: number;
}

export type PreemptHook = (label: HostPreemptPoint, mm: Mm, start: number, end: number) => void;

/** SWAP_CLUSTER_MAX: pages direct reclaim tries to free per attempt. */
export const SWAP_CLUSTER_MAX = 32;

export class Host {
  readonly ft: FrameTable;
  readonly ram: Uint8Array;
  readonly frameGen: Int32Array;
  readonly lru: Lru;
  readonly rmap: RmapPool;
  readonly swap: SwapDevice;
  readonly stats = new HostStats();
  readonly srcu = new Srcu();
  readonly prng: Prng;
  readonly ksm: Ksm;
  readonly log: Logger;
  /** Live mms by id (exit_mmap removes them). */
  readonly mms = new Map<number, Mm>();
  private nextMmId = 1;
  wmarkMin: number;
  wmarkLow: number;
  wmarkHigh: number;
  /** Set when an allocation dipped below the low watermark (wakeup_kswapd). */
  kswapdWanted = false;
  /** PF_MEMALLOC: reclaim does not recurse into reclaim. */
  inReclaim = false;
  /** gup references not yet returned by putPage (pins, or references in flight). */
  outstandingGupRefs = 0;
  onPreempt: PreemptHook | null = null;
  /**
   * The 2009 KSM/COW flow (set_pte_at_notify outside invalidate_range_start/end): KSM's
   * write_protect_page and replace_page and the COW break tell secondary MMUs only through
   * change_pte, which re-points their mappings in place. Off by default (since 2012 Linux wraps
   * them in start/end). The explorer's positive control switches it on together with KVM's
   * in-place change_pte handler.
   */
  changePteOutsideInvalidate = false;
  /**
   * Called whenever the host itself changes the bytes of a frame (zero-fill, swap-in, COW or
   * fork copy, copy_to_user, poisoning a freed frame): the analogue of DMA snooping the
   * instruction cache, so a processor that decoded the old bytes can drop them.
   */
  onFrameWrite: ((frame: number) => void) | null = null;
  private readonly logInfo: boolean;

  constructor(opts: HostOptions) {
    if (!(opts.frames > 0) || opts.frames >= 1 << 27) throw new Error('host: frames must be in [1, 2^27)');
    this.ft = new FrameTable(opts.frames, opts.allocRam);
    this.ram = this.ft.ram;
    this.frameGen = this.ft.frameGen;
    this.lru = new Lru(this.ft);
    this.rmap = new RmapPool(this.ft.rmapHead, Math.max(64, opts.frames));
    this.prng = new Prng(opts.seed ?? 1);
    const store = opts.swapStore ?? new MemorySwapStore(opts.swapPages);
    this.swap = new SwapDevice(store, this.prng);
    this.ksm = new Ksm(this);
    this.log = opts.log ?? nullLogger;
    this.logInfo = this.log.enabled('info');
    this.wmarkMin = opts.wmarkMin ?? Math.max(1, Math.floor(opts.frames / 64));
    this.wmarkLow = opts.wmarkLow ?? this.wmarkMin + Math.max(1, Math.floor(opts.frames / 128));
    this.wmarkHigh = opts.wmarkHigh ?? this.wmarkLow + Math.max(1, Math.floor(opts.frames / 128));
  }

  /** Metadata bytes per host frame, measured from the frame table's arrays (Linux's struct
   *  page: 64). Mappings cost RmapPool.bytesPerEntry() more each. */
  get bytesPerFrame(): number {
    return this.ft.metadataBytesPerFrame();
  }

  get nrFreeFrames(): number {
    return this.ft.nrFree;
  }

  // --- address spaces ----------------------------------------------------------------------------

  createMm(): Mm {
    const mm = new Mm(this.nextMmId++, this.srcu);
    this.mms.set(mm.id, mm);
    return mm;
  }

  mmap(mm: Mm, len: number, prot: number, flags: number, addr?: number): number {
    if (mm.dead) return -EFAULT;
    if ((flags & MAP_ANONYMOUS) === 0) return -EINVAL; // only anonymous memory is modelled
    const size = pageAlignUp(len);
    if (size <= 0) return -EINVAL;
    let start: number;
    if (addr !== undefined && (flags & MAP_FIXED) !== 0) {
      if (addr % PAGE_SIZE !== 0 || addr + size > TASK_SIZE) return -EINVAL;
      start = addr;
      this.munmap(mm, start, size);
    } else {
      const found = findFreeArea(mm, size, addr);
      if (found < 0) return -ENOMEM;
      start = found;
    }
    const shared = (flags & MAP_SHARED) !== 0;
    const shmem = shared ? new ShmemObject(size >>> PAGE_SHIFT) : null;
    if (shmem !== null) shmem.mapCount = 1;
    insertVma(mm.vmas, new Vma(start, start + size, prot, shared ? VM_SHARED : 0, shmem, 0));
    mergeAdjacent(mm.vmas);
    return start;
  }

  munmap(mm: Mm, addr: number, len: number): void {
    if (mm.dead) return;
    doMunmap(this, mm, addr & ~(PAGE_SIZE - 1), pageAlignUp(addr + len));
  }

  mprotect(mm: Mm, addr: number, len: number, prot: number): void {
    if (mm.dead) return;
    changeProtection(this, mm, addr & ~(PAGE_SIZE - 1), pageAlignUp(addr + len), prot);
  }

  madvise(mm: Mm, addr: number, len: number, advice: number): void {
    if (mm.dead) return;
    const start = addr & ~(PAGE_SIZE - 1);
    const end = pageAlignUp(addr + len);
    if (advice === MADV_DONTNEED) madviseDontneed(this, mm, start, end);
    else if (advice === MADV_MERGEABLE) this.ksm.madviseMergeable(mm, start, end);
    else if (advice === MADV_UNMERGEABLE) this.ksm.madviseUnmergeable(mm, start, end);
    else if (advice === MADV_PAGEOUT) pageoutRange(this, mm, start, end);
    else throw new Error(`madvise: unsupported advice ${advice}`);
  }

  fork(mm: Mm): Mm {
    if (mm.dead) throw new Error(`fork of mm ${mm.id} after exit`);
    return dupMmap(this, mm);
  }

  /** Migrate the page mm maps at addr to another frame (compaction, NUMA balancing). Returns the
   *  new frame, or -1 when the page cannot move now (see migrate.ts). */
  migratePage(mm: Mm, addr: number): number {
    return migratePage(this, mm, addr);
  }

  /** mmget: another user of the address space (a task or a gup-ing thread). */
  mmget(mm: Mm): boolean {
    if (mm.users <= 0) return false; // mmget_not_zero
    mm.users++;
    return true;
  }

  /** mmput: the last user runs exit_mmap (notifier release first, then unmap and free). */
  mmput(mm: Mm): void {
    if (mm.users <= 0) return; // already exited (e.g. OOM-killed)
    if (--mm.users === 0) exitMmap(this, mm);
  }

  // --- secondary MMU interface -------------------------------------------------------------------

  /** get_user_pages for one page: faults it in (as a write would if `write`) and returns the
   *  frame with a reference taken, or a negative errno (-EFAULT: no vma / no permission / mm gone
   *  / swap read error; -ENOMEM: no memory even after reclaim and OOM kill). `longterm` is
   *  FOLL_PIN|FOLL_LONGTERM: it also marks the mm MMF_HAS_PINNED, so fork copies the page eagerly
   *  instead of sharing it (a plain reference, like KVM's, does not). */
  gup(mm: Mm, addr: number, write: boolean, longterm = false): number {
    const f = handleMmFault(this, mm, addr, write);
    if (f < 0) {
      this.stats.gupFailures++;
      return f;
    }
    this.ft.refcount[f]++;
    this.outstandingGupRefs++;
    if (longterm) mm.hasPinned = true;
    this.stats.gups++;
    return f;
  }

  /** put_page for a gup reference. */
  putPage(frame: number): void {
    if (this.ft.refcount[frame] <= 0) throw new Error(`putPage: frame ${frame} has refcount ${this.ft.refcount[frame]}`);
    this.outstandingGupRefs--;
    this.putFrame(frame);
  }

  /** set_page_dirty on behalf of a secondary MMU that wrote through its own mapping. */
  markPageDirty(frame: number): void {
    if (this.ft.refcount[frame] > 0) this.ft.flags[frame] |= PG_DIRTY;
  }

  /** mark_page_accessed on behalf of a secondary MMU. */
  markPageAccessed(frame: number): void {
    if (this.ft.refcount[frame] > 0) this.ft.flags[frame] |= PG_REFERENCED;
  }

  /** copy_{from,to}_user-like access for host workloads: faults pages in as needed. Returns the
   *  number of bytes copied, or a negative errno if the first page could not be accessed. */
  accessUser(mm: Mm, addr: number, buf: Uint8Array, write: boolean): number {
    let done = 0;
    while (done < buf.length) {
      const a = addr + done;
      const off = a & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - off, buf.length - done);
      const f = handleMmFault(this, mm, a, write);
      if (f < 0) return done > 0 ? done : f;
      const base = f * PAGE_SIZE + off;
      if (write) {
        this.ram.set(buf.subarray(done, done + n), base);
        this.frameWritten(f);
      }
      else buf.set(this.ram.subarray(base, base + n), done);
      done += n;
    }
    return done;
  }

  // --- memory pressure ---------------------------------------------------------------------------

  /** One reclaim pass (kswapd-like step): tries to free nrPages, returns how many were freed. */
  reclaim(nrPages: number): number {
    return shrinkLists(this, nrPages);
  }

  /** kswapd: reclaim until free frames reach the high watermark (or nothing more can go). */
  kswapd(): number {
    this.kswapdWanted = false;
    if (this.ft.nrFree >= this.wmarkHigh) return 0;
    this.stats.kswapdRuns++;
    return this.reclaim(this.wmarkHigh - this.ft.nrFree);
  }

  ksmdStep(pagesToScan: number): void {
    this.ksm.scan(pagesToScan);
  }

  /** An SRCU grace period, as the SRCU worker would run it (deferred notifier frees). */
  srcuStep(): boolean {
    return this.srcu.step();
  }

  /** page_idle / MGLRU-style aging of [start, end): clear the ptes' young bits and call
   *  clear_young (no secondary TLB flush). Returns whether any page was young. */
  clearYoung(mm: Mm, start: number, end: number): boolean {
    let young = false;
    mm.pt.forEach(start >>> PAGE_SHIFT, pageAlignUp(end) >>> PAGE_SHIFT, (vpn, pte) => {
      if ((pte & PTE_PRESENT) !== 0 && (pte & PTE_YOUNG) !== 0) {
        mm.pt.set(vpn, pte & ~PTE_YOUNG);
        young = true;
      }
    });
    if (mmuNotifierClearYoung(mm, start, end)) young = true;
    return young;
  }

  /** Whether the page at addr was accessed since it was last aged (host pte or a secondary MMU,
   *  through test_young, which changes no state). */
  testYoung(mm: Mm, addr: number): boolean {
    const pte = mm.pt.get(addr >>> PAGE_SHIFT);
    if ((pte & PTE_PRESENT) !== 0 && (pte & PTE_YOUNG) !== 0) return true;
    return mmuNotifierTestYoung(mm, addr);
  }

  checkInvariants(): void {
    checkHostInvariants(this);
  }

  // --- helpers shared by the operation files -----------------------------------------------------

  /** alloc_page: direct reclaim below the min watermark, OOM kill when nothing can be freed.
   *  Returns a frame with refcount 1 and zeroed contents left to the caller, or -1. */
  allocPage(): number {
    const ft = this.ft;
    if (ft.nrFree <= this.wmarkLow) this.kswapdWanted = true;
    if (ft.nrFree <= this.wmarkMin && !this.inReclaim) {
      this.stats.directReclaims++;
      this.reclaim(SWAP_CLUSTER_MAX);
    }
    let f = ft.allocRaw();
    if (f < 0 && !this.inReclaim) {
      if (outOfMemory(this)) f = ft.allocRaw();
    }
    if (f < 0) this.stats.allocFailures++;
    return f;
  }

  /** folio_put: drop one reference; the last one frees the frame. */
  putFrame(f: number): void {
    const ft = this.ft;
    const r = --ft.refcount[f];
    if (r > 0) return;
    if (r < 0) throw new Error(`frame ${f}: refcount underflow`);
    this.lru.del(f);
    if ((ft.flags[f] & PG_KSM) !== 0) this.ksm.forgetStable(f);
    ft.flags[f] &= ~PG_LOCKED;
    this.stats.framesFreed++;
    ft.freeRaw(f);
    if (ft.poisonOnFree) this.frameWritten(f);
  }

  /** Installs a present pte and its rmap (the caller hands over one frame reference). */
  mapPte(mm: Mm, vpn: number, f: number, pteFlags: number): void {
    mm.pt.set(vpn, mkPte(f, pteFlags));
    this.ft.mapcount[f]++;
    this.rmap.add(f, mm.id, vpn);
    mm.rss++;
  }

  /** Clears a present pte and its rmap; the pte's dirty bit moves to the frame. Returns the frame
   *  whose reference the caller now owns (to put or gather). */
  unmapPte(mm: Mm, vpn: number): number {
    const pte = mm.pt.get(vpn);
    if (!ptePresent(pte)) throw new Error(`unmapPte: mm ${mm.id} vpn ${vpn} not present`);
    const f = pteFrame(pte);
    if ((pte & PTE_DIRTY) !== 0) this.ft.flags[f] |= PG_DIRTY;
    mm.pt.set(vpn, 0);
    this.ft.mapcount[f]--;
    this.rmap.remove(f, mm.id, vpn);
    mm.rss--;
    return f;
  }

  /** folio_free_swap: drop a swap-cache page's slot once no swap pte refers to it. */
  tryFreeSwap(f: number): boolean {
    const ft = this.ft;
    if ((ft.flags[f] & PG_SWAPCACHE) === 0) return false;
    const slot = ft.swapSlot[f];
    if (this.swap.count[slot] !== 0) return false;
    this.swap.cache[slot] = -1;
    ft.swapSlot[f] = -1;
    ft.flags[f] = (ft.flags[f] & ~PG_SWAPCACHE) | PG_DIRTY; // no copy on disk any more
    this.swap.maybeFree(slot);
    this.putFrame(f);
    return true;
  }

  freeSwapAndCache(slot: number): void {
    freeSwapAndCache(this, slot);
  }

  notifyStart(range: MmuNotifierRange): number {
    this.stats.notifierStarts++;
    const r = mmuNotifierInvalidateRangeStart(range);
    if (r !== 0) this.stats.notifierStartsEagain++;
    return r;
  }

  notifyEnd(range: MmuNotifierRange): void {
    this.stats.notifierEnds++;
    mmuNotifierInvalidateRangeEnd(range);
  }

  /** Fill a frame with zeros (a fresh anonymous page), telling onFrameWrite. */
  zeroFrame(f: number): void {
    this.ram.fill(0, f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
    this.frameWritten(f);
  }

  /** Copy frame src into frame dst (COW, fork's eager copy), telling onFrameWrite. */
  copyFrame(dst: number, src: number): void {
    this.ram.copyWithin(dst * PAGE_SIZE, src * PAGE_SIZE, (src + 1) * PAGE_SIZE);
    this.frameWritten(dst);
  }

  frameWritten(frame: number): void {
    const hook = this.onFrameWrite;
    if (hook !== null) hook(frame);
  }

  preempt(label: HostPreemptPoint, mm: Mm, start: number, end: number): void {
    const hook = this.onPreempt;
    if (hook !== null) hook(label, mm, start, end);
  }

  logOom(message: string, fields: object): void {
    if (this.logInfo) this.log.info(fields, message);
  }

  /** Present pte flags check used by tests: is vpn mapped writable in mm? */
  pteWritable(mm: Mm, addr: number): boolean {
    const pte = mm.pt.get(addr >>> PAGE_SHIFT);
    return (pte & PTE_PRESENT) !== 0 && (pte & 2) !== 0;
  }

  /** The page mm has at addr without faulting: the mapped frame, or for a swap entry the frame
   *  still in the swap cache, or -1 (not populated, or swapped out and gone from the cache). */
  pageAt(mm: Mm, addr: number): number {
    const pte = mm.pt.get(addr >>> PAGE_SHIFT);
    if (ptePresent(pte)) return pteFrame(pte);
    if (pteIsSwap(pte)) return this.swap.cache[pteSwapSlot(pte)]!;
    return -1;
  }

  /**
   * Copy into dst (one page) the bytes mm would read at the page of addr, changing nothing: no
   * fault, no swap-in, no accessed bit, no draw from the swap device's error injection. The
   * mapped frame; for a swap entry the frame still in the swap cache, else the slot as the swap
   * store holds it; zeros for private anonymous memory never populated (what its first touch
   * would map). False for no vma, a shared mapping's unpopulated page (its page may sit in the
   * shmem object) or a swap store that cannot be read. For debuggers: Linux has no such call (a
   * ptrace read, access_remote_vm, faults the page in), and gdb on QEMU reads what the guest
   * would read.
   */
  peekPage(mm: Mm, addr: number, dst: Uint8Array): boolean {
    const frame = this.pageAt(mm, addr);
    if (frame >= 0) {
      dst.set(this.ram.subarray(frame * PAGE_SIZE, frame * PAGE_SIZE + PAGE_SIZE));
      return true;
    }
    const pte = mm.pt.get(addr >>> PAGE_SHIFT);
    if (pteIsSwap(pte)) {
      try {
        return this.swap.store.read(pteSwapSlot(pte), dst) === 0;
      } catch {
        return false; // the whole device is unusable (SwapIoError): the run will say so itself
      }
    }
    const vma = findVma(mm.vmas, addr);
    if (vma === null || vma.shmem !== null) return false;
    dst.fill(0);
    return true;
  }

  /** Frame mapped at addr in mm, or -1 (no fault, no reference). */
  frameAt(mm: Mm, addr: number): number {
    const pte = mm.pt.get(addr >>> PAGE_SHIFT);
    return ptePresent(pte) ? pteFrame(pte) : -1;
  }
}

export function pageAlignUp(x: number): number {
  return Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
}

function findFreeArea(mm: Mm, size: number, hint?: number): number {
  const fits = (start: number): boolean => {
    if (start < MMAP_MIN_ADDR / 16 || start + size > TASK_SIZE) return false;
    for (const v of mm.vmas) if (start < v.end && v.start < start + size) return false;
    return true;
  };
  if (hint !== undefined && hint % PAGE_SIZE === 0 && fits(hint)) return hint;
  let start = MMAP_MIN_ADDR;
  for (const v of mm.vmas) {
    if (v.end <= start) continue;
    if (v.start >= start + size) break;
    start = v.end;
  }
  return start + size <= TASK_SIZE ? start : -1;
}
