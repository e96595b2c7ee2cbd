// The swap device: slot allocator with per-slot swap counts and the swap cache, over a pluggable
// backing store. Mirrors struct swap_info_struct (swap_map counts, SWAP_HAS_CACHE as `cache`),
// get_swap_page / swap_free, and the swapper address_space. The default store keeps slots in
// memory; a file-backed store (needs node:fs) belongs outside the engine (see README note).

import { EIO, PAGE_SIZE } from './constants.js';
import type { Prng } from './prng.js';

/**
 * The swap device itself failed (the file behind `--swap-file` could not be written or read:
 * a full disk, a read-only file system, a file size limit). Unlike the -EIO of one page, which
 * the host survives as Linux does (the page stays dirty in the swap cache; a failed read is
 * SIGBUS/-EFAULT for whoever faulted), the simulator cannot go on faithfully: a store throws this
 * and nothing in the engine catches it, so the run ends with "swap device I/O error" (exit status
 * 135, see obs/exit-status.ts) instead of turning into an OOM kill later.
 */
export class SwapIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SwapIoError';
  }
}

/** Where swapped pages' bytes live. Both calls return 0 or a negative errno (-EIO), or throw
 *  SwapIoError when the whole device is unusable. */
export interface SwapStore {
  readonly slots: number;
  read(slot: number, dst: Uint8Array): number;
  write(slot: number, src: Uint8Array): number;
}

/** Slots per lazily allocated chunk of the in-memory store (1 MiB). */
const CHUNK_SLOTS = 256;

/**
 * In-memory swap store (the default). Backing memory comes in 1 MiB chunks allocated on first
 * write, so a large swap device costs only what is actually swapped (a slot never written reads
 * as zeros).
 */
export class MemorySwapStore implements SwapStore {
  private readonly chunks: (Uint8Array | undefined)[];
  constructor(readonly slots: number) {
    this.chunks = new Array(Math.ceil(slots / CHUNK_SLOTS));
  }
  read(slot: number, dst: Uint8Array): number {
    const c = this.chunks[(slot / CHUNK_SLOTS) | 0];
    if (c === undefined) dst.fill(0, 0, PAGE_SIZE);
    else {
      const o = (slot % CHUNK_SLOTS) * PAGE_SIZE;
      dst.set(c.subarray(o, o + PAGE_SIZE));
    }
    return 0;
  }
  write(slot: number, src: Uint8Array): number {
    const i = (slot / CHUNK_SLOTS) | 0;
    let c = this.chunks[i];
    if (c === undefined) this.chunks[i] = c = new Uint8Array(CHUNK_SLOTS * PAGE_SIZE);
    c.set(src.subarray(0, PAGE_SIZE), (slot % CHUNK_SLOTS) * PAGE_SIZE);
    return 0;
  }
  /** Bytes of memory the store holds now. */
  get bytesAllocated(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== undefined) n += c.length;
    return n;
  }
}

/** A swap store sized for a handful of pages (the explorer's scenarios, the exercises): one
 *  4 KiB buffer per slot written, where the default store's 1 MiB chunks would dominate a run
 *  that swaps three pages. */
export class PageSwapStore implements SwapStore {
  private readonly pages = new Map<number, Uint8Array>();
  constructor(readonly slots: number) {}
  read(slot: number, dst: Uint8Array): number {
    const p = this.pages.get(slot);
    if (p === undefined) dst.fill(0, 0, PAGE_SIZE);
    else dst.set(p);
    return 0;
  }
  write(slot: number, src: Uint8Array): number {
    this.pages.set(slot, src.slice(0, PAGE_SIZE));
    return 0;
  }
}

/** Which I/O to fail: a deterministic rate (seeded PRNG) and/or explicit one-shot counts. */
export interface SwapErrorInjection {
  readErrorRate: number;
  writeErrorRate: number;
  /** The next N reads/writes fail, before the rates apply. */
  failNextReads: number;
  failNextWrites: number;
}

export class SwapDevice {
  /** Swap ptes referencing each slot (swap_map count without SWAP_HAS_CACHE). */
  readonly count: Int32Array;
  /** Swap-cache frame holding each slot's page, or -1 (SWAP_HAS_CACHE + the swapper mapping). */
  readonly cache: Int32Array;
  private readonly freeStack: Int32Array;
  nrFree: number;
  readonly inject: SwapErrorInjection = { readErrorRate: 0, writeErrorRate: 0, failNextReads: 0, failNextWrites: 0 };

  constructor(readonly store: SwapStore, private readonly prng: Prng) {
    const n = store.slots;
    this.count = new Int32Array(n);
    this.cache = new Int32Array(n).fill(-1);
    this.freeStack = new Int32Array(n);
    for (let i = 0; i < n; i++) this.freeStack[i] = n - 1 - i;
    this.nrFree = n;
  }

  get nrSlots(): number {
    return this.count.length;
  }

  /** get_swap_page: a free slot or -1 (swap full). */
  alloc(): number {
    if (this.nrFree === 0) return -1;
    return this.freeStack[--this.nrFree];
  }

  /** Frees the slot once no pte and no cache page refer to it (swap_entry_free). */
  maybeFree(slot: number): boolean {
    if (this.count[slot] !== 0 || this.cache[slot] !== -1) return false;
    this.freeStack[this.nrFree++] = slot;
    return true;
  }

  /** How many times each slot stands on the free stack (0 or 1 on a sound device), built in one
   *  pass so the checker stays linear in the number of slots. */
  freeCounts(): Int32Array {
    const c = new Int32Array(this.count.length);
    for (let i = 0; i < this.nrFree; i++) c[this.freeStack[i]]++;
    return c;
  }

  read(slot: number, dst: Uint8Array): number {
    const inj = this.inject;
    if (inj.failNextReads > 0) { inj.failNextReads--; return -EIO; }
    if (inj.readErrorRate > 0 && this.prng.nextFloat() < inj.readErrorRate) return -EIO;
    return this.store.read(slot, dst);
  }

  write(slot: number, src: Uint8Array): number {
    const inj = this.inject;
    if (inj.failNextWrites > 0) { inj.failNextWrites--; return -EIO; }
    if (inj.writeErrorRate > 0 && this.prng.nextFloat() < inj.writeErrorRate) return -EIO;
    return this.store.write(slot, src);
  }
}
