// Host physical memory: the frames' bytes (one ArrayBuffer) and their metadata as
// struct-of-arrays, plus the free-frame allocator. Mirrors struct page / struct folio
// (_refcount, _mapcount, flags, private = swap entry, lru links) and the buddy allocator's
// single-page free list. The rmap pool (rmap.ts) and LRU lists (lru.ts) use these arrays.

import { PAGE_SIZE } from './constants.js';

// Page flags (one byte per frame).
export const PG_ANON = 1;       // private anonymous (PageAnon); clear for shmem pages
export const PG_DIRTY = 2;
export const PG_REFERENCED = 4;
export const PG_LRU = 8;
export const PG_SWAPCACHE = 16;
export const PG_KSM = 32;
export const PG_LOCKED = 64;
export const PG_ACTIVE = 128;

/** Byte that fills a freed frame, so a stale reader sees garbage instead of old data. */
export const POISON_BYTE = 0x6b;

export class FrameTable {
  readonly ram: Uint8Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly flags: Uint8Array;
  /** Swap slot while PG_SWAPCACHE, else -1. */
  readonly swapSlot: Int32Array;
  /** LRU links; indexes nrFrames and nrFrames+1 are the inactive and active list heads. */
  readonly lruPrev: Int32Array;
  readonly lruNext: Int32Array;
  /** First rmap entry (rmap.ts) or -1. */
  readonly rmapHead: Int32Array;
  /** Bumped whenever a frame is freed or reallocated: a holder of (frame, gen) can tell. */
  readonly frameGen: Int32Array;
  /** Free frames as a stack (LIFO reuse makes use-after-free bugs show quickly). */
  private readonly freeStack: Int32Array;
  nrFree: number;
  poisonOnFree = true;

  constructor(readonly nrFrames: number) {
    this.ram = new Uint8Array(new ArrayBuffer(nrFrames * PAGE_SIZE));
    this.refcount = new Int32Array(nrFrames);
    this.mapcount = new Int32Array(nrFrames);
    this.flags = new Uint8Array(nrFrames);
    this.swapSlot = new Int32Array(nrFrames).fill(-1);
    this.lruPrev = new Int32Array(nrFrames + 2);
    this.lruNext = new Int32Array(nrFrames + 2);
    this.rmapHead = new Int32Array(nrFrames).fill(-1);
    this.frameGen = new Int32Array(nrFrames);
    this.freeStack = new Int32Array(nrFrames);
    // Lowest frame numbers are handed out first.
    for (let i = 0; i < nrFrames; i++) this.freeStack[i] = nrFrames - 1 - i;
    this.nrFree = nrFrames;
  }

  /** Metadata bytes per frame (struct page is 64 in Linux). The rmap pool is per mapping, not
   *  per frame: see RmapPool.bytesPerEntry. */
  static readonly bytesPerFrame = 4 + 4 + 1 + 4 + 4 + 4 + 4 + 4;

  /** Takes a frame off the free list with refcount 1, or returns -1. */
  allocRaw(): number {
    if (this.nrFree === 0) return -1;
    const f = this.freeStack[--this.nrFree];
    this.refcount[f] = 1;
    this.frameGen[f]++;
    return f;
  }

  /** Returns a frame whose refcount reached 0 to the free list (free_unref_page). */
  freeRaw(f: number): void {
    if (this.refcount[f] !== 0 || this.mapcount[f] !== 0) {
      throw new Error(`free of frame ${f} with refcount ${this.refcount[f]} mapcount ${this.mapcount[f]}`);
    }
    if (this.rmapHead[f] !== -1 || (this.flags[f] & (PG_LRU | PG_SWAPCACHE)) !== 0) {
      throw new Error(`free of frame ${f} still on rmap/LRU/swapcache (flags ${this.flags[f]})`);
    }
    this.flags[f] = 0;
    this.swapSlot[f] = -1;
    this.frameGen[f]++;
    if (this.poisonOnFree) this.ram.fill(POISON_BYTE, f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
    this.freeStack[this.nrFree++] = f;
  }

  isFree(f: number): boolean {
    return this.refcount[f] === 0;
  }

  page(f: number): Uint8Array {
    return this.ram.subarray(f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
  }
}
