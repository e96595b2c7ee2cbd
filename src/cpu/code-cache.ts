// Decoded basic blocks per backing page, shareable by several Cpus of one VM. Mirrors the role of
// QEMU's per-page TranslationBlock lists and their invalidation on writes (tb_invalidate_phys_page):
// a store into a page that holds decoded code drops that page's blocks before the store lands.

import type { Block } from './insn.js';
import type { Tlb } from './tlb.js';

/** Granule of the "does this store hit decoded bytes" check: 32 chunks of 128 bytes per page. */
const CHUNK_SHIFT = 7;

/** What the cache may hold before it is emptied (QEMU's tb_flush when its code buffer fills):
 *  decoded instructions (a few hundred bytes of heap each, with their block) and pages with a
 *  block table (32 KiB each). Without a bound, a guest that runs through tens of MiB of distinct
 *  code (a sled, a runaway jump into zeroed RAM) grew the VMM's heap until V8 aborted. Our
 *  guests decode a few thousand instructions on a few dozen pages. */
export const CODE_CACHE_LIMITS = { insns: 1 << 19, pages: 4096 };

export class CodeCache {
  readonly pages: (Array<Block | undefined> | undefined)[];
  /** Non-zero for a page holding decoded blocks; shared with every registered Tlb. */
  readonly codePages: Uint8Array;
  /** Bit k set: bytes [k*128, k*128+128) of the page are covered by some decoded instruction. */
  readonly chunks: Uint32Array;
  private readonly tlbs: Tlb[] = [];
  invalidations = 0;
  /** Told the blocks of each dropped page (the WebAssembly tier frees their link records). */
  onDrop: ((blocks: ReadonlyArray<Block | undefined>) => void) | null = null;
  /** Invalidations per page, saturating at 255: the compiler (jit/) leaves alone a page whose
   *  code keeps being rewritten, where compiling would cost more than it saves. */
  readonly rewrites: Uint8Array;
  /** Decoded instructions held, in all and per page; pages with a block table. */
  private insns = 0;
  private readonly pageInsns: Uint32Array;
  private tables = 0;
  /** Times the whole cache was emptied for being full (flushIfFull). */
  capacityFlushes = 0;

  /** Decoded instructions the cache holds. */
  get heldInsns(): number {
    return this.insns;
  }

  constructor(memBytes: number) {
    const n = Math.ceil(memBytes / 4096);
    this.pages = new Array(n).fill(undefined);
    this.codePages = new Uint8Array(n);
    this.chunks = new Uint32Array(n);
    this.rewrites = new Uint8Array(n);
    this.pageInsns = new Uint32Array(n);
  }

  /** Cpus sharing this cache (each registered its Tlb). */
  get users(): number {
    return this.tlbs.length;
  }

  register(tlb: Tlb): void {
    tlb.codePages = this.codePages;
    this.tlbs.push(tlb);
  }

  /** The block table of `page`, created on first use. */
  table(page: number): Array<Block | undefined> {
    let t = this.pages[page];
    if (t === undefined) {
      t = new Array<Block | undefined>(4096).fill(undefined);
      this.pages[page] = t;
      this.tables++;
    }
    return t;
  }

  /**
   * Before a block is decoded: past CODE_CACHE_LIMITS, drop every page's blocks as a store into
   * each would (compiled code and links go with them; `invalidations` moves, so no link made
   * before is followed). Decoding is the same with the compiler on or off, so the flush falls at
   * the same instruction either way.
   */
  flushIfFull(): void {
    if (this.insns < CODE_CACHE_LIMITS.insns && this.tables < CODE_CACHE_LIMITS.pages) return;
    this.capacityFlushes++;
    for (let page = 0; page < this.pages.length; page++) {
      if (this.pages[page] !== undefined || this.codePages[page] !== 0) this.dropPage(page);
    }
    this.insns = 0;
    this.tables = 0;
  }

  /** Record that bytes [start, end) of `page` are decoded, n instructions of them; protect the
   *  page in every TLB. */
  markCode(page: number, start: number, end: number, n: number): void {
    this.insns += n;
    this.pageInsns[page] += n;
    let bits = 0;
    for (let k = start >>> CHUNK_SHIFT; k <= (end - 1) >>> CHUNK_SHIFT; k++) bits |= 1 << k;
    this.chunks[page] |= bits;
    if (this.codePages[page] === 0) {
      this.codePages[page] = 1;
      for (const t of this.tlbs) t.protectPage(page);
    }
  }

  /** Does a store of `size` bytes at page offset `off` touch decoded bytes? */
  hits(page: number, off: number, size: number): boolean {
    const c = this.chunks[page];
    if (c === 0) return false;
    const a = off >>> CHUNK_SHIFT;
    const b = (off + size - 1) >>> CHUNK_SHIFT;
    return ((c >>> a) & 1) !== 0 || (b < 32 && ((c >>> b) & 1) !== 0);
  }

  invalidatePage(page: number): void {
    if (page < 0 || page >= this.pages.length || this.codePages[page] === 0) return;
    this.dropPage(page);
    if (this.rewrites[page] < 255) this.rewrites[page]++;
  }

  private dropPage(page: number): void {
    const t = this.pages[page];
    if (t !== undefined) {
      if (this.onDrop !== null) this.onDrop(t);
      this.tables--;
    }
    this.pages[page] = undefined;
    this.insns -= this.pageInsns[page];
    this.pageInsns[page] = 0;
    this.codePages[page] = 0;
    this.chunks[page] = 0;
    this.invalidations++;
    for (const t of this.tlbs) t.unprotectPage(page);
  }
}
