// Lazy arithmetic flags: the last flag-setting operation is recorded (kind, size, operands,
// result) and CF/PF/AF/ZF/SF/OF are computed only when read. Mirrors QEMU's CC_OP scheme
// (cc_op, cc_src, cc_dst); Linux/KVM have no counterpart (hardware computes flags eagerly).

import type { Cpu } from './cpu.js';

/** Flag-producing operation kinds (cpu.fop). */
export const F_ADD = 0;
export const F_ADC = 1; // fcf = carry in
export const F_SUB = 2;
export const F_SBB = 3; // fcf = borrow in
export const F_INC = 4; // fb = 1, fcf = preserved CF
export const F_DEC = 5; // fb = 1, fcf = preserved CF
export const F_RES = 6; // CF = fcf, OF = fof, AF = faf; ZF/SF/PF from fres
export const F_EXPL = 7; // all six flags in fexp (EFLAGS bit positions)

export const FL_CF = 1;
export const FL_PF = 4;
export const FL_AF = 0x10;
export const FL_ZF = 0x40;
export const FL_SF = 0x80;
export const FL_TF = 0x100;
export const FL_IF = 0x200;
export const FL_DF = 0x400;
export const FL_OF = 0x800;
export const FL_IOPL = 0x3000;
export const FL_NT = 0x4000;
export const FL_RF = 0x10000;
export const FL_VM = 0x20000;
export const FL_AC = 0x40000;
export const FL_ID = 0x200000;
export const FL_ARITH = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF;

/** PARITY[b] = 1 when byte b has an even number of set bits (x86 PF). */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let b = i;
    let n = 0;
    while (b) {
      n += b & 1;
      b >>= 1;
    }
    t[i] = (n & 1) === 0 ? 1 : 0;
  }
  return t;
})();

/** Size index (0: 8-bit, 1: 16-bit, 2: 32-bit) -> sign bit. */
export const SIGN_BIT = [0x80, 0x8000, 0x80000000 | 0] as const;
export const SIZE_MASK = [0xff, 0xffff, -1] as const;

/** Sign-extend the low 8/16/32 bits of v for size index sz. */
export function sx(sz: number, v: number): number {
  return sz === 2 ? v | 0 : sz === 1 ? (v << 16) >> 16 : (v << 24) >> 24;
}

export function getCF(c: Cpu): number {
  const a = c.fa;
  const b = c.fb;
  switch (c.fop) {
    case F_ADD:
      if (c.fsz === 2) return c.fres >>> 0 < a >>> 0 ? 1 : 0;
      return (a & SIZE_MASK[c.fsz]) + (b & SIZE_MASK[c.fsz]) > SIZE_MASK[c.fsz] ? 1 : 0;
    case F_ADC:
      if (c.fsz === 2) return (c.fcf ? c.fres >>> 0 <= a >>> 0 : c.fres >>> 0 < a >>> 0) ? 1 : 0;
      return (a & SIZE_MASK[c.fsz]) + (b & SIZE_MASK[c.fsz]) + c.fcf > SIZE_MASK[c.fsz] ? 1 : 0;
    case F_SUB:
      if (c.fsz === 2) return a >>> 0 < b >>> 0 ? 1 : 0;
      return (a & SIZE_MASK[c.fsz]) < (b & SIZE_MASK[c.fsz]) ? 1 : 0;
    case F_SBB:
      if (c.fsz === 2) return (c.fcf ? a >>> 0 <= b >>> 0 : a >>> 0 < b >>> 0) ? 1 : 0;
      return (a & SIZE_MASK[c.fsz]) < (b & SIZE_MASK[c.fsz]) + c.fcf ? 1 : 0;
    case F_EXPL:
      return c.fexp & 1;
    default:
      return c.fcf;
  }
}

export function getOF(c: Cpu): number {
  const r = c.fres;
  switch (c.fop) {
    case F_ADD:
    case F_ADC:
    case F_INC:
      return ((c.fa ^ r) & (c.fb ^ r) & SIGN_BIT[c.fsz]) !== 0 ? 1 : 0;
    case F_SUB:
    case F_SBB:
    case F_DEC:
      return ((c.fa ^ c.fb) & (c.fa ^ r) & SIGN_BIT[c.fsz]) !== 0 ? 1 : 0;
    case F_EXPL:
      return (c.fexp >> 11) & 1;
    default:
      return c.fof;
  }
}

export function getAF(c: Cpu): number {
  switch (c.fop) {
    case F_RES:
      return c.faf;
    case F_EXPL:
      return (c.fexp >> 4) & 1;
    default:
      return ((c.fa ^ c.fb ^ c.fres) >> 4) & 1;
  }
}

export function getZF(c: Cpu): number {
  return c.fop === F_EXPL ? (c.fexp >> 6) & 1 : c.fres === 0 ? 1 : 0;
}

export function getSF(c: Cpu): number {
  return c.fop === F_EXPL ? (c.fexp >> 7) & 1 : c.fres < 0 ? 1 : 0;
}

export function getPF(c: Cpu): number {
  return c.fop === F_EXPL ? (c.fexp >> 2) & 1 : PARITY[c.fres & 0xff];
}

/** The six arithmetic flags in their EFLAGS positions. */
export function arithFlags(c: Cpu): number {
  if (c.fop === F_EXPL) return c.fexp;
  return (
    getCF(c) | (getPF(c) << 2) | (getAF(c) << 4) | (getZF(c) << 6) | (getSF(c) << 7) | (getOF(c) << 11)
  );
}

/** Replace the arithmetic flags by explicit values. */
export function setArith(c: Cpu, f: number): void {
  c.fop = F_EXPL;
  c.fexp = f & FL_ARITH;
}

/** Set ZF alone (CMPXCHG8B, BSF/BSR, ARPL, LAR...): the other arithmetic flags keep their values. */
export function setZF(c: Cpu, z: boolean): void {
  const f = arithFlags(c);
  setArith(c, z ? f | FL_ZF : f & ~FL_ZF);
}

/** Record a result whose CF/OF/AF are known now (logic ops, shifts, multiplies). */
export function setRes(c: Cpu, sz: number, r: number, cf: number, of: number, af: number): void {
  c.fop = F_RES;
  c.fsz = sz;
  c.fres = r;
  c.fcf = cf;
  c.fof = of;
  c.faf = af;
}

/** x86 condition code cc (0..15, as in Jcc/SETcc/CMOVcc) on the current flags. Small enough
 *  for the engine to inline: a handler with a constant cc (opJl...) keeps only its relation. */
export function cond(c: Cpu, cc: number): boolean {
  let t: boolean;
  switch (cc >> 1) {
    case 1:
      t = below(c);
      break;
    case 2:
      t = c.fop !== F_EXPL ? c.fres === 0 : (c.fexp & FL_ZF) !== 0;
      break;
    case 3:
      t = belowOrEqual(c);
      break;
    case 4:
      t = c.fop !== F_EXPL ? c.fres < 0 : (c.fexp & FL_SF) !== 0;
      break;
    case 6:
      t = less(c);
      break;
    case 7:
      t = lessOrEqual(c);
      break;
    default:
      return condSlow(c, cc);
  }
  return (cc & 1) === 0 ? t : !t;
}

// The relations after CMP/SUB follow from the operands, after a logic op from the recorded
// result, without materialising CF or OF; any other producer takes the flags themselves.

/** CF (B, NAE). */
function below(c: Cpu): boolean {
  const fop = c.fop;
  if (fop === F_SUB) {
    const sz = c.fsz;
    return sz === 2 ? c.fa >>> 0 < c.fb >>> 0 : (c.fa & SIZE_MASK[sz]) < (c.fb & SIZE_MASK[sz]);
  }
  if (fop === F_RES) return c.fcf !== 0;
  return getCF(c) !== 0;
}

/** CF or ZF (BE, NA). */
function belowOrEqual(c: Cpu): boolean {
  const fop = c.fop;
  if (fop === F_SUB) {
    const sz = c.fsz;
    return sz === 2 ? c.fa >>> 0 <= c.fb >>> 0 : (c.fa & SIZE_MASK[sz]) <= (c.fb & SIZE_MASK[sz]);
  }
  if (fop === F_RES) return c.fcf !== 0 || c.fres === 0;
  return (getCF(c) | getZF(c)) !== 0;
}

/** SF != OF (L, NGE). */
function less(c: Cpu): boolean {
  const fop = c.fop;
  if (fop === F_SUB) return c.fsz === 2 ? (c.fa | 0) < (c.fb | 0) : sx(c.fsz, c.fa) < sx(c.fsz, c.fb);
  if (fop === F_RES) return (c.fres < 0) !== (c.fof !== 0);
  return (getSF(c) ^ getOF(c)) !== 0;
}

/** ZF, or SF != OF (LE, NG). */
function lessOrEqual(c: Cpu): boolean {
  const fop = c.fop;
  if (fop === F_SUB) return c.fsz === 2 ? (c.fa | 0) <= (c.fb | 0) : sx(c.fsz, c.fa) <= sx(c.fsz, c.fb);
  if (fop === F_RES) return c.fres === 0 || (c.fres < 0) !== (c.fof !== 0);
  return (getZF(c) | (getSF(c) ^ getOF(c))) !== 0;
}

/** OF (O, NO) and PF (P, NP). */
function condSlow(c: Cpu, cc: number): boolean {
  const t = cc >> 1 === 0 ? getOF(c) : getPF(c);
  return (cc & 1) === 0 ? t !== 0 : t === 0;
}
