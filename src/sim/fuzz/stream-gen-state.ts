// What the instruction-stream encoders share: the seeded choices (the one Prng of a stream, so the
// order of the draws is the stream), the flags defined at this point of the stream and those the
// item being built reads, and the operand discipline of guest-images/cpufuzz.c: registers other
// than ESP/EBP, memory at [EBP + disp] inside the scratch area (or, with paging, through its
// aliases), immediates of the operand size.

import { Prng } from '../../host/prng.js';
import { ALIAS_SCRATCH_VA, LARGE_VA, SCRATCH, SCRATCH_EBP, SCRATCH_PAGES } from './stream-layout.js';
import { ALLF, CF, OF, PF, SF, ZF, type ItemBuilder, type StreamProfile } from './stream-item.js';

const GPRS = [0, 1, 2, 3, 6, 7];
/** The scratch page EBP points at (disp8 reaches it and the one before). */
export const EBP_PAGE = (SCRATCH_EBP - SCRATCH) >>> 12;
/** The flags each condition-code pair (cc >> 1) reads. */
export const cc_needs = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF];

/** The state of one stream's generator and the operand encoders its items use. */
export class StreamGenState {
  readonly rnd: Prng;
  /** Flags defined at this point of the stream. */
  def = ALLF;
  /** Flags the item being built reads. */
  needs = 0;

  constructor(
    seed: number,
    readonly profile: StreamProfile,
  ) {
    this.rnd = new Prng(seed);
  }

  r(n: number): number {
    return this.rnd.below(n);
  }
  u32(): number {
    return this.rnd.nextU32();
  }
  reg(): number {
    return GPRS[this.r(6)]!;
  }
  reg8(): number {
    return this.r(8);
  }
  pickSize(): number {
    const r = this.r(3);
    return r === 0 ? 8 : r === 1 ? 16 : 32;
  }
  ccOk(cc: number): boolean {
    const n = cc_needs[cc >> 1]!;
    return (this.def & n) === n;
  }
  need(flags: number): void {
    this.needs |= flags;
  }

  /** ModRM r/m operand: a register (mod 3), [EBP+disp8], [EBP+disp32] anywhere in the scratch
   *  area (page-crossing), or with paging an absolute address in the scratch aliases. */
  rm(b: ItemBuilder, regfield: number, size: number, mem: boolean, rmw = false): void {
    if (!mem) {
      b.e8(0xc0 | (regfield << 3) | (size === 8 ? this.reg8() : this.reg()));
      return;
    }
    const form = this.r(8);
    // For QEMU, a read-modify-write stays at [EBP+disp8], on the two pages kept user+writable:
    // a faulting RMW shows QEMU's load-then-store order (QEMU_DIFFERENCES).
    if (form < 4 || (rmw && this.profile.qemu)) {
      b.e8(0x45 | (regfield << 3));
      b.e8(this.u32());
    } else if (form < 7 || !this.profile.paging) {
      b.e8(0x85 | (regfield << 3));
      // Anywhere in scratch, sometimes right at a page end so the access straddles two pages.
      const span = SCRATCH_PAGES * 4096;
      let off = this.r(span - 8);
      // straddling a page end inside scratch (never past its last byte: QEMU's Multiboot
      // loader puts its boot information right after the image)
      if (this.r(4) === 0 && (off | 0xfff) < span - 4) off = (off | 0xfff) - this.r(3);
      b.e32(SCRATCH + off - SCRATCH_EBP);
    } else {
      // Through the scratch aliases, or (not for QEMU: with CR4.PSE clear its walk reads low
      // memory, which differs there) through the 4 MiB page that maps RAM again.
      b.e8(0x05 | (regfield << 3));
      let off = this.r(SCRATCH_PAGES * 4096 - 8);
      if (this.r(4) === 0 && (off | 0xfff) < SCRATCH_PAGES * 4096 - 4) off = (off | 0xfff) - this.r(3);
      b.e32((!this.profile.qemu && this.r(3) === 0 ? LARGE_VA + SCRATCH : ALIAS_SCRATCH_VA) + off);
    }
  }
  sizePrefix(b: ItemBuilder, size: number): void {
    if (size === 16) b.e8(0x66);
  }
  imm(b: ItemBuilder, size: number): void {
    if (size === 8) b.e8(this.u32());
    else if (size === 16) b.e16(this.u32());
    else b.e32(this.u32());
  }

  /** Drops the instruction being built (the item keeps the whole ones before it). */
  abandon(b: ItemBuilder): false {
    b.bytes.length = b.lens.reduce((a, x) => a + x, 0);
    return false;
  }
}
