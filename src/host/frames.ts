// Host physical memory: the frames' bytes (one ArrayBuffer) and their metadata as
// struct-of-arrays, plus the free-frame allocator. Mirrors struct page / struct folio
// (_refcount, _mapcount, flags, private = swap entry, lru links) and the buddy allocator's
// single-page free list, which, as in Linux, is threaded through the same lru link a page uses
// while it is on an LRU list (a free frame never is). The rmap pool (rmap.ts) and LRU lists
// (lru.ts) use these arrays.

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

/**
 * Most frames a host can have: 2^20 frames, 4 GiB. Host RAM is one ArrayBuffer, and 4 GiB is
 * both the largest one Node 20 allocates and the most a 32-bit byte offset (the Cpu's TLB keeps
 * `frame << 12`, read back unsigned) can address.
 */
export const MAX_FRAMES = 1 << 20;

/** Byte that fills a freed frame, so a stale reader sees garbage instead of old data. */
export const POISON_BYTE = 0x6b;

export class FrameTable {
  readonly ram: Uint8Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly flags: Uint8Array;
  /** Swap slot while PG_SWAPCACHE, else -1. */
  readonly swapSlot: Int32Array;
  /** LRU links; indexes nrFrames and nrFrames+1 are the inactive and active list heads. While a
   *  frame is free, lruNext[f] is the next free frame (or -1) instead. */
  readonly lruPrev: Int32Array;
  readonly lruNext: Int32Array;
  /** First rmap entry (rmap.ts) or -1. */
  readonly rmapHead: Int32Array;
  /** Bumped whenever a frame is freed or reallocated: a holder of (frame, gen) can tell. */
  readonly frameGen: Int32Array;
  /** Top of the free-frame stack, linked through lruNext (LIFO reuse makes use-after-free bugs
   *  show quickly), or -1. */
  private freeHead: number;
  nrFree: number;
  poisonOnFree = true;

  constructor(
    readonly nrFrames: number,
    allocRam: (bytes: number) => Uint8Array = (n) => new Uint8Array(n),
  ) {
    if (!Number.isInteger(nrFrames) || nrFrames < 1 || nrFrames > MAX_FRAMES) {
      throw new RangeError(`a host has 1 to ${MAX_FRAMES} frames (4 KiB to 4 GiB of RAM), not ${nrFrames}`);
    }
    this.ram = allocRam(nrFrames * PAGE_SIZE);
    this.refcount = new Int32Array(nrFrames);
    this.mapcount = new Int32Array(nrFrames);
    this.flags = new Uint8Array(nrFrames);
    this.swapSlot = new Int32Array(nrFrames).fill(-1);
    this.lruPrev = new Int32Array(nrFrames + 2);
    this.lruNext = new Int32Array(nrFrames + 2);
    this.rmapHead = new Int32Array(nrFrames).fill(-1);
    this.frameGen = new Int32Array(nrFrames);
    // Lowest frame numbers are handed out first.
    for (let i = 0; i < nrFrames; i++) this.lruNext[i] = i + 1 < nrFrames ? i + 1 : -1;
    this.freeHead = 0;
    this.nrFree = nrFrames;
  }

  /** Every per-frame metadata array this table allocated: all its typed arrays but the RAM. Found
   *  by looking at the fields, so an array added later is counted without anyone listing it. */
  metadataArrays(): ArrayBufferView[] {
    return Object.values(this).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v) && v !== this.ram);
  }

  /** Metadata bytes per frame, measured from the arrays actually allocated (struct page is 64
   *  in Linux; the LRU list heads count too). The rmap pool is per mapping: see rmap.ts. */
  metadataBytesPerFrame(): number {
    let bytes = 0;
    for (const a of this.metadataArrays()) bytes += a.byteLength;
    return bytes / this.nrFrames;
  }

  /** Takes a frame off the free list with refcount 1, or returns -1. */
  allocRaw(): number {
    if (this.nrFree === 0) return -1;
    const f = this.freeHead;
    this.freeHead = this.lruNext[f];
    this.nrFree--;
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
    this.lruNext[f] = this.freeHead;
    this.freeHead = f;
    this.nrFree++;
  }

  isFree(f: number): boolean {
    return this.refcount[f] === 0;
  }

  page(f: number): Uint8Array {
    return this.ram.subarray(f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
  }
}
