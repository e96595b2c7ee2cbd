// Integer arithmetic and logic handlers: ALU ops, INC/DEC/NEG/NOT, multiply and divide (#DE),
// shifts and rotates, SHLD/SHRD, bit tests and scans, SETcc/CMOVcc, MOVZX/MOVSX, XADD, CMPXCHG.
// The flag results follow the SDM; where it says "undefined" they follow QEMU's choices.

import type { Cpu } from './cpu.js';
import {
  F_ADC,
  F_ADD,
  F_DEC,
  F_INC,
  F_RES,
  F_SBB,
  F_SUB,
  FL_AF,
  FL_CF,
  FL_DF,
  FL_OF,
  FL_PF,
  FL_SF,
  FL_ZF,
  PARITY,
  arithFlags,
  cond,
  getCF,
  setArith,
  setRes,
  setZF,
  sx,
} from './flags.js';
import type { Insn } from './insn.js';
import { ea, getReg, getReg8, readE, readForWrite, setReg, setReg8 } from './operands.js';

/** ALU operation op (ADD OR ADC SBB AND SUB XOR CMP) at size index sz; returns the result
 *  sign-extended to 32 bits and records the flags. */
export function alu(c: Cpu, op: number, sz: number, a: number, b: number): number {
  let r: number;
  switch (op) {
    case 0:
      r = sx(sz, a + b);
      c.fop = F_ADD;
      break;
    case 1:
      r = sx(sz, a | b);
      setRes(c, sz, r, 0, 0, 0);
      return r;
    case 2: {
      const cin = getCF(c);
      r = sx(sz, a + b + cin);
      c.fcf = cin;
      c.fop = F_ADC;
      break;
    }
    case 3: {
      const cin = getCF(c);
      r = sx(sz, a - b - cin);
      c.fcf = cin;
      c.fop = F_SBB;
      break;
    }
    case 4:
      r = sx(sz, a & b);
      setRes(c, sz, r, 0, 0, 0);
      return r;
    case 6:
      r = sx(sz, a ^ b);
      setRes(c, sz, r, 0, 0, 0);
      return r;
    default:
      r = sx(sz, a - b);
      c.fop = F_SUB;
      break;
  }
  c.fa = a;
  c.fb = b;
  c.fres = r;
  c.fsz = sz;
  return r;
}

// ---- two-operand ALU forms ----------------------------------------------------------------

/** op E, G (00 01 08 09 ... 38 39). */
export function opAluEG(c: Cpu, i: Insn): void {
  const s = i.osz;
  const b = getReg(c, s, i.reg);
  if (i.mem) {
    const a = ea(c, i);
    if (i.op === 7) {
      alu(c, 7, s >> 1, c.rd(s, a), b);
      return;
    }
    const r = alu(c, i.op, s >> 1, readForWrite(c, s, a), b);
    c.wr(s, a, r);
  } else {
    const r = alu(c, i.op, s >> 1, getReg(c, s, i.rm), b);
    if (i.op !== 7) setReg(c, s, i.rm, r);
  }
}

/** op G, E (02 03 0A 0B ... 3A 3B). */
export function opAluGE(c: Cpu, i: Insn): void {
  const s = i.osz;
  const r = alu(c, i.op, s >> 1, getReg(c, s, i.reg), readE(c, i));
  if (i.op !== 7) setReg(c, s, i.reg, r);
}

/** op E, imm (80 81 83, and 04 05 ... 3C 3D with rm = eAX). */
export function opAluEI(c: Cpu, i: Insn): void {
  const s = i.osz;
  if (i.mem) {
    const a = ea(c, i);
    if (i.op === 7) {
      alu(c, 7, s >> 1, c.rd(s, a), i.imm);
      return;
    }
    const r = alu(c, i.op, s >> 1, readForWrite(c, s, a), i.imm);
    c.wr(s, a, r);
  } else {
    const r = alu(c, i.op, s >> 1, getReg(c, s, i.rm), i.imm);
    if (i.op !== 7) setReg(c, s, i.rm, r);
  }
}

// 32-bit register-only fast forms (the bulk of gcc -O2 code).
export function opAlu32RR(c: Cpu, i: Insn): void {
  const r = alu(c, i.op, 2, c.r[i.rm], c.r[i.reg]);
  if (i.op !== 7) c.r[i.rm] = r;
}
export function opAlu32RI(c: Cpu, i: Insn): void {
  const r = alu(c, i.op, 2, c.r[i.rm], i.imm);
  if (i.op !== 7) c.r[i.rm] = r;
}
export function opAlu32GM(c: Cpu, i: Insn): void {
  const r = alu(c, i.op, 2, c.r[i.reg], c.rd32(ea(c, i)));
  if (i.op !== 7) c.r[i.reg] = r;
}
// Per-operation 32-bit forms: no ALU switch on the hot path.
function add32(c: Cpu, a: number, b: number): number {
  const r = (a + b) | 0;
  c.fop = F_ADD;
  c.fa = a;
  c.fb = b;
  c.fres = r;
  c.fsz = 2;
  return r;
}
function sub32(c: Cpu, a: number, b: number): number {
  const r = (a - b) | 0;
  c.fop = F_SUB;
  c.fa = a;
  c.fb = b;
  c.fres = r;
  c.fsz = 2;
  return r;
}
function logic32(c: Cpu, r: number): number {
  c.fop = F_RES;
  c.fres = r;
  c.fsz = 2;
  c.fcf = 0;
  c.fof = 0;
  c.faf = 0;
  return r;
}
export function opAdd32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = add32(c, c.r[i.rm], c.r[i.reg]);
}
export function opSub32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = sub32(c, c.r[i.rm], c.r[i.reg]);
}
export function opAnd32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] & c.r[i.reg]);
}
export function opOr32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] | c.r[i.reg]);
}
export function opXor32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] ^ c.r[i.reg]);
}
export function opSub32RI(c: Cpu, i: Insn): void {
  c.r[i.rm] = sub32(c, c.r[i.rm], i.imm);
}
export function opAnd32RI(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] & i.imm);
}
export function opOr32RI(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] | i.imm);
}
export function opXor32RI(c: Cpu, i: Insn): void {
  c.r[i.rm] = logic32(c, c.r[i.rm] ^ i.imm);
}
export function opAdd32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = add32(c, c.r[i.reg], c.rd32(ea(c, i)));
}
export function opSub32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = sub32(c, c.r[i.reg], c.rd32(ea(c, i)));
}
export function opOr32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = logic32(c, c.r[i.reg] | c.rd32(ea(c, i)));
}
export function opAnd32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = logic32(c, c.r[i.reg] & c.rd32(ea(c, i)));
}
export function opXor32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = logic32(c, c.r[i.reg] ^ c.rd32(ea(c, i)));
}
export function opCmp32GM(c: Cpu, i: Insn): void {
  sub32(c, c.r[i.reg], c.rd32(ea(c, i)));
}
export function opCmp32MI(c: Cpu, i: Insn): void {
  sub32(c, c.rd32(ea(c, i)), i.imm);
}
export function opCmp32MG(c: Cpu, i: Insn): void {
  sub32(c, c.rd32(ea(c, i)), c.r[i.reg]);
}
export function opTest32RI(c: Cpu, i: Insn): void {
  logic32(c, c.r[i.rm] & i.imm);
}

/** op m32, imm and op m32, r32 (read-modify-write through rdW32/wrW32). */
export function opAlu32MI(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  c.wrW32(a, alu(c, i.op, 2, c.rdW32(a), i.imm));
}
export function opAlu32MG(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  c.wrW32(a, alu(c, i.op, 2, c.rdW32(a), c.r[i.reg]));
}
export function opAdd32MI(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  c.wrW32(a, add32(c, c.rdW32(a), i.imm));
}
export function opAdd32MG(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  c.wrW32(a, add32(c, c.rdW32(a), c.r[i.reg]));
}

/** Pick the specialised handler for a 32-bit ALU op between registers (E = rm, G = reg). */
export function alu32RR(op: number): (c: Cpu, i: Insn) => void {
  return [opAdd32RR, opOr32RR, opAlu32RR, opAlu32RR, opAnd32RR, opSub32RR, opXor32RR, opCmp32RR][op];
}
export function alu32RI(op: number): (c: Cpu, i: Insn) => void {
  return [opAdd32RI, opOr32RI, opAlu32RI, opAlu32RI, opAnd32RI, opSub32RI, opXor32RI, opCmp32RI][op];
}
export function alu32GM(op: number): (c: Cpu, i: Insn) => void {
  return [opAdd32GM, opOr32GM, opAlu32GM, opAlu32GM, opAnd32GM, opSub32GM, opXor32GM, opCmp32GM][op];
}

export function opAdd32RI(c: Cpu, i: Insn): void {
  const a = c.r[i.rm];
  const r = (a + i.imm) | 0;
  c.fop = F_ADD;
  c.fa = a;
  c.fb = i.imm;
  c.fres = r;
  c.fsz = 2;
  c.r[i.rm] = r;
}
export function opCmp32RR(c: Cpu, i: Insn): void {
  const a = c.r[i.rm];
  const b = c.r[i.reg];
  c.fop = F_SUB;
  c.fa = a;
  c.fb = b;
  c.fres = (a - b) | 0;
  c.fsz = 2;
}
export function opCmp32RI(c: Cpu, i: Insn): void {
  const a = c.r[i.rm];
  c.fop = F_SUB;
  c.fa = a;
  c.fb = i.imm;
  c.fres = (a - i.imm) | 0;
  c.fsz = 2;
}
export function opTest32RR(c: Cpu, i: Insn): void {
  setRes(c, 2, c.r[i.rm] & c.r[i.reg], 0, 0, 0);
}

/** TEST E, G (84 85). */
export function opTestEG(c: Cpu, i: Insn): void {
  const s = i.osz;
  setRes(c, s >> 1, sx(s >> 1, readE(c, i) & getReg(c, s, i.reg)), 0, 0, 0);
}

/** TEST E, imm (F6/F7 /0, A8 A9). */
export function opTestEI(c: Cpu, i: Insn): void {
  const s = i.osz;
  setRes(c, s >> 1, sx(s >> 1, readE(c, i) & i.imm), 0, 0, 0);
}

// ---- one-operand group -------------------------------------------------------------------

/** INC/DEC E (FE FF /0 /1, 40-4F). i.op: 0 inc, 1 dec. */
export function opIncDec(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sz = s >> 1;
  const a = i.mem ? ea(c, i) : 0;
  const v = i.mem ? readForWrite(c, s, a) : getReg(c, s, i.rm);
  const r = sx(sz, i.op === 0 ? v + 1 : v - 1);
  if (i.mem) c.wr(s, a, r);
  else setReg(c, s, i.rm, r);
  c.fcf = getCF(c);
  c.fop = i.op === 0 ? F_INC : F_DEC;
  c.fa = v;
  c.fb = 1;
  c.fres = r;
  c.fsz = sz;
}

/** INC/DEC m32 (FF /0 /1 mod != 3): opIncDec at 32 bits, the same two accesses. */
export function opIncDec32M(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  const v = readForWrite(c, 4, a);
  const r = i.op === 0 ? (v + 1) | 0 : (v - 1) | 0;
  c.wr32(a, r);
  c.fcf = getCF(c);
  c.fop = i.op === 0 ? F_INC : F_DEC;
  c.fa = v;
  c.fb = 1;
  c.fres = r;
  c.fsz = 2;
}

export function opInc32R(c: Cpu, i: Insn): void {
  const v = c.r[i.rm];
  const r = (v + 1) | 0;
  c.fcf = getCF(c);
  c.fop = F_INC;
  c.fa = v;
  c.fb = 1;
  c.fres = r;
  c.fsz = 2;
  c.r[i.rm] = r;
}

export function opDec32R(c: Cpu, i: Insn): void {
  const v = c.r[i.rm];
  const r = (v - 1) | 0;
  c.fcf = getCF(c);
  c.fop = F_DEC;
  c.fa = v;
  c.fb = 1;
  c.fres = r;
  c.fsz = 2;
  c.r[i.rm] = r;
}

/** NOT E (F6 F7 /2). */
export function opNot(c: Cpu, i: Insn): void {
  const s = i.osz;
  if (i.mem) {
    const a = ea(c, i);
    c.wr(s, a, ~readForWrite(c, s, a));
  } else setReg(c, s, i.rm, ~getReg(c, s, i.rm));
}

/** NEG E (F6 F7 /3). */
export function opNeg(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sz = s >> 1;
  const a = i.mem ? ea(c, i) : 0;
  const v = i.mem ? readForWrite(c, s, a) : getReg(c, s, i.rm);
  const r = sx(sz, -v);
  if (i.mem) c.wr(s, a, r);
  else setReg(c, s, i.rm, r);
  c.fop = F_SUB;
  c.fa = 0;
  c.fb = v;
  c.fres = r;
  c.fsz = sz;
}

// ---- multiply and divide -----------------------------------------------------------------

/** Unsigned 32x32 -> 64 multiply: returns the low half, leaves the high half in c.mulHi. */
export function mulU32(c: Cpu, a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  c.mulHi = (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return Math.imul(a, b);
}

/** Signed 32x32 -> 64 multiply (high half in c.mulHi). */
export function mulS32(c: Cpu, a: number, b: number): number {
  const lo = mulU32(c, a, b);
  let hi = c.mulHi;
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  c.mulHi = hi;
  return lo;
}

/** MUL E (F6 F7 /4). */
export function opMul(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  const r = c.r;
  if (i.osz === 1) {
    const p = (r[0] & 0xff) * v;
    r[0] = (r[0] & ~0xffff) | p;
    const f = p > 0xff ? 1 : 0;
    setRes(c, 0, sx(0, p), f, f, 0);
  } else if (i.osz === 2) {
    const p = (r[0] & 0xffff) * v;
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    r[2] = (r[2] & ~0xffff) | (p >>> 16);
    const f = p > 0xffff ? 1 : 0;
    setRes(c, 1, sx(1, p), f, f, 0);
  } else {
    const lo = mulU32(c, r[0], v);
    r[0] = lo;
    r[2] = c.mulHi;
    const f = c.mulHi !== 0 ? 1 : 0;
    setRes(c, 2, lo, f, f, 0);
  }
}

/** IMUL E, one operand (F6 F7 /5). */
export function opImul1(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  const r = c.r;
  if (i.osz === 1) {
    const p = sx(0, r[0]) * sx(0, v);
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    const f = p !== sx(0, p) ? 1 : 0;
    setRes(c, 0, sx(0, p), f, f, 0);
  } else if (i.osz === 2) {
    const p = sx(1, r[0]) * sx(1, v);
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    r[2] = (r[2] & ~0xffff) | ((p >> 16) & 0xffff);
    const f = p !== sx(1, p) ? 1 : 0;
    setRes(c, 1, sx(1, p), f, f, 0);
  } else {
    const lo = mulS32(c, r[0], v);
    r[0] = lo;
    r[2] = c.mulHi;
    const f = c.mulHi !== lo >> 31 ? 1 : 0;
    setRes(c, 2, lo, f, f, 0);
  }
}

function imulTrunc(c: Cpu, s: number, a: number, b: number): number {
  if (s === 4) {
    const lo = mulS32(c, a, b);
    const f = c.mulHi !== lo >> 31 ? 1 : 0;
    setRes(c, 2, lo, f, f, 0);
    return lo;
  }
  const p = sx(1, a) * sx(1, b);
  const r = sx(1, p);
  const f = p !== r ? 1 : 0;
  setRes(c, 1, r, f, f, 0);
  return r;
}

/** IMUL r32, r/m32 (0F AF): the double product is exact up to 2^53 and any product outside
 *  int32 differs from the wrapped one, so it alone decides CF=OF. */
export function opImul32GE(c: Cpu, i: Insn): void {
  const a = c.r[i.reg];
  const b = i.mem ? c.rd32(ea(c, i)) : c.r[i.rm];
  const lo = Math.imul(a, b);
  const f = a * b !== lo ? 1 : 0;
  c.fop = F_RES;
  c.fres = lo;
  c.fsz = 2;
  c.fcf = f;
  c.fof = f;
  c.faf = 0;
  c.r[i.reg] = lo;
}

/** SHL/SHR/SAR r32, imm8 (C1 /4 /5 /7, count 1..31). */
export function opShl32RI(c: Cpu, i: Insn): void {
  const v = c.r[i.rm];
  const t = v << (i.imm - 1);
  const r = t << 1;
  setRes(c, 2, r, t >>> 31, (t ^ r) >>> 31, 0);
  c.r[i.rm] = r;
}
export function opShr32RI(c: Cpu, i: Insn): void {
  const t = c.r[i.rm] >>> (i.imm - 1);
  const r = t >>> 1;
  setRes(c, 2, r | 0, t & 1, (t ^ r) >>> 31, 0);
  c.r[i.rm] = r;
}
export function opSar32RI(c: Cpu, i: Insn): void {
  const t = c.r[i.rm] >> (i.imm - 1);
  const r = t >> 1;
  setRes(c, 2, r, t & 1, 0, 0);
  c.r[i.rm] = r;
}

/** IMUL G, E (0F AF). */
export function opImulGE(c: Cpu, i: Insn): void {
  setReg(c, i.osz, i.reg, imulTrunc(c, i.osz, getReg(c, i.osz, i.reg), readE(c, i)));
}

/** IMUL G, E, imm (69 6B). */
export function opImulGEI(c: Cpu, i: Insn): void {
  setReg(c, i.osz, i.reg, imulTrunc(c, i.osz, readE(c, i), i.imm));
}

/** Unsigned (hi:lo) / d with hi < d; quotient returned, remainder in c.mulHi. */
function divU64(c: Cpu, hi: number, lo: number, d: number): number {
  if (hi === 0) {
    const q = Math.floor(lo / d);
    c.mulHi = lo - q * d;
    return q;
  }
  let rem = hi;
  let q = 0;
  for (let k = 31; k >= 0; k--) {
    rem = rem * 2 + ((lo >>> k) & 1);
    q *= 2;
    if (rem >= d) {
      rem -= d;
      q += 1;
    }
  }
  c.mulHi = rem;
  return q;
}

/** DIV E (F6 F7 /6). */
export function opDiv(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  const r = c.r;
  if (i.osz === 1) {
    if (v === 0) c.raise(0, -1);
    const n = r[0] & 0xffff;
    const q = Math.floor(n / v);
    if (q > 0xff) c.raise(0, -1);
    r[0] = (r[0] & ~0xffff) | ((n - q * v) << 8) | q;
  } else if (i.osz === 2) {
    if (v === 0) c.raise(0, -1);
    const n = (((r[2] & 0xffff) << 16) | (r[0] & 0xffff)) >>> 0;
    const q = Math.floor(n / v);
    if (q > 0xffff) c.raise(0, -1);
    r[0] = (r[0] & ~0xffff) | q;
    r[2] = (r[2] & ~0xffff) | (n - q * v);
  } else {
    const d = v >>> 0;
    const hi = r[2] >>> 0;
    if (d === 0 || hi >= d) c.raise(0, -1);
    const q = divU64(c, hi, r[0] >>> 0, d);
    r[0] = q | 0;
    r[2] = c.mulHi | 0;
  }
}

/** IDIV E (F6 F7 /7). */
export function opIdiv(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  const r = c.r;
  if (i.osz === 1) {
    const d = sx(0, v);
    if (d === 0) c.raise(0, -1);
    const n = sx(1, r[0]);
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) c.raise(0, -1);
    r[0] = (r[0] & ~0xffff) | (((n - q * d) & 0xff) << 8) | (q & 0xff);
  } else if (i.osz === 2) {
    const d = sx(1, v);
    if (d === 0) c.raise(0, -1);
    const n = ((r[2] & 0xffff) << 16) | (r[0] & 0xffff);
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) c.raise(0, -1);
    r[0] = (r[0] & ~0xffff) | (q & 0xffff);
    r[2] = (r[2] & ~0xffff) | ((n - q * d) & 0xffff);
  } else {
    const d = v | 0;
    if (d === 0) c.raise(0, -1);
    let hi = r[2];
    let lo = r[0];
    const neg = hi < 0;
    if (neg) {
      lo = (~lo + 1) | 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
    }
    const dm = d < 0 ? -d : d; // 2^31 for -2^31: fine as a double
    if (hi >>> 0 >= dm) c.raise(0, -1);
    const q = divU64(c, hi >>> 0, lo >>> 0, dm);
    const qneg = neg !== d < 0;
    if (qneg ? q > 0x80000000 : q > 0x7fffffff) c.raise(0, -1);
    const rem = c.mulHi;
    r[0] = (qneg ? -q : q) | 0;
    r[2] = (neg ? -rem : rem) | 0;
  }
}

// ---- shifts and rotates --------------------------------------------------------------------

function setCfOf(c: Cpu, cf: number, of: number): void {
  setArith(c, (arithFlags(c) & ~(FL_CF | FL_OF)) | cf | (of << 11));
}

/** Shift/rotate v (unsigned at size s bytes) by cnt (1..31): returns the result, sets flags. */
export function shiftCalc(c: Cpu, op: number, s: number, v: number, cnt: number): number {
  const bits = s * 8;
  const sz = s >> 1;
  const mask = s === 4 ? -1 : (1 << bits) - 1;
  const top = bits - 1;
  switch (op) {
    case 0: {
      const n = cnt & top;
      const r = n === 0 ? v : ((v << n) | ((v & mask) >>> (bits - n))) & mask;
      const cf = r & 1;
      setCfOf(c, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case 1: {
      const n = cnt & top;
      const r = n === 0 ? v : (((v & mask) >>> n) | (v << (bits - n))) & mask;
      const cf = (r >>> top) & 1;
      setCfOf(c, cf, cf ^ ((r >>> (top - 1)) & 1));
      return r;
    }
    case 2: {
      const n = s === 4 ? cnt : cnt % (bits + 1);
      if (n === 0) return v;
      let u = v;
      let cf = getCF(c);
      for (let k = 0; k < n; k++) {
        const out = (u >>> top) & 1;
        u = ((u << 1) | cf) & mask;
        cf = out;
      }
      setCfOf(c, cf, ((u ^ v) >>> top) & 1);
      return u;
    }
    case 3: {
      const n = s === 4 ? cnt : cnt % (bits + 1);
      if (n === 0) return v;
      let u = v;
      let cf = getCF(c);
      for (let k = 0; k < n; k++) {
        const out = u & 1;
        u = (((u & mask) >>> 1) | (cf << top)) & mask;
        cf = out;
      }
      setCfOf(c, cf, ((u ^ v) >>> top) & 1);
      return u;
    }
    case 4:
    case 6: {
      const t = v << (cnt - 1);
      const r = (t << 1) & mask;
      const cf = (t >>> top) & 1;
      setRes(c, sz, sx(sz, r), cf, ((t ^ r) >>> top) & 1, 0);
      return r;
    }
    case 5: {
      const t = (v & mask) >>> (cnt - 1);
      const r = t >>> 1;
      setRes(c, sz, sx(sz, r), t & 1, ((t ^ r) >>> top) & 1, 0);
      return r;
    }
    default: {
      const t = sx(sz, v) >> (cnt - 1);
      const r = (t >> 1) & mask;
      setRes(c, sz, sx(sz, r), t & 1, 0, 0);
      return r;
    }
  }
}

/** Group 2 (C0 C1 D0-D3): i.op = /r, count = i.imm, or CL when i.imm2 = 1. */
export function opShift(c: Cpu, i: Insn): void {
  const s = i.osz;
  const cnt = (i.imm2 !== 0 ? c.r[1] : i.imm) & 0x1f;
  if (i.mem) {
    const a = ea(c, i);
    if (cnt === 0) {
      c.rd(s, a);
      return;
    }
    const v = readForWrite(c, s, a);
    c.wr(s, a, shiftCalc(c, i.op, s, v, cnt));
  } else if (cnt !== 0) {
    setReg(c, s, i.rm, shiftCalc(c, i.op, s, getReg(c, s, i.rm), cnt));
  }
}

/** SHLD/SHRD E, G, imm/CL (0F A4 A5 AC AD): i.op 0 = left, 1 = right. */
export function opShiftD(c: Cpu, i: Insn): void {
  const s = i.osz;
  const cnt = (i.imm2 !== 0 ? c.r[1] : i.imm) & 0x1f;
  const addr = i.mem ? ea(c, i) : 0;
  if (cnt === 0) {
    if (i.mem) c.rd(s, addr);
    return;
  }
  const a = i.mem ? readForWrite(c, s, addr) : getReg(c, s, i.rm);
  const b = getReg(c, s, i.reg);
  let r: number;
  if (s === 4) {
    if (i.op === 0) {
      const t = cnt === 1 ? a : (a << (cnt - 1)) | (b >>> (33 - cnt));
      r = (a << cnt) | (b >>> (32 - cnt));
      setRes(c, 2, r, t >>> 31, (t ^ r) >>> 31, 0);
    } else {
      const t = cnt === 1 ? a : (a >>> (cnt - 1)) | (b << (33 - cnt));
      r = (a >>> cnt) | (b << (32 - cnt));
      setRes(c, 2, r, t & 1, (t ^ r) >>> 31, 0);
    }
  } else if (i.op === 0) {
    const x = (a << 16) | b;
    const t = x << (cnt - 1);
    const r32 = t << 1;
    r = r32 >>> 16;
    setRes(c, 1, sx(1, r), t >>> 31, (t ^ r32) >>> 31, 0);
  } else {
    const x = (b << 16) | a;
    const t = x >>> (cnt - 1);
    r = (t >>> 1) & 0xffff;
    setRes(c, 1, sx(1, r), t & 1, ((t ^ r) >> 15) & 1, 0);
  }
  if (i.mem) c.wr(s, addr, r);
  else setReg(c, s, i.rm, r);
}

// ---- bit operations ------------------------------------------------------------------------

/** BT/BTS/BTR/BTC (i.op 0..3); offset from G (i.imm2 = 0) or from imm (i.imm2 = 1). */
export function opBt(c: Cpu, i: Insn): void {
  const s = i.osz;
  const bits = s * 8;
  let off: number;
  let addr = 0;
  if (i.imm2 !== 0) {
    off = i.imm & (bits - 1);
    if (i.mem) addr = ea(c, i);
  } else {
    const g = getReg(c, s, i.reg);
    off = g & (bits - 1);
    if (i.mem) addr = (ea(c, i) + (s === 4 ? (g >> 5) * 4 : (sx(1, g) >> 4) * 2)) | 0;
  }
  let v: number;
  if (i.mem) v = i.op === 0 ? c.rd(s, addr) : readForWrite(c, s, addr);
  else v = getReg(c, s, i.rm);
  const cf = (v >>> off) & 1;
  if (i.op !== 0) {
    const m = 1 << off;
    const nv = i.op === 1 ? v | m : i.op === 2 ? v & ~m : v ^ m;
    if (i.mem) c.wr(s, addr, nv);
    else setReg(c, s, i.rm, nv);
  }
  setArith(c, (arithFlags(c) & ~FL_CF) | cf);
}

/** BSF/BSR (0F BC BD): i.op 0 = forward, 1 = reverse. Source zero: ZF=1, destination kept. */
export function opBsf(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  if (v === 0) {
    setZF(c, true);
    return;
  }
  const n = i.op === 0 ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
  setReg(c, i.osz, i.reg, n);
  setZF(c, false);
}

export function opSetcc(c: Cpu, i: Insn): void {
  const v = cond(c, i.op) ? 1 : 0;
  if (i.mem) c.wr8(ea(c, i), v);
  else setReg(c, 1, i.rm, v);
}

export function opCmov(c: Cpu, i: Insn): void {
  const v = readE(c, i);
  if (cond(c, i.op)) setReg(c, i.osz, i.reg, v);
}

/** MOVZX/MOVSX (0F B6 B7 BE BF): source size i.imm2 bytes, i.op 1 = sign-extend. */
export function opMovx(c: Cpu, i: Insn): void {
  const ss = i.imm2;
  let v = i.mem ? c.rd(ss, ea(c, i)) : getReg(c, ss, i.rm);
  if (i.op === 1) v = sx(ss >> 1, v);
  setReg(c, i.osz, i.reg, v);
}

// The common 32-bit forms of opMovx from memory, without its size and sign dispatch.
export function opMovzx16M32(c: Cpu, i: Insn): void {
  c.r[i.reg] = c.rd16(ea(c, i));
}
export function opMovsx16M32(c: Cpu, i: Insn): void {
  c.r[i.reg] = (c.rd16(ea(c, i)) << 16) >> 16;
}
export function opMovsx8M32(c: Cpu, i: Insn): void {
  c.r[i.reg] = (c.rd8(ea(c, i)) << 24) >> 24;
}

// The 8-bit forms of opAluEG/opAluGE/opAluEI/opTestEG with their operand size and register-or-
// memory choice made by the decoder (gcc's byte code: flag bytes, string scanners, state machines).

/** op r8, r8 (00 08 ... 38 mod = 3; 02 0A ... 3A with reg and rm swapped): opAluEG at 8 bits. */
export function opAlu8RR(c: Cpu, i: Insn): void {
  const r = alu(c, i.op, 0, getReg8(c, i.rm), getReg8(c, i.reg));
  if (i.op !== 7) setReg8(c, i.rm, r);
}

/** CMP m8, r8 (38 mod != 3): opAluEG's compare at 8 bits (a read, no write check). */
export function opCmp8MG(c: Cpu, i: Insn): void {
  alu(c, 7, 0, c.rd8(ea(c, i)), getReg8(c, i.reg));
}

/** CMP m8, imm8 (80 /7 mod != 3): opAluEI's compare at 8 bits. */
export function opCmp8MI(c: Cpu, i: Insn): void {
  alu(c, 7, 0, c.rd8(ea(c, i)), i.imm);
}

/** TEST r8, r8 (84 mod = 3): opTestEG at 8 bits. */
export function opTest8RR(c: Cpu, i: Insn): void {
  setRes(c, 0, sx(0, getReg8(c, i.rm) & getReg8(c, i.reg)), 0, 0, 0);
}

/** SETcc r8 (0F 90-9F mod = 3): opSetcc's register form. */
export function opSetccR(c: Cpu, i: Insn): void {
  setReg8(c, i.rm, cond(c, i.op) ? 1 : 0);
}

/** MOVZX/MOVSX r32, r8/r16 (0F B7 BE BF mod = 3): opMovx's register forms at 32 bits. */
export function opMovzx16R32(c: Cpu, i: Insn): void {
  c.r[i.reg] = c.r[i.rm] & 0xffff;
}
export function opMovsx16R32(c: Cpu, i: Insn): void {
  c.r[i.reg] = (c.r[i.rm] << 16) >> 16;
}
export function opMovsx8R32(c: Cpu, i: Insn): void {
  c.r[i.reg] = (getReg8(c, i.rm) << 24) >> 24;
}

/** op r8, imm8 (80 /op and 04 0C ... 3C with rm = AL): opAluEI's 8-bit register form. */
export function opAlu8RI(c: Cpu, i: Insn): void {
  const r = alu(c, i.op, 0, getReg8(c, i.rm), i.imm);
  if (i.op !== 7) setReg8(c, i.rm, r);
}

export function opMovzx8R32(c: Cpu, i: Insn): void {
  c.r[i.reg] = getReg8(c, i.rm);
}

export function opMovzx8M32(c: Cpu, i: Insn): void {
  c.r[i.reg] = c.rd8(ea(c, i));
}

export function opBswap(c: Cpu, i: Insn): void {
  const v = c.r[i.rm];
  c.r[i.rm] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** XADD E, G (0F C0 C1). */
export function opXadd(c: Cpu, i: Insn): void {
  const s = i.osz;
  const g = getReg(c, s, i.reg);
  if (i.mem) {
    const a = ea(c, i);
    const d = readForWrite(c, s, a);
    const r = alu(c, 0, s >> 1, d, g);
    c.wr(s, a, r);
    setReg(c, s, i.reg, d);
  } else {
    const d = getReg(c, s, i.rm);
    const r = alu(c, 0, s >> 1, d, g);
    setReg(c, s, i.reg, d);
    setReg(c, s, i.rm, r);
  }
}

/** CMPXCHG E, G (0F B0 B1). */
export function opCmpxchg(c: Cpu, i: Insn): void {
  const s = i.osz;
  const acc = getReg(c, s, 0);
  const src = getReg(c, s, i.reg);
  if (i.mem) {
    const a = ea(c, i);
    const d = readForWrite(c, s, a);
    alu(c, 7, s >> 1, acc, d);
    if (c.fres === 0) c.wr(s, a, src);
    else {
      c.wr(s, a, d);
      setReg(c, s, 0, d);
    }
  } else {
    const d = getReg(c, s, i.rm);
    alu(c, 7, s >> 1, acc, d);
    if (c.fres === 0) setReg(c, s, i.rm, src);
    else setReg(c, s, 0, d);
  }
}

/** CMPXCHG8B m64 (0F C7 /1). */
export function opCmpxchg8b(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  const lo = readForWrite(c, 4, a);
  const hi = readForWrite(c, 4, (a + 4) | 0);
  const r = c.r;
  if (lo === r[0] && hi === r[2]) {
    c.wr32(a, r[3]);
    c.wr32((a + 4) | 0, r[1]);
    setZF(c, true);
  } else {
    c.wr32(a, lo);
    c.wr32((a + 4) | 0, hi);
    r[0] = lo;
    r[2] = hi;
    setZF(c, false);
  }
}

// ---- accumulator and flag instructions ----------------------------------------------------

/** CBW/CWDE (98). */
export function opCbw(c: Cpu, i: Insn): void {
  if (i.osz === 2) setReg(c, 2, 0, sx(0, c.r[0]));
  else c.r[0] = sx(1, c.r[0]);
}

/** CWD/CDQ (99). */
export function opCwd(c: Cpu, i: Insn): void {
  if (i.osz === 2) setReg(c, 2, 2, sx(1, c.r[0]) >> 16);
  else c.r[2] = c.r[0] >> 31;
}

export function opLahf(c: Cpu, _i: Insn): void {
  setReg(c, 1, 4, (arithFlags(c) & (FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF)) | 2);
}

export function opSahf(c: Cpu, _i: Insn): void {
  const ah = (c.r[0] >> 8) & 0xff;
  setArith(c, (arithFlags(c) & FL_OF) | (ah & (FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF)));
}

/*
 * Decimal adjusts (27 2F 37 3F D4 D5). gcc never emits them, but QEMU, the oracle for guests,
 * runs them, so a guest's hand-written BCD code must give QEMU's results here too, including the
 * flags the SDM leaves undefined: DAA/DAS clear OF; AAA/AAS keep OF, SF, ZF and PF as they were;
 * AAM/AAD set flags as a logic op on the new AL (CF, OF, AF clear). AAM with a zero base is #DE.
 */

/** The six arithmetic flags of a DAA/DAS result byte al, with CF and AF given and OF clear. */
function decimalFlags(al: number, cf: number, af: number): number {
  return cf | (PARITY[al] << 2) | (af << 4) | (al === 0 ? FL_ZF : 0) | (al & FL_SF);
}

/** DAA (27, i.op 0) and DAS (2F, i.op 1): AL back to two packed BCD digits after an add/sub. */
export function opDaa(c: Cpu, i: Insn): void {
  const f = arithFlags(c);
  const cfIn = f & FL_CF;
  const old = c.r[0] & 0xff;
  let al = old;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || (f & FL_AF) !== 0) {
    af = 1;
    if (i.op === 0) al = (al + 6) & 0xff;
    else {
      if (al < 6 || cfIn !== 0) cf = 1;
      al = (al - 6) & 0xff;
    }
  }
  if (old > 0x99 || cfIn !== 0) {
    al = (al + (i.op === 0 ? 0x60 : -0x60)) & 0xff;
    cf = 1;
  }
  setReg8(c, 0, al);
  setArith(c, decimalFlags(al, cf, af));
}

/** AAA (37, i.op 0) and AAS (3F, i.op 1): AL to one unpacked BCD digit, the carry into AH. */
export function opAaa(c: Cpu, i: Insn): void {
  const f = arithFlags(c);
  const r = c.r;
  let al = r[0] & 0xff;
  let ah = (r[0] >> 8) & 0xff;
  let out = f & ~(FL_CF | FL_AF);
  if ((al & 0xf) > 9 || (f & FL_AF) !== 0) {
    // AH also takes the carry (borrow) out of AL's own +6 (-6), as QEMU does.
    if (i.op === 0) {
      ah = (ah + 1 + (al > 0xf9 ? 1 : 0)) & 0xff;
      al = (al + 6) & 0xf;
    } else {
      ah = (ah - 1 - (al < 6 ? 1 : 0)) & 0xff;
      al = (al - 6) & 0xf;
    }
    out |= FL_CF | FL_AF;
  } else al &= 0xf;
  r[0] = (r[0] & ~0xffff) | (ah << 8) | al;
  setArith(c, out);
}

/** AAM ib (D4, i.op 0): AH, AL = AL / ib, AL % ib. AAD ib (D5, i.op 1): AL = AH * ib + AL, AH = 0. */
export function opAam(c: Cpu, i: Insn): void {
  const r = c.r;
  const base = i.imm;
  const v = r[0] & 0xff;
  let al: number;
  if (i.op === 0) {
    if (base === 0) c.raise(0, -1);
    al = v % base;
    r[0] = (r[0] & ~0xffff) | (((v - al) / base) << 8) | al;
  } else {
    al = (((r[0] >> 8) & 0xff) * base + v) & 0xff;
    r[0] = (r[0] & ~0xffff) | al;
  }
  setRes(c, 0, sx(0, al), 0, 0, 0);
}

/** CMC CLC STC (i.op 0 1 2), CLD STD (3 4). */
export function opFlagOp(c: Cpu, i: Insn): void {
  switch (i.op) {
    case 0:
      setArith(c, arithFlags(c) ^ FL_CF);
      break;
    case 1:
      setArith(c, arithFlags(c) & ~FL_CF);
      break;
    case 2:
      setArith(c, arithFlags(c) | FL_CF);
      break;
    case 3:
      c.eflRest &= ~FL_DF;
      break;
    default:
      c.eflRest |= FL_DF;
  }
}

export function opXlat(c: Cpu, _i: Insn): void {
  setReg(c, 1, 0, c.rd8((c.r[3] + (c.r[0] & 0xff)) | 0));
}
