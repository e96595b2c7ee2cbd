// The processor's translation lookaside buffer: direct-mapped, struct-of-arrays, owned by one Cpu.
// Mirrors the hardware TLB that KVM flushes with kvm_flush_remote_tlbs(): it caches linear page ->
// backing page with permissions; a miss goes to the Mmu (native walker or shadow MMU).

import { TLB_LARGE, TLB_USER, TLB_WRITE } from './ports.js';

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/**
 * Four tag arrays hold the linear page number (vpn) when the access kind is permitted, or -1:
 * supervisor read, supervisor write, user read, user write. The Cpu indexes the pair for its CPL,
 * so a hit is one compare. Write tags are withheld from pages that hold decoded instructions
 * (`codePages`), so stores into code take the slow path, which invalidates the decoded blocks.
 */
export class Tlb {
  readonly tagSR: Int32Array;
  readonly tagSW: Int32Array;
  readonly tagUR: Int32Array;
  readonly tagUW: Int32Array;
  /** Backing byte offset of the page as `page << 12`: backing memory may reach 4 GiB (the largest
   *  ArrayBuffer), so offsets of pages at and above 2 GiB wrap negative here; readers recover
   *  the byte address with `(off + (lin & 0xfff)) >>> 0` and the page with `off >>> 12`. */
  readonly off: Int32Array;
  /** off minus the linear page's address (`(page - vpn) << 12`, wrapping): the backing byte
   *  address is `(add + lin) >>> 0`, one addition (QEMU's softmmu addend). The WebAssembly
   *  tier's way; the interpreter reads off. */
  readonly add: Int32Array;
  /** TLB_WRITE | TLB_USER as given to fill(): what the walk allowed, before code protection. */
  readonly flags = new Int32Array(TLB_SIZE);
  /** Frame generation recorded at fill time (stale-access detector). */
  readonly gen = new Int32Array(TLB_SIZE);
  /** Per backing page: non-zero when it holds decoded instructions (set by the CodeCache). */
  codePages: Uint8Array | null = null;
  fills = 0;
  /** Bumped by every flush: decoded-block links made under an older epoch are not followed. */
  epoch = 0;
  /** Per 4 MiB linear region: non-zero when entries filled from a 4 MiB page (TLB_LARGE) may be
   *  in it. The TLB keeps a large page as 4 KiB pieces, but INVLPG of any address in it must drop
   *  the whole translation, as the processor's single large entry would be. */
  readonly largeRegions = new Uint8Array(1024);

  /** The tag, `off` and `add` arrays are placed at `byteOffset` in `buffer` when given (six
   *  arrays in a row: the WebAssembly tier reads them there, jit/wasm-arena.ts). */
  constructor(buffer?: ArrayBufferLike, byteOffset = 0) {
    const arr = (k: number): Int32Array =>
      buffer === undefined ? new Int32Array(TLB_SIZE) : new Int32Array(buffer, byteOffset + k * TLB_SIZE * 4, TLB_SIZE);
    this.tagSR = arr(0).fill(-1);
    this.tagSW = arr(1).fill(-1);
    this.tagUR = arr(2).fill(-1);
    this.tagUW = arr(3).fill(-1);
    this.off = arr(4);
    this.add = arr(5);
  }

  fill(lin: number, page: number, flags: number, gen: number): void {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    const user = (flags & TLB_USER) !== 0;
    const cp = this.codePages;
    const write = (flags & TLB_WRITE) !== 0 && (cp === null || cp[page] === 0);
    this.tagSR[i] = vpn;
    this.tagUR[i] = user ? vpn : -1;
    this.tagSW[i] = write ? vpn : -1;
    this.tagUW[i] = write && user ? vpn : -1;
    this.off[i] = page << 12;
    this.add[i] = ((page << 12) - (vpn << 12)) | 0;
    this.flags[i] = flags;
    this.gen[i] = gen;
    this.fills++;
    if ((flags & TLB_LARGE) !== 0) this.largeRegions[vpn >>> 10] = 1;
  }

  flushAll(): void {
    this.epoch++;
    this.tagSR.fill(-1);
    this.tagSW.fill(-1);
    this.tagUR.fill(-1);
    this.tagUW.fill(-1);
    this.largeRegions.fill(0);
  }

  /** INVLPG: drop lin's page, and every piece of a 4 MiB page that lin lies in. */
  flushPage(lin: number): void {
    this.epoch++;
    const vpn = lin >>> 12;
    this.dropEntry(vpn);
    const region = vpn >>> 10;
    if (this.largeRegions[region] === 0) return;
    this.largeRegions[region] = 0;
    for (let v = region << 10, last = v + 1023; v <= last; v++) {
      if ((this.flags[v & TLB_MASK] & TLB_LARGE) !== 0) this.dropEntry(v);
    }
  }

  private dropEntry(vpn: number): void {
    const i = vpn & TLB_MASK;
    if (this.tagSR[i] === vpn) {
      this.tagSR[i] = -1;
      this.tagSW[i] = -1;
      this.tagUR[i] = -1;
      this.tagUW[i] = -1;
    }
  }

  /** Drop every entry that maps backing page `page` (a host-side invalidation). */
  flushBackingPage(page: number): void {
    this.epoch++;
    const o = page << 12;
    for (let i = 0; i < TLB_SIZE; i++) {
      if (this.off[i] === o && this.tagSR[i] !== -1) {
        this.tagSR[i] = -1;
        this.tagSW[i] = -1;
        this.tagUR[i] = -1;
        this.tagUW[i] = -1;
      }
    }
  }

  /** Withdraw write permission from entries mapping `page` (it now holds decoded code). */
  protectPage(page: number): void {
    const o = page << 12;
    for (let i = 0; i < TLB_SIZE; i++) {
      if (this.off[i] === o) {
        this.tagSW[i] = -1;
        this.tagUW[i] = -1;
      }
    }
  }

  /** Give back the write permission the walk granted (the page's decoded code was dropped). */
  unprotectPage(page: number): void {
    const o = page << 12;
    for (let i = 0; i < TLB_SIZE; i++) {
      const vpn = this.tagSR[i];
      if (vpn !== -1 && this.off[i] === o) {
        const f = this.flags[i];
        if (f & TLB_WRITE) {
          this.tagSW[i] = vpn;
          if (f & TLB_USER) this.tagUW[i] = vpn;
        }
      }
    }
  }
}
