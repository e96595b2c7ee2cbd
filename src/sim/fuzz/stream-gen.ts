// The fuzzer's instruction-stream generator: seeded streams of the instructions GUEST-ABI.md
// promises (the integer ISA gcc emits in 8/16/32-bit forms, string instructions with REP, the
// system instructions, paging churn, self-modifying code through aliases, and hostile endings).
// The ISA part extends guest-images/cpufuzz.c's in-guest generator (same operand discipline:
// registers other than ESP/EBP, memory at [EBP + disp] inside the scratch area, and the same
// rule that no instruction consumes an architecturally undefined flag) to a host-side form whose
// streams can be shrunk item by item. Each item is a few instructions with its flag transfer
// (def' = (def & keep) | set), the flags it reads, and relocations for absolute addresses, so
// any subset of a stream is still a well-formed stream at new addresses.

import { Prng } from '../../host/prng.js';
import {
  ALIAS_PT_VA,
  ALIAS_SCRATCH_VA,
  BEYOND_RAM_GPA,
  GDTR,
  IDTR,
  IDTR_ALT,
  LARGE_VA,
  PD,
  PT0,
  PT1,
  SCRATCH,
  SCRATCH_EBP,
  SCRATCH_PAGES,
} from './stream-layout.js';

export const CF = 0x001;
export const PF = 0x004;
export const AF = 0x010;
export const ZF = 0x040;
export const SF = 0x080;
export const OF = 0x800;
export const ALLF = CF | PF | AF | ZF | SF | OF;

/** What a stream may contain. */
export interface StreamProfile {
  /** Paging on (page tables, aliases, churn); else flat physical. */
  paging: boolean;
  /** The stream runs in ring 3 (privileged instructions #GP, U/S checks). */
  ring3: boolean;
  /** System instructions (CR moves, descriptor tables, segment moves, far control, ports...). */
  system: boolean;
  /** Only what QEMU must reproduce bit for bit: no RDTSC/CPUID values kept, no HLT, no FPU
   *  opcodes, no ports but COM1, no guest-physical addresses outside RAM. */
  qemu: boolean;
  /** Hostile: PTEs beyond RAM, PT writes through aliases, a terminal IDT/stack on a
   *  not-present page. */
  hostile: boolean;
}

export const RELOC_ABS = 0; // the item's own address + add
export const RELOC_ALIAS = 1; // the same byte seen through the alias mapping of the stream pages

export interface Reloc {
  /** Byte offset in the item of a 32-bit field to fill. */
  at: number;
  /** Offset in the item that the field points at. */
  add: number;
  kind: number;
}

export interface StreamItem {
  bytes: number[];
  /** Lengths of the instructions, in order (the runtime's length table skips faulting ones). */
  lens: number[];
  relocs: Reloc[];
  /** Flags the item reads: they must be defined before it (for QEMU comparisons). */
  needs: number;
  keep: number;
  set: number;
  /** Ends the run (triple fault, HLT): placed last. */
  terminal?: boolean;
  /** A short name for reports and shrunk reproducers. */
  what: string;
}

const GPRS = [0, 1, 2, 3, 6, 7];
/** The scratch page EBP points at (disp8 reaches it and the one before). */
export const EBP_PAGE = (SCRATCH_EBP - SCRATCH) >>> 12;
const cc_needs = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF];

/** Builds one item instruction by instruction. */
class ItemBuilder {
  bytes: number[] = [];
  lens: number[] = [];
  relocs: Reloc[] = [];
  private start = 0;
  begin(): void {
    this.start = this.bytes.length;
  }
  end(): void {
    this.lens.push(this.bytes.length - this.start);
  }
  e8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  e16(v: number): void {
    this.e8(v);
    this.e8(v >>> 8);
  }
  e32(v: number): void {
    this.e16(v);
    this.e16(v >>> 16);
  }
  /** One whole instruction. */
  insn(...b: number[]): void {
    this.begin();
    for (const x of b) this.e8(x);
    this.end();
  }
  get pos(): number {
    return this.bytes.length;
  }
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** A seeded generator of items for one stream. */
export class StreamGen {
  readonly rnd: Prng;
  /** Flags defined at this point of the stream. */
  def = ALLF;
  private b = new ItemBuilder();
  private needs = 0;

  constructor(
    seed: number,
    readonly profile: StreamProfile,
  ) {
    this.rnd = new Prng(seed);
  }

  private r(n: number): number {
    return this.rnd.below(n);
  }
  private u32(): number {
    return this.rnd.nextU32();
  }
  private reg(): number {
    return GPRS[this.r(6)]!;
  }
  private reg8(): number {
    return this.r(8);
  }
  private pickSize(): number {
    const r = this.r(3);
    return r === 0 ? 8 : r === 1 ? 16 : 32;
  }
  private ccOk(cc: number): boolean {
    const n = cc_needs[cc >> 1]!;
    return (this.def & n) === n;
  }
  private need(flags: number): void {
    this.needs |= flags;
  }

  /** ModRM r/m operand: a register (mod 3), [EBP+disp8], [EBP+disp32] anywhere in the scratch
   *  area (page-crossing), or with paging an absolute address in the scratch aliases. */
  private rm(b: ItemBuilder, regfield: number, size: number, mem: boolean, rmw = false): void {
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
  private sizePrefix(b: ItemBuilder, size: number): void {
    if (size === 16) b.e8(0x66);
  }
  private imm(b: ItemBuilder, size: number): void {
    if (size === 8) b.e8(this.u32());
    else if (size === 16) b.e16(this.u32());
    else b.e32(this.u32());
  }

  /**
   * One instruction of the integer ISA (cpufuzz.c's gen_insn, case for case, plus the string,
   * rotate-through-carry and 8/16-bit forms it lacks); false when the choice is not allowed
   * here (it would read an undefined flag). Updates this.def.
   */
  private isa(b: ItemBuilder, allowJcc: boolean): boolean {
    const kind = this.r(31);
    let size = this.pickSize();
    const mem = (this.u32() & 3) === 0;
    const def = this.def;
    b.begin();
    switch (kind) {
      case 0:
      case 1:
      case 2: {
        const op = this.r(8);
        if ((op === 2 || op === 3) && !(def & CF)) return this.abandon(b);
        if (op === 2 || op === 3) this.need(CF);
        this.sizePrefix(b, size);
        b.e8(op * 8 + (size === 8 ? 0 : 1) + (this.u32() & 2));
        this.rm(b, size === 8 ? this.reg8() : this.reg(), size, mem, true);
        this.def = op === 1 || op === 4 || op === 6 ? ALLF & ~AF : ALLF;
        break;
      }
      case 3:
      case 4: {
        const op = this.r(8);
        const form = this.r(3);
        if ((op === 2 || op === 3) && !(def & CF)) return this.abandon(b);
        if (op === 2 || op === 3) this.need(CF);
        this.sizePrefix(b, size);
        if (form === 0) {
          b.e8(op * 8 + (size === 8 ? 4 : 5));
          this.imm(b, size);
        } else if (size === 8 || form === 1) {
          b.e8(size === 8 ? 0x80 : 0x81);
          this.rm(b, op, size, mem, true);
          this.imm(b, size);
        } else {
          b.e8(0x83);
          this.rm(b, op, size, mem, true);
          b.e8(this.u32());
        }
        this.def = op === 1 || op === 4 || op === 6 ? ALLF & ~AF : ALLF;
        break;
      }
      case 5: {
        const dec = this.u32() & 1;
        this.sizePrefix(b, size);
        if (size !== 8 && !mem && this.u32() & 1) b.e8(0x40 + dec * 8 + this.reg());
        else {
          b.e8(size === 8 ? 0xfe : 0xff);
          this.rm(b, dec, size, mem, true);
        }
        this.def = (def & CF) | (ALLF & ~CF);
        break;
      }
      case 6: {
        const neg = this.u32() & 1;
        this.sizePrefix(b, size);
        b.e8(size === 8 ? 0xf6 : 0xf7);
        this.rm(b, 2 + neg, size, mem, true);
        if (neg) this.def = ALLF;
        break;
      }
      case 7: {
        this.sizePrefix(b, size);
        if (this.u32() & 1) {
          b.e8(size === 8 ? 0x84 : 0x85);
          this.rm(b, size === 8 ? this.reg8() : this.reg(), size, mem);
        } else {
          b.e8(size === 8 ? 0xf6 : 0xf7);
          this.rm(b, 0, size, mem);
          this.imm(b, size);
        }
        this.def = ALLF & ~AF;
        break;
      }
      case 8:
      case 9: {
        // Shifts and rotates: by an immediate, by one, or by CL (the count masked to 5 bits).
        const ops = [0, 1, 2, 3, 4, 5, 7];
        const op = ops[this.r(7)]!;
        const form = this.r(4);
        let c: number;
        if (form === 0) c = 1;
        else if (form === 1) {
          // by CL: set CL first (a separate instruction of the item)
          c = this.r(40);
          b.bytes.push(0xb1, c);
          b.end();
          b.begin();
        } else c = this.r(40);
        const mc = c & 31;
        if ((op === 2 || op === 3) && !(def & CF) && mc !== 0) return this.abandon(b);
        // A memory operand shifted by 0: ours writes it back (D set), QEMU only reads it.
        if (mc === 0 && mem && this.profile.qemu) return this.abandon(b);
        if (op === 2 || op === 3) this.need(CF);
        // RCL/RCR of 8/16-bit operands rotate modulo 9/17: defined, and a classic place for bugs.
        this.sizePrefix(b, size);
        if (form === 0) b.e8(size === 8 ? 0xd0 : 0xd1);
        else if (form === 1) b.e8(size === 8 ? 0xd2 : 0xd3);
        else b.e8(size === 8 ? 0xc0 : 0xc1);
        this.rm(b, op, size, mem, true);
        if (form >= 2) b.e8(c);
        if (mc === 0) break;
        if (op <= 3) {
          this.def |= CF;
          if (mc === 1) this.def |= OF;
          else this.def &= ~OF;
        } else {
          this.def = SF | ZF | PF | (mc === 1 ? OF : 0) | (mc < size ? CF : 0);
        }
        break;
      }
      case 10: {
        this.sizePrefix(b, size);
        b.e8(size === 8 ? 0xf6 : 0xf7);
        this.rm(b, 4 + (this.u32() & 1), size, mem);
        this.def = CF | OF;
        break;
      }
      case 11: {
        if (size === 8) size = 32;
        this.sizePrefix(b, size);
        const form = this.r(3);
        if (form === 0) b.bytes.push(0x0f, 0xaf);
        else b.e8(form === 1 ? 0x6b : 0x69);
        this.rm(b, this.reg(), size, mem);
        if (form === 1) b.e8(this.u32());
        else if (form === 2) this.imm(b, size);
        this.def = CF | OF;
        break;
      }
      case 12: {
        if (size === 8) size = 32;
        this.sizePrefix(b, size);
        b.e8(0x0f);
        if (this.u32() & 1) {
          b.e8(0xba);
          this.rm(b, 4 + (this.u32() & 3), size, mem, true);
          b.e8(this.u32());
        } else {
          b.e8(0xa3 + 8 * (this.u32() & 3));
          b.e8(0xc0 | (this.reg() << 3) | this.reg());
        }
        this.def = (def & ZF) | CF;
        break;
      }
      case 13: {
        // BSF/BSR of a source forced non-zero (a zero source leaves the destination undefined)
        if (size === 8) size = 32;
        const src = this.reg();
        const bit = this.r(size);
        b.bytes.push(0x81, 0xc8 | src, ...le32(2 ** bit));
        b.end();
        b.begin();
        this.sizePrefix(b, size);
        b.bytes.push(0x0f, 0xbc + (this.u32() & 1), 0xc0 | (this.reg() << 3) | src);
        this.def = ZF;
        break;
      }
      case 14:
        b.bytes.push(0x0f, 0xc8 + this.reg());
        break;
      case 15: {
        this.sizePrefix(b, size);
        b.e8(0x0f);
        b.e8((this.u32() & 1 ? 0xc0 : 0xb0) + (size === 8 ? 0 : 1));
        if (mem) this.rm(b, size === 8 ? this.reg8() : this.reg(), size, true, true);
        else b.e8(0xc0 | ((size === 8 ? this.reg8() : this.reg()) << 3) | (size === 8 ? this.reg8() : this.reg()));
        this.def = ALLF;
        break;
      }
      case 16: {
        const cc = this.r(16);
        if (!this.ccOk(cc)) return this.abandon(b);
        this.need(cc_needs[cc >> 1]!);
        b.bytes.push(0x0f, 0x90 + cc);
        this.rm(b, 0, 8, mem);
        break;
      }
      case 17: {
        const cc = this.r(16);
        if (!this.ccOk(cc)) return this.abandon(b);
        this.need(cc_needs[cc >> 1]!);
        if (size === 8) size = 32;
        this.sizePrefix(b, size);
        b.bytes.push(0x0f, 0x40 + cc);
        this.rm(b, this.reg(), size, mem);
        break;
      }
      case 18: {
        // Jcc rel8 over one instruction: afterwards only flags defined on both paths
        const cc = this.r(16);
        if (!allowJcc || !this.ccOk(cc)) return this.abandon(b);
        this.need(cc_needs[cc >> 1]!);
        const at = b.pos;
        b.bytes.push(0x70 + cc, 0);
        b.end();
        const before = this.def;
        while (!this.isa(b, false)) {
          /* retry */
        }
        b.bytes[at + 1] = b.pos - at - 2;
        this.def &= before;
        return true;
      }
      case 19: {
        const sx = this.u32() & 1;
        const from16 = this.u32() & 1;
        if (!from16 && this.u32() & 1) b.e8(0x66);
        b.bytes.push(0x0f, 0xb6 + sx * 8 + from16);
        this.rm(b, this.reg(), from16 ? 16 : 8, mem);
        break;
      }
      case 20: {
        const form = this.r(3);
        this.sizePrefix(b, size);
        if (form === 0) {
          b.e8((size === 8 ? 0x88 : 0x89) + (this.u32() & 2));
          this.rm(b, size === 8 ? this.reg8() : this.reg(), size, mem);
        } else if (form === 1) {
          b.e8(size === 8 ? 0xb0 + this.reg8() : 0xb8 + this.reg());
          this.imm(b, size);
        } else {
          b.e8(size === 8 ? 0xc6 : 0xc7);
          this.rm(b, 0, size, mem);
          this.imm(b, size);
        }
        break;
      }
      case 21: {
        const dst = this.reg();
        const scale = this.r(4);
        const index = this.r(7) === 0 ? 4 : this.reg();
        b.e8(0x8d);
        if (this.u32() & 1) b.bytes.push(0x44 | (dst << 3), (scale << 6) | (index << 3) | this.reg(), this.u32() & 0xff);
        else {
          b.bytes.push(0x04 | (dst << 3), (scale << 6) | (index << 3) | 5);
          b.e32(this.u32());
        }
        break;
      }
      case 22: {
        this.sizePrefix(b, size);
        if (size !== 8 && !mem && this.u32() & 1) b.e8(0x90 + this.reg());
        else {
          b.e8(size === 8 ? 0x86 : 0x87);
          this.rm(b, size === 8 ? this.reg8() : this.reg(), size, mem, true);
        }
        break;
      }
      case 23: {
        // SHLD/SHRD by imm8 or CL (16-bit counts above 16 are undefined: not generated)
        if (size === 8) size = 32;
        const c = this.r(40);
        const mc = c & 31;
        if (size === 16 && mc > 16) return this.abandon(b);
        if (mc === 0 && mem && this.profile.qemu) return this.abandon(b);
        const byCl = this.u32() & 1;
        if (byCl) {
          b.bytes.push(0xb1, c);
          b.end();
          b.begin();
        }
        this.sizePrefix(b, size);
        b.bytes.push(0x0f, (this.u32() & 1 ? 0xa4 : 0xac) + byCl);
        this.rm(b, this.reg(), size, mem, true);
        if (!byCl) b.e8(c);
        if (mc) this.def = CF | SF | ZF | PF | (mc === 1 ? OF : 0);
        break;
      }
      case 24:
        if (this.u32() & 1) b.e8(0x66);
        b.e8(0x98 + (this.u32() & 1));
        break;
      case 25: {
        const w = this.r(3);
        if (w === 2 && !(def & CF)) return this.abandon(b);
        if (w === 2) this.need(CF);
        b.e8(w === 0 ? 0xf8 : w === 1 ? 0xf9 : 0xf5);
        this.def |= CF;
        break;
      }
      case 26:
        if (this.u32() & 1) {
          const n = SF | ZF | AF | PF | CF;
          if ((def & n) !== n) return this.abandon(b);
          this.need(n);
          b.e8(0x9f);
        } else {
          b.e8(0x9e);
          this.def |= SF | ZF | AF | PF | CF;
        }
        break;
      case 27: {
        const f = this.r(4);
        if (f === 0) {
          b.e8(0x50 + this.reg());
          b.end();
          b.begin();
          b.e8(0x58 + this.reg());
        } else if (f === 1) {
          b.bytes.push(0x6a, this.u32() & 0xff);
          b.end();
          b.begin();
          b.e8(0x58 + this.reg());
        } else if (f === 2) {
          b.e8(0x68);
          b.e32(this.u32());
          b.end();
          b.begin();
          b.bytes.push(0x8f, 0x45, this.u32() & 0xff);
        } else {
          b.bytes.push(0x66, 0x50 + this.reg());
          b.end();
          b.begin();
          b.bytes.push(0x66, 0x58 + this.reg());
        }
        break;
      }
      case 28: {
        if (!(def & CF)) return this.abandon(b);
        this.need(CF);
        this.sizePrefix(b, size);
        b.e8((this.u32() & 1 ? 0x10 : 0x18) + (size === 8 ? 0 : 1) + (this.u32() & 2));
        this.rm(b, size === 8 ? this.reg8() : this.reg(), size, true, true);
        this.def = ALLF;
        break;
      }
      case 29: {
        // DIV/IDIV r32 made safe (cpufuzz), or a divide by zero on purpose (#DE, skipped)
        const d = this.reg();
        if (d === 0 || d === 2) return this.abandon(b);
        if (this.r(8) === 0) {
          b.bytes.push(0x31, 0xc0 | (d << 3) | d); // xor d, d
          b.end();
          b.begin();
          b.bytes.push(0xf7, (this.u32() & 1 ? 0xf0 : 0xf8) | d); // div/idiv d: #DE
          this.def = ALLF; // xor defined them; the faulting DIV changes none (and the handler clears them)
          break;
        }
        b.bytes.push(0x81, 0xc8 | d, ...le32(0x00010001 | (this.u32() & 0x7fff0000)));
        b.end();
        b.begin();
        b.bytes.push(0x31, 0xd2);
        b.end();
        b.begin();
        b.bytes.push(0xf7, 0xf0 | d);
        this.def = 0;
        break;
      }
      default: {
        // MUL/DIV by 8 and 16 bits with a safe divisor: AH/DX:AX forms
        size = this.u32() & 1 ? 8 : 16;
        const d = size === 8 ? [1, 3, 5, 7][this.r(4)]! : [1, 3, 6, 7][this.r(4)]!; // CL BL CH BH / CX BX SI DI
        // AX (or DX:AX) small, divisor forced >= 0x81 (0x8001): the quotient fits
        if (size === 8) {
          b.bytes.push(0x80, 0xc8 | d, 0x81); // or d8, 0x81
          b.end();
          b.begin();
          b.bytes.push(0x66, 0x25, 0xff, 0x3f); // and ax, 0x3fff
        } else {
          b.bytes.push(0x66, 0x81, 0xc8 | d, 0x01, 0x80); // or d16, 0x8001
          b.end();
          b.begin();
          b.bytes.push(0x66, 0x31, 0xd2); // xor dx, dx
        }
        b.end();
        b.begin();
        if (size === 16) b.e8(0x66);
        b.bytes.push(size === 8 ? 0xf6 : 0xf7, 0xf0 | d); // div
        this.def = 0;
        break;
      }
    }
    b.end();
    return true;
  }

  private abandon(b: ItemBuilder): false {
    b.bytes.length = b.lens.reduce((a, x) => a + x, 0);
    return false;
  }

  /** String instructions with and without REP, forward and backward, inside scratch. */
  private stringOp(b: ItemBuilder): void {
    const sz = [1, 2, 4][this.r(3)]!;
    // movs stos lods cmps scas; no CMPS for QEMU under paging: QEMU reads ES:EDI before DS:ESI,
    // so when the second read faults the first one's A bit differs (QEMU_DIFFERENCES)
    let op = this.r(5);
    if (op === 3 && this.profile.qemu && this.profile.paging) op = 4;
    const rep = this.r(4) !== 0;
    const big = this.r(6) === 0;
    const maxBytes = SCRATCH_PAGES * 4096 - 16;
    let n = !rep ? 1 : big ? this.r(Math.floor(maxBytes / sz)) : this.r(this.r(2) === 0 ? 17 : 1024);
    if (this.r(40) === 0) n = 0;
    const back = this.r(3) === 0;
    const span = Math.max(1, n) * sz;
    const pick = (): number => (back ? SCRATCH + span - sz + this.r(maxBytes - span) : SCRATCH + this.r(maxBytes - span));
    b.insn(0xbe, ...le32(pick())); // mov esi
    b.insn(0xbf, ...le32(pick())); // mov edi
    b.insn(0xb9, ...le32(n)); // mov ecx
    b.insn(back ? 0xfd : 0xfc);
    b.begin();
    const cmp = op === 3 || op === 4;
    if (rep) b.e8(cmp ? (this.u32() & 1 ? 0xf3 : 0xf2) : 0xf3);
    if (sz === 2) b.e8(0x66);
    const base = [0xa4, 0xaa, 0xac, 0xa6, 0xae][op]!;
    b.e8(base + (sz === 1 ? 0 : 1));
    b.end();
    // A string compare sets every flag when it runs at least once; a REP with ECX = 0 runs none.
    if (cmp && (n > 0 || !rep)) this.def = ALLF;
  }

  /** An item of system instructions (ring 3 gets #GP for the privileged ones: skipped). */
  private systemOp(b: ItemBuilder): boolean {
    const p = this.profile;
    switch (this.r(20)) {
      case 0:
        b.insn(0x0f, 0x01, 0x15, ...le32(GDTR)); // lgdt [gdtr]
        return true;
      case 1:
        b.insn(0x0f, 0x01, 0x1d, ...le32(IDTR)); // lidt [idtr]
        return true;
      case 2:
        b.insn(0x0f, 0x01, 0x45 | ((this.u32() & 1) << 3), this.u32() & 0xff); // sgdt/sidt [ebp+d8]
        return true;
      case 3: {
        const cr = [0, 2, 3, 4][this.r(4)]!;
        b.insn(0x0f, 0x20, 0xc0 | (cr << 3) | this.reg()); // mov r, crN
        return true;
      }
      case 4:
        // reload CR3 (a TLB flush)
        b.insn(0x0f, 0x20, 0xd8);
        b.insn(0x0f, 0x22, 0xd8);
        return true;
      case 5:
        if (!p.paging) return false;
        // toggle CR0.WP
        b.insn(0x0f, 0x20, 0xc0);
        b.insn(0x35, ...le32(0x10000));
        b.insn(0x0f, 0x22, 0xc0);
        this.def = ALLF & ~AF;
        return true;
      case 6:
        if (!p.paging) return false;
        // toggle CR4.PSE: PD[2] is a 4 MiB page when set, a page table at 0 when clear
        b.insn(0x0f, 0x20, 0xe0);
        b.insn(0x35, ...le32(0x10));
        b.insn(0x0f, 0x22, 0xe0);
        b.insn(0x0f, 0x20, 0xd8);
        b.insn(0x0f, 0x22, 0xd8);
        this.def = ALLF & ~AF;
        return true;
      case 7: {
        // segment registers: load a data selector, store one
        const sreg = [0, 3, 4, 5][this.r(4)]!;
        const sel = p.ring3 || this.r(2) === 0 ? 0x23 : 0x10;
        b.insn(0x66, 0xb8, sel, 0); // mov ax, sel
        b.insn(0x8e, 0xc0 | (sreg << 3)); // mov sreg, ax
        b.insn(0x8c, 0x45 | (this.r(6) << 3), this.u32() & 0xff); // mov [ebp+d8], sreg
        b.insn(0x66, 0x8c, 0xc0 | (this.r(6) << 3) | this.reg()); // mov r16, sreg
        return true;
      }
      case 8: {
        // far JMP to the next instruction through the GDT
        b.begin();
        b.e8(0xea);
        b.relocs.push({ at: b.pos, add: b.pos + 6, kind: RELOC_ABS });
        b.e32(0);
        b.e16(p.ring3 ? (this.r(4) === 0 ? 0x08 : 0x1b) : 0x08);
        b.end();
        return true;
      }
      case 9: {
        // far CALL to a far RET: lcall sel:T; jmp over; T: lret
        b.begin();
        b.e8(0x9a);
        b.relocs.push({ at: b.pos, add: b.pos + 6 + 2, kind: RELOC_ABS });
        b.e32(0);
        b.e16(p.ring3 ? 0x1b : 0x08);
        b.end();
        b.insn(0xeb, 0x01);
        b.insn(0xcb);
        return true;
      }
      case 10:
        b.insn(0xfa); // cli
        return true;
      case 11: {
        // software interrupts: INT 0x31..0x3f (gates of DPL 0 or 3), INT3, INTO
        const w = this.r(4);
        if (w === 0) b.insn(0xcc);
        else if (w === 1) {
          if (!(this.def & OF)) return false;
          this.needs |= OF;
          b.insn(0xce);
          return true; // no trap: flags unchanged; a trap: cleared (defined) by the handler
        } else b.insn(0xcd, 0x31 + this.r(15));
        this.def = ALLF; // the handler clears the arithmetic flags it returns with
        return true;
      }
      case 12:
        b.insn(0x0f, 0x0b); // ud2
        this.def = ALLF;
        return true;
      case 13: {
        // COM1: a byte out, the line status in
        b.insn(0x66, 0xba, 0xf8, 0x03); // mov dx, 0x3f8
        b.insn(0xb0, 0x20 + this.r(95)); // mov al, printable
        b.insn(0xee); // out dx, al
        b.insn(0x66, 0xba, 0xfd, 0x03); // mov dx, 0x3fd
        b.insn(0xec); // in al, dx
        return true;
      }
      case 14: {
        if (p.qemu) return false;
        // ports nothing decodes (all ones, writes dropped), 8/16/32-bit, immediate and DX
        const port = [0x80, 0x61, 0x70, 0x3e9, 0x500, 0xcf8][this.r(6)]!;
        const sz = this.r(3);
        if (port < 256 && this.r(2) === 0) {
          b.insn(...(sz === 1 ? [0x66] : []), (this.r(2) ? 0xe4 : 0xe6) + (sz === 0 ? 0 : 1), port);
        } else {
          b.insn(0x66, 0xba, port & 0xff, port >>> 8);
          b.insn(...(sz === 1 ? [0x66] : []), (this.r(2) ? 0xec : 0xee) + (sz === 0 ? 0 : 1));
        }
        return true;
      }
      case 15: {
        // RDTSC: virtual time; a mid-block RDTSC must not disturb the block's tail
        b.insn(0x0f, 0x31);
        if (p.qemu) {
          b.insn(0xb8, ...le32(this.u32()));
          b.insn(0xba, ...le32(this.u32()));
        }
        return true;
      }
      case 16: {
        const leaf = [0, 1, 2, 0x80000000, 7][this.r(5)]!;
        b.insn(0xb8, ...le32(leaf));
        b.insn(0x0f, 0xa2);
        if (p.qemu) for (const r of [0, 1, 2, 3]) b.insn(0xb8 + r, ...le32(this.u32()));
        return true;
      }
      case 17: {
        // PUSHF/POPF: flip arithmetic flags through the stack, or read them into a register
        if (this.r(2) === 0 && (this.def & ALLF) === ALLF) {
          this.needs |= ALLF;
          b.insn(0x9c);
          b.insn(0x58 + this.reg());
          return true;
        }
        b.insn(0x9c);
        b.insn(0x81, 0x34, 0x24, ...le32(this.u32() & ALLF)); // xor dword [esp], imm
        b.insn(0x9d);
        return true;
      }
      case 18: {
        if (!p.paging) return false;
        b.insn(0x0f, 0x01, 0x7d, this.u32() & 0xff); // invlpg [ebp+d8]
        return true;
      }
      default: {
        if (p.qemu) {
          // LTR of the busy TSS (#GP on both). Not a random selector: QEMU loads a null one
          // where the SDM says #GP(0) (QEMU_DIFFERENCES in fuzz-case.ts).
          b.insn(0x66, 0xb9, 0x28, 0x00); // mov cx, 0x28
          b.insn(0x0f, 0x00, 0xd9); // ltr cx
          return true;
        }
        if (this.r(4) === 0) {
          b.insn(0xd8 + this.r(8), 0xc0 | this.r(64)); // an x87 opcode: no FPU, #UD
          this.def = ALLF;
          return true;
        }
        b.insn(0x0f, 0x00, 0xd8 | this.reg());
        return true;
      }
    }
  }

  /** Paging churn: rewrite a scratch PTE (another frame, other rights, beyond RAM) and INVLPG. */
  private pagingOp(b: ItemBuilder): boolean {
    const p = this.profile;
    let page = this.r(SCRATCH_PAGES);
    // QEMU streams keep the two pages around EBP (their RMW targets) user+writable.
    if (p.qemu && (page === EBP_PAGE || page === EBP_PAGE - 1)) page = (page + 2) % SCRATCH_PAGES;
    const alias = this.r(3) === 0;
    const va = (alias ? ALIAS_SCRATCH_VA : SCRATCH) + page * 4096;
    const pteAddr = alias ? PT1 + (16 + page) * 4 : PT0 + ((SCRATCH >>> 12) + page) * 4;
    let frame = (SCRATCH >>> 12) + this.r(SCRATCH_PAGES);
    if (p.hostile && !p.qemu && this.r(4) === 0) frame = (BEYOND_RAM_GPA >>> 12) + this.r(64);
    const flags = [0x7, 0x7, 0x5, 0x3, 0x1, 0x0, 0x6, 0x67][this.r(8)]!;
    // Written through the PT's own alias mapping now and then (page-table writes the shadow MMU
    // must see whatever linear address they come through). Not from ring 3: there the INVLPG
    // faults, and a TLB may then legitimately keep the old translation (GUEST-ABI "Paging").
    const viaAlias = p.hostile && !p.ring3 && this.r(3) === 0;
    const writeAt = viaAlias ? ALIAS_PT_VA + (pteAddr - PD) : pteAddr;
    b.insn(0xc7, 0x05, ...le32(writeAt), ...le32(frame * 4096 + flags)); // mov dword [pte], v
    b.insn(0x0f, 0x01, 0x3d, ...le32(va)); // invlpg [va]
    return true;
  }

  /** Self-modifying code: patch the immediate of a MOV a few bytes on, through the alias
   *  mapping of the stream pages (paging) or directly, then jump to it. */
  private smcOp(b: ItemBuilder): void {
    const r = this.reg();
    b.begin();
    b.bytes.push(0xc6, 0x05);
    // mov byte [target], imm8: target = the MOV's immediate, 7 + 2 + 1 bytes from the start
    b.relocs.push({ at: b.pos, add: b.pos + 4 + 1 + 2 + 1, kind: this.profile.paging && this.r(4) !== 0 ? RELOC_ALIAS : RELOC_ABS });
    b.e32(0);
    b.e8(this.u32());
    b.end();
    b.insn(0xeb, 0x00);
    b.insn(0xb8 + r, ...le32(this.u32()));
  }

  /** An ending that no guest survives: the IDT or the stack on a not-present page, or an
   *  IDT whose gates come from outside RAM. */
  private hostileEnd(b: ItemBuilder): void {
    const page = this.r(SCRATCH_PAGES);
    const va = SCRATCH + page * 4096;
    const w = this.r(3);
    if (this.profile.paging) {
      b.insn(0xc7, 0x05, ...le32(PT0 + ((SCRATCH >>> 12) + page) * 4), ...le32(w === 2 ? BEYOND_RAM_GPA | 0x7 : 0)); // np or beyond RAM
      b.insn(0x0f, 0x01, 0x3d, ...le32(va));
    }
    if (w === 1) {
      b.insn(0xbc, ...le32(va + 0x800)); // mov esp, va + 0x800
    } else {
      b.insn(0x0f, 0x01, 0x1d, ...le32(IDTR_ALT + page * 8)); // lidt: an IDT at va of the page
    }
    b.insn(0x0f, 0x0b); // ud2
  }

  /** Generate `count` items (a terminal one last in hostile profiles). */
  generate(count: number): StreamItem[] {
    const items: StreamItem[] = [];
    for (let k = 0; k < count; k++) {
      const item = this.one(k === count - 1);
      if (item !== null) items.push(item);
    }
    return items;
  }

  private one(last: boolean): StreamItem | null {
    const p = this.profile;
    const before = this.def;
    this.b = new ItemBuilder();
    this.needs = 0;
    const b = this.b;
    let what = 'isa';
    const pick = this.r(100);
    if (last && p.hostile && this.r(3) === 0) {
      this.hostileEnd(b);
      what = 'hostile-end';
    } else if (pick < 12) {
      this.stringOp(b);
      what = 'string';
    } else if (pick < 24 && p.system) {
      if (!this.systemOp(b)) return null;
      what = 'system';
    } else if (pick < 30 && p.paging) {
      this.pagingOp(b);
      what = 'pte';
    } else if (pick < 33) {
      this.smcOp(b);
      what = 'smc';
    } else if (pick < 34 && p.system && !p.qemu && this.r(20) === 0) {
      b.insn(0xf4); // hlt: with IF=0 the VM stops (status 1)
      what = 'hlt';
    } else {
      while (!this.isa(b, true)) {
        /* retry */
      }
    }
    // The flag transfer as (keep, set): flags defined before and after count as kept, those
    // defined only after as set. For any other starting state this claims no more than the item
    // really defines (a kept flag stays defined only if it was; a set one is set by the item), so
    // replaying a subset of items may mask more flags than needed, never fewer.
    const after = this.def;
    return {
      bytes: b.bytes,
      lens: b.lens,
      relocs: b.relocs,
      needs: this.needs,
      keep: before & after,
      set: after & ~before,
      terminal: what === 'hostile-end' || what === 'hlt',
      what,
    };
  }
}

/** The defined flags after a sequence of items, or -1 if one reads a flag not defined there. */
export function replayDefined(items: readonly StreamItem[], start = ALLF): number {
  let def = start;
  for (const it of items) {
    if ((def & it.needs) !== it.needs) return -1;
    def = (def & it.keep) | it.set;
  }
  return def;
}
