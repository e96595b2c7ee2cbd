// The integer ISA items of the instruction-stream fuzzer: cpufuzz.c's gen_insn case for case, in
// 8/16/32-bit forms and with the rotate-through-carry, decimal-adjust, SALC and ARPL forms it lacks, each
// instruction allowed only where it reads no undefined flag; and the string instructions, with
// and without REP, forward and backward, inside scratch.

import { SCRATCH, SCRATCH_PAGES } from './stream-layout.js';
import { AF, ALLF, CF, OF, PF, SF, ZF, le32, type ItemBuilder } from './stream-item.js';
import { cc_needs, type StreamGenState } from './stream-gen-state.js';

/**
 * One instruction of the integer ISA (cpufuzz.c's gen_insn, case for case, plus the string,
 * rotate-through-carry and 8/16-bit forms it lacks); false when the choice is not allowed
 * here (it would read an undefined flag). Updates g.def.
 */
export function isaOp(g: StreamGenState, b: ItemBuilder, allowJcc: boolean): boolean {
  const kind = g.r(33);
  let size = g.pickSize();
  const mem = (g.u32() & 3) === 0;
  const def = g.def;
  b.begin();
  switch (kind) {
    case 0:
    case 1:
    case 2: {
      const op = g.r(8);
      if ((op === 2 || op === 3) && !(def & CF)) return g.abandon(b);
      if (op === 2 || op === 3) g.need(CF);
      g.sizePrefix(b, size);
      b.e8(op * 8 + (size === 8 ? 0 : 1) + (g.u32() & 2));
      g.rm(b, size === 8 ? g.reg8() : g.reg(), size, mem, true);
      g.def = op === 1 || op === 4 || op === 6 ? ALLF & ~AF : ALLF;
      break;
    }
    case 3:
    case 4: {
      const op = g.r(8);
      const form = g.r(3);
      if ((op === 2 || op === 3) && !(def & CF)) return g.abandon(b);
      if (op === 2 || op === 3) g.need(CF);
      g.sizePrefix(b, size);
      if (form === 0) {
        b.e8(op * 8 + (size === 8 ? 4 : 5));
        g.imm(b, size);
      } else if (size === 8 || form === 1) {
        b.e8(size === 8 ? 0x80 : 0x81);
        g.rm(b, op, size, mem, true);
        g.imm(b, size);
      } else {
        b.e8(0x83);
        g.rm(b, op, size, mem, true);
        b.e8(g.u32());
      }
      g.def = op === 1 || op === 4 || op === 6 ? ALLF & ~AF : ALLF;
      break;
    }
    case 5: {
      const dec = g.u32() & 1;
      g.sizePrefix(b, size);
      if (size !== 8 && !mem && g.u32() & 1) b.e8(0x40 + dec * 8 + g.reg());
      else {
        b.e8(size === 8 ? 0xfe : 0xff);
        g.rm(b, dec, size, mem, true);
      }
      g.def = (def & CF) | (ALLF & ~CF);
      break;
    }
    case 6: {
      const neg = g.u32() & 1;
      g.sizePrefix(b, size);
      b.e8(size === 8 ? 0xf6 : 0xf7);
      g.rm(b, 2 + neg, size, mem, true);
      if (neg) g.def = ALLF;
      break;
    }
    case 7: {
      g.sizePrefix(b, size);
      if (g.u32() & 1) {
        b.e8(size === 8 ? 0x84 : 0x85);
        g.rm(b, size === 8 ? g.reg8() : g.reg(), size, mem);
      } else {
        b.e8(size === 8 ? 0xf6 : 0xf7);
        g.rm(b, 0, size, mem);
        g.imm(b, size);
      }
      g.def = ALLF & ~AF;
      break;
    }
    case 8:
    case 9: {
      // Shifts and rotates: by an immediate, by one, or by CL (the count masked to 5 bits).
      const ops = [0, 1, 2, 3, 4, 5, 7];
      const op = ops[g.r(7)]!;
      const form = g.r(4);
      let c: number;
      if (form === 0) c = 1;
      else if (form === 1) {
        // by CL: set CL first (a separate instruction of the item)
        c = g.r(40);
        b.bytes.push(0xb1, c);
        b.end();
        b.begin();
      } else c = g.r(40);
      const mc = c & 31;
      if ((op === 2 || op === 3) && !(def & CF) && mc !== 0) return g.abandon(b);
      // A memory operand shifted by 0: ours writes it back (D set), QEMU only reads it.
      if (mc === 0 && mem && g.profile.qemu) return g.abandon(b);
      if (op === 2 || op === 3) g.need(CF);
      // RCL/RCR of 8/16-bit operands rotate modulo 9/17: defined, and a classic place for bugs.
      g.sizePrefix(b, size);
      if (form === 0) b.e8(size === 8 ? 0xd0 : 0xd1);
      else if (form === 1) b.e8(size === 8 ? 0xd2 : 0xd3);
      else b.e8(size === 8 ? 0xc0 : 0xc1);
      g.rm(b, op, size, mem, true);
      if (form >= 2) b.e8(c);
      if (mc === 0) break;
      if (op <= 3) {
        g.def |= CF;
        if (mc === 1) g.def |= OF;
        else g.def &= ~OF;
      } else {
        g.def = SF | ZF | PF | (mc === 1 ? OF : 0) | (mc < size ? CF : 0);
      }
      break;
    }
    case 10: {
      g.sizePrefix(b, size);
      b.e8(size === 8 ? 0xf6 : 0xf7);
      g.rm(b, 4 + (g.u32() & 1), size, mem);
      g.def = CF | OF;
      break;
    }
    case 11: {
      if (size === 8) size = 32;
      g.sizePrefix(b, size);
      const form = g.r(3);
      if (form === 0) b.bytes.push(0x0f, 0xaf);
      else b.e8(form === 1 ? 0x6b : 0x69);
      g.rm(b, g.reg(), size, mem);
      if (form === 1) b.e8(g.u32());
      else if (form === 2) g.imm(b, size);
      g.def = CF | OF;
      break;
    }
    case 12: {
      if (size === 8) size = 32;
      g.sizePrefix(b, size);
      b.e8(0x0f);
      if (g.u32() & 1) {
        b.e8(0xba);
        g.rm(b, 4 + (g.u32() & 3), size, mem, true);
        b.e8(g.u32());
      } else {
        b.e8(0xa3 + 8 * (g.u32() & 3));
        b.e8(0xc0 | (g.reg() << 3) | g.reg());
      }
      g.def = (def & ZF) | CF;
      break;
    }
    case 13: {
      // BSF/BSR of a source forced non-zero (a zero source leaves the destination undefined)
      if (size === 8) size = 32;
      const src = g.reg();
      const bit = g.r(size);
      b.bytes.push(0x81, 0xc8 | src, ...le32(2 ** bit));
      b.end();
      b.begin();
      g.sizePrefix(b, size);
      b.bytes.push(0x0f, 0xbc + (g.u32() & 1), 0xc0 | (g.reg() << 3) | src);
      g.def = ZF;
      break;
    }
    case 14:
      b.bytes.push(0x0f, 0xc8 + g.reg());
      break;
    case 15: {
      g.sizePrefix(b, size);
      b.e8(0x0f);
      b.e8((g.u32() & 1 ? 0xc0 : 0xb0) + (size === 8 ? 0 : 1));
      if (mem) g.rm(b, size === 8 ? g.reg8() : g.reg(), size, true, true);
      else b.e8(0xc0 | ((size === 8 ? g.reg8() : g.reg()) << 3) | (size === 8 ? g.reg8() : g.reg()));
      g.def = ALLF;
      break;
    }
    case 16: {
      const cc = g.r(16);
      if (!g.ccOk(cc)) return g.abandon(b);
      g.need(cc_needs[cc >> 1]!);
      b.bytes.push(0x0f, 0x90 + cc);
      g.rm(b, 0, 8, mem);
      break;
    }
    case 17: {
      const cc = g.r(16);
      if (!g.ccOk(cc)) return g.abandon(b);
      g.need(cc_needs[cc >> 1]!);
      if (size === 8) size = 32;
      g.sizePrefix(b, size);
      b.bytes.push(0x0f, 0x40 + cc);
      g.rm(b, g.reg(), size, mem);
      break;
    }
    case 18: {
      // Jcc rel8 over one instruction: afterwards only flags defined on both paths
      const cc = g.r(16);
      if (!allowJcc || !g.ccOk(cc)) return g.abandon(b);
      g.need(cc_needs[cc >> 1]!);
      const at = b.pos;
      b.bytes.push(0x70 + cc, 0);
      b.end();
      const before = g.def;
      while (!isaOp(g, b, false)) {
        /* retry */
      }
      b.bytes[at + 1] = b.pos - at - 2;
      g.def &= before;
      return true;
    }
    case 19: {
      const sx = g.u32() & 1;
      const from16 = g.u32() & 1;
      if (!from16 && g.u32() & 1) b.e8(0x66);
      b.bytes.push(0x0f, 0xb6 + sx * 8 + from16);
      g.rm(b, g.reg(), from16 ? 16 : 8, mem);
      break;
    }
    case 20: {
      const form = g.r(3);
      g.sizePrefix(b, size);
      if (form === 0) {
        b.e8((size === 8 ? 0x88 : 0x89) + (g.u32() & 2));
        g.rm(b, size === 8 ? g.reg8() : g.reg(), size, mem);
      } else if (form === 1) {
        b.e8(size === 8 ? 0xb0 + g.reg8() : 0xb8 + g.reg());
        g.imm(b, size);
      } else {
        b.e8(size === 8 ? 0xc6 : 0xc7);
        g.rm(b, 0, size, mem);
        g.imm(b, size);
      }
      break;
    }
    case 21: {
      const dst = g.reg();
      const scale = g.r(4);
      const index = g.r(7) === 0 ? 4 : g.reg();
      b.e8(0x8d);
      if (g.u32() & 1) b.bytes.push(0x44 | (dst << 3), (scale << 6) | (index << 3) | g.reg(), g.u32() & 0xff);
      else {
        b.bytes.push(0x04 | (dst << 3), (scale << 6) | (index << 3) | 5);
        b.e32(g.u32());
      }
      break;
    }
    case 22: {
      g.sizePrefix(b, size);
      if (size !== 8 && !mem && g.u32() & 1) b.e8(0x90 + g.reg());
      else {
        b.e8(size === 8 ? 0x86 : 0x87);
        g.rm(b, size === 8 ? g.reg8() : g.reg(), size, mem, true);
      }
      break;
    }
    case 23: {
      // SHLD/SHRD by imm8 or CL (16-bit counts above 16 are undefined: not generated)
      if (size === 8) size = 32;
      const c = g.r(40);
      const mc = c & 31;
      if (size === 16 && mc > 16) return g.abandon(b);
      if (mc === 0 && mem && g.profile.qemu) return g.abandon(b);
      const byCl = g.u32() & 1;
      if (byCl) {
        b.bytes.push(0xb1, c);
        b.end();
        b.begin();
      }
      g.sizePrefix(b, size);
      b.bytes.push(0x0f, (g.u32() & 1 ? 0xa4 : 0xac) + byCl);
      g.rm(b, g.reg(), size, mem, true);
      if (!byCl) b.e8(c);
      if (mc) g.def = CF | SF | ZF | PF | (mc === 1 ? OF : 0);
      break;
    }
    case 24:
      if (g.u32() & 1) b.e8(0x66);
      b.e8(0x98 + (g.u32() & 1));
      break;
    case 25: {
      const w = g.r(3);
      if (w === 2 && !(def & CF)) return g.abandon(b);
      if (w === 2) g.need(CF);
      b.e8(w === 0 ? 0xf8 : w === 1 ? 0xf9 : 0xf5);
      g.def |= CF;
      break;
    }
    case 26:
      if (g.u32() & 1) {
        const n = SF | ZF | AF | PF | CF;
        if ((def & n) !== n) return g.abandon(b);
        g.need(n);
        b.e8(0x9f);
      } else {
        b.e8(0x9e);
        g.def |= SF | ZF | AF | PF | CF;
      }
      break;
    case 27: {
      const f = g.r(4);
      if (f === 0) {
        b.e8(0x50 + g.reg());
        b.end();
        b.begin();
        b.e8(0x58 + g.reg());
      } else if (f === 1) {
        b.bytes.push(0x6a, g.u32() & 0xff);
        b.end();
        b.begin();
        b.e8(0x58 + g.reg());
      } else if (f === 2) {
        b.e8(0x68);
        b.e32(g.u32());
        b.end();
        b.begin();
        b.bytes.push(0x8f, 0x45, g.u32() & 0xff);
      } else {
        b.bytes.push(0x66, 0x50 + g.reg());
        b.end();
        b.begin();
        b.bytes.push(0x66, 0x58 + g.reg());
      }
      break;
    }
    case 28: {
      if (!(def & CF)) return g.abandon(b);
      g.need(CF);
      g.sizePrefix(b, size);
      b.e8((g.u32() & 1 ? 0x10 : 0x18) + (size === 8 ? 0 : 1) + (g.u32() & 2));
      g.rm(b, size === 8 ? g.reg8() : g.reg(), size, true, true);
      g.def = ALLF;
      break;
    }
    case 29: {
      // DIV/IDIV r32 made safe (cpufuzz), or a divide by zero on purpose (#DE, skipped)
      const d = g.reg();
      if (d === 0 || d === 2) return g.abandon(b);
      if (g.r(8) === 0) {
        b.bytes.push(0x31, 0xc0 | (d << 3) | d); // xor d, d
        b.end();
        b.begin();
        b.bytes.push(0xf7, (g.u32() & 1 ? 0xf0 : 0xf8) | d); // div/idiv d: #DE
        g.def = ALLF; // xor defined them; the faulting DIV changes none (and the handler clears them)
        break;
      }
      b.bytes.push(0x81, 0xc8 | d, ...le32(0x00010001 | (g.u32() & 0x7fff0000)));
      b.end();
      b.begin();
      b.bytes.push(0x31, 0xd2);
      b.end();
      b.begin();
      b.bytes.push(0xf7, 0xf0 | d);
      g.def = 0;
      break;
    }
    case 30: {
      // the decimal adjusts (gcc never emits them; QEMU runs them): DAA/DAS read CF and AF,
      // AAA/AAS read AF, AAM 0 is a #DE (the handler clears the flags), AAD 0 is not
      const k = g.r(6);
      const reads = k < 2 ? CF | AF : k < 4 ? AF : 0;
      if ((def & reads) !== reads) return g.abandon(b);
      g.need(reads);
      if (k < 4) {
        b.e8([0x27, 0x2f, 0x37, 0x3f][k]!);
        g.def = k < 2 ? ALLF & ~OF : CF | AF;
      } else {
        const imm = g.r(8) === 0 ? 0 : g.u32() & 0xff;
        b.e8(0xd0 + k);
        b.e8(imm);
        g.def = k === 4 && imm === 0 ? ALLF : SF | ZF | PF;
      }
      break;
    }
    case 31: {
      // SALC (AL = CF ? FF : 0, reads CF, writes no flag) or ARPL r/m16, r16 (ZF alone)
      if (g.r(2) === 0) {
        if (!(def & CF)) return g.abandon(b);
        g.need(CF);
        b.e8(0xd6);
      } else {
        b.e8(0x63);
        g.rm(b, g.reg(), 16, mem, true);
        g.def = def | ZF;
      }
      break;
    }
    default: {
      // MUL/DIV by 8 and 16 bits with a safe divisor: AH/DX:AX forms
      size = g.u32() & 1 ? 8 : 16;
      const d = size === 8 ? [1, 3, 5, 7][g.r(4)]! : [1, 3, 6, 7][g.r(4)]!; // CL BL CH BH / CX BX SI DI
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
      g.def = 0;
      break;
    }
  }
  b.end();
  return true;
}

/** String instructions with and without REP, forward and backward, inside scratch. */
export function stringOp(g: StreamGenState, b: ItemBuilder): void {
  const sz = [1, 2, 4][g.r(3)]!;
  // movs stos lods cmps scas; no CMPS for QEMU under paging: QEMU reads ES:EDI before DS:ESI,
  // so when the second read faults the first one's A bit differs (QEMU_DIFFERENCES)
  let op = g.r(5);
  if (op === 3 && g.profile.qemu && g.profile.paging) op = 4;
  const rep = g.r(4) !== 0;
  const big = g.r(6) === 0;
  const maxBytes = SCRATCH_PAGES * 4096 - 16;
  let n = !rep ? 1 : big ? g.r(Math.floor(maxBytes / sz)) : g.r(g.r(2) === 0 ? 17 : 1024);
  if (g.r(40) === 0) n = 0;
  const back = g.r(3) === 0;
  const span = Math.max(1, n) * sz;
  const pick = (): number => (back ? SCRATCH + span - sz + g.r(maxBytes - span) : SCRATCH + g.r(maxBytes - span));
  b.insn(0xbe, ...le32(pick())); // mov esi
  b.insn(0xbf, ...le32(pick())); // mov edi
  b.insn(0xb9, ...le32(n)); // mov ecx
  b.insn(back ? 0xfd : 0xfc);
  b.begin();
  const cmp = op === 3 || op === 4;
  if (rep) b.e8(cmp ? (g.u32() & 1 ? 0xf3 : 0xf2) : 0xf3);
  if (sz === 2) b.e8(0x66);
  const base = [0xa4, 0xaa, 0xac, 0xa6, 0xae][op]!;
  b.e8(base + (sz === 1 ? 0 : 1));
  b.end();
  // A string compare sets every flag when it runs at least once; a REP with ECX = 0 runs none.
  if (cmp && (n > 0 || !rep)) g.def = ALLF;
}
