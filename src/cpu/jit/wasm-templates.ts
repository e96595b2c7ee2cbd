// The templates of WebAssembly regions: for each interpreter handler listed here, the code that
// states the handler's effect for one instruction's fixed operands (the same statements as the
// JavaScript tier's templates.ts, in WebAssembly). A template returns false, before emitting
// anything, for an operand form it does not cover; the block is then left to the JavaScript tier.
// Checked against the handlers by the differential tests (test/cpu/jit*.test.ts with the
// WebAssembly tier on).

import * as A from '../exec-alu.js';
import * as B from '../exec-branch.js';
import * as D from '../exec-data.js';
import { F_ADC, F_ADD, F_DEC, F_INC, F_RES, F_SBB, F_SUB } from '../flags.js';
import type { Handler, Insn } from '../insn.js';
import { OP } from './wasm-encode.js';
import { A as AD, A2, BEIP, FCF, L, L2, NE, RD, WR, R0, T, T2, V, type WasmEmitter, type WasmTemplate, X, Y, Z } from './wasm-emit.js';

export const wasmTemplates = new Map<Handler, WasmTemplate>();
const set = (h: Handler, t: WasmTemplate): void => {
  wasmTemplates.set(h, t);
};

/** 32-bit ALU op (0 ADD, 1 OR, 4 AND, 5 SUB, 6 XOR, 7 CMP) of the values `a` and `b` push;
 *  the result to GPR `dst` (-1: none). ADC/SBB (2, 3): false. */
function arith32(e: WasmEmitter, op: number, dst: number, a: () => void, b: () => void): void {
  const c = e.c;
  a();
  c.set(X);
  b();
  c.set(Y);
  if (op === 0 || op === 5 || op === 7) {
    c.get(X).get(Y).op(op === 0 ? OP.add : OP.sub).set(Z);
    e.flags(op === 0 ? F_ADD : F_SUB, 2, X, Y, Z);
    e.produce(op === 0 ? F_ADD : F_SUB, 2);
  } else {
    c.get(X).get(Y).op(op === 1 ? OP.or : op === 4 ? OP.and : OP.xor).set(Z);
    e.resFlags(2, Z, -1, -1);
    e.produce(F_RES, 2);
  }
  if (dst >= 0 && op !== 7) c.get(Z).set(R0 + dst);
}
/** 8-bit ALU op (16-bit: sz 1); the result (sign-extended, as fres) in Z; ADC/SBB not covered. */
function arith8(e: WasmEmitter, op: number, a: () => void, b: () => void, sz: 0 | 1 = 0): void {
  const c = e.c;
  const ext = sz === 0 ? OP.ext8 : OP.ext16;
  a();
  c.set(X);
  b();
  c.set(Y);
  if (op === 0 || op === 5 || op === 7) {
    c.get(X).get(Y).op(op === 0 ? OP.add : OP.sub).op(ext).set(Z);
    e.flags(op === 0 ? F_ADD : F_SUB, sz, X, Y, Z);
    e.produce(op === 0 ? F_ADD : F_SUB, sz);
  } else {
    c.get(X).get(Y).op(op === 1 ? OP.or : op === 4 ? OP.and : OP.xor).op(ext).set(Z);
    e.resFlags(sz, Z, -1, -1);
    e.produce(F_RES, sz);
  }
}
const ok32 = (op: number): boolean => op !== 2 && op !== 3;
const imm = (e: WasmEmitter, i: Insn) => (): void => void e.c.i32(i.imm | 0);
const reg = (e: WasmEmitter, n: number) => (): void => void e.r(n);
const r8 = (e: WasmEmitter, n: number) => (): void => void e.get8(n);
const imm8 = (e: WasmEmitter, i: Insn) => (): void => void e.c.i32(i.imm & 255);
const loaded = (e: WasmEmitter) => (): void => void e.c.get(V);

// ---- exec-alu.ts: 32-bit register forms ---------------------------------------------------
for (const [h, op] of [[A.opAdd32RR, 0], [A.opOr32RR, 1], [A.opAnd32RR, 4], [A.opSub32RR, 5], [A.opXor32RR, 6], [A.opCmp32RR, 7]] as const) {
  set(h, (e, i) => (arith32(e, op, i.rm, reg(e, i.rm), reg(e, i.reg)), true));
}
for (const [h, op] of [[A.opAdd32RI, 0], [A.opOr32RI, 1], [A.opAnd32RI, 4], [A.opSub32RI, 5], [A.opXor32RI, 6], [A.opCmp32RI, 7]] as const) {
  set(h, (e, i) => (arith32(e, op, i.rm, reg(e, i.rm), imm(e, i)), true));
}
/** ADC/SBB r32, r32 / imm (opAlu32RR, opAlu32RI: the decoder's other ops have their own
 *  handlers): alu()'s ops 2 and 3, the carry in being CF before them (e.carry, which may exit,
 *  comes first); fcf = the carry in, AF left as it was. */
function adcSbb32(e: WasmEmitter, i: Insn, src: () => void): boolean {
  if (i.op !== 2 && i.op !== 3) return false;
  const c = e.c;
  const adc = i.op === 2;
  e.carry();
  c.set(FCF);
  c.get(R0 + i.rm).set(X);
  src();
  c.set(Y);
  c.get(X).get(Y).op(adc ? OP.add : OP.sub).get(FCF).op(adc ? OP.add : OP.sub).set(Z);
  e.flags(adc ? F_ADC : F_SBB, 2, X, Y, Z);
  c.get(Z).set(R0 + i.rm);
  e.produce(adc ? F_ADC : F_SBB, 2);
  return true;
}
set(A.opAlu32RR, (e, i) => adcSbb32(e, i, reg(e, i.reg)));
set(A.opAlu32RI, (e, i) => adcSbb32(e, i, imm(e, i)));
set(A.opTest32RR, (e, i) => (arith32(e, 4, -1, reg(e, i.rm), reg(e, i.reg)), true));
set(A.opTest32RI, (e, i) => (arith32(e, 4, -1, reg(e, i.rm), imm(e, i)), true));
/** G op= m32 (CMP: compare only). */
function gm32(e: WasmEmitter, i: Insn, op: number): boolean {
  if (!ok32(op)) return false;
  e.access(RD, () => e.ea(i), 4, () => {
    e.load(4);
    e.c.set(V);
    arith32(e, op, i.reg, reg(e, i.reg), loaded(e));
  });
  return true;
}
for (const [h, op] of [[A.opAdd32GM, 0], [A.opSub32GM, 5], [A.opCmp32GM, 7], [A.opOr32GM, 1], [A.opAnd32GM, 4], [A.opXor32GM, 6]] as const) {
  set(h, (e, i) => gm32(e, i, op));
}
set(A.opAlu32GM, (e, i) => gm32(e, i, i.op));
/** m32 op= G or imm (CMP reads only: rd32's one hit; the others rdW32's one write-tag hit). */
function rmw32(e: WasmEmitter, i: Insn, op: number, src: () => void): boolean {
  if (!ok32(op)) return false;
  if (op === 7) {
    e.access(RD, () => e.ea(i), 4, () => {
      e.load(4);
      e.c.set(V);
      arith32(e, 7, -1, loaded(e), src);
    });
    return true;
  }
  e.access(WR, () => e.ea(i), 4, () => {
    e.load(4);
    e.c.set(V);
    arith32(e, op, -1, loaded(e), src);
    e.store(4, () => void e.c.get(Z));
  });
  return true;
}
set(A.opAdd32MG, (e, i) => rmw32(e, i, 0, reg(e, i.reg)));
set(A.opAdd32MI, (e, i) => rmw32(e, i, 0, imm(e, i)));
set(A.opAlu32MG, (e, i) => rmw32(e, i, i.op, reg(e, i.reg)));
set(A.opAlu32MI, (e, i) => rmw32(e, i, i.op, imm(e, i)));
set(A.opCmp32MG, (e, i) => rmw32(e, i, 7, reg(e, i.reg)));
set(A.opCmp32MI, (e, i) => rmw32(e, i, 7, imm(e, i)));
set(A.opTestEI, (e, i) => {
  if (i.osz === 2) return false;
  const body = (v: () => void): void => {
    if (i.osz === 4) arith32(e, 4, -1, v, imm(e, i));
    else arith8(e, 4, v, imm8(e, i));
  };
  if (!i.mem) body(i.osz === 4 ? reg(e, i.rm) : r8(e, i.rm));
  else
    e.access(RD, () => e.ea(i), i.osz as 1 | 4, () => {
      e.load(i.osz as 1 | 4);
      e.c.set(V);
      body(loaded(e));
    });
  return true;
});

/** INC/DEC r32: CF kept from the producer before (e.carry). */
function incDec32(e: WasmEmitter, i: Insn, dec: boolean): boolean {
  const c = e.c;
  e.carry();
  c.set(FCF);
  c.get(R0 + i.rm).set(X).i32(1).set(Y);
  c.get(X).i32(1).op(dec ? OP.sub : OP.add).set(Z);
  e.flags(dec ? F_DEC : F_INC, 2, X, Y, Z);
  c.get(Z).set(R0 + i.rm);
  e.produce(dec ? F_DEC : F_INC, 2);
  return true;
}
set(A.opInc32R, (e, i) => incDec32(e, i, false));
set(A.opDec32R, (e, i) => incDec32(e, i, true));
/** INC/DEC m32 / m8 (opIncDec): readForWrite then write, two hits; CF kept. */
set(A.opIncDec, (e, i) => {
  if (!i.mem || (i.osz !== 4 && i.osz !== 1)) return false;
  const c = e.c;
  const sz = i.osz === 4 ? 2 : 0;
  const dec = i.op !== 0;
  // CF first (it may exit), then the access; nothing changes before both succeed
  e.carry();
  c.set(T2);
  e.access(WR, () => e.ea(i), i.osz as 1 | 4, () => {
    e.load(i.osz as 1 | 4);
    c.set(X);
    c.get(X).i32(1).op(dec ? OP.sub : OP.add);
    if (sz === 0) c.op(OP.ext8);
    c.set(Z);
    e.store(i.osz as 1 | 4, () => void c.get(Z));
    c.i32(1).set(Y);
    c.get(T2).set(FCF);
    e.flags(dec ? F_DEC : F_INC, sz, X, Y, Z);
  }, 2);
  e.produce(dec ? F_DEC : F_INC, sz);
  return true;
});
set(A.opIncDec32M, (e, i) => (wasmTemplates.get(A.opIncDec) as WasmTemplate)(e, i));

// shifts by a constant (count 1..31 in the decoder's RI forms)
set(A.opShl32RI, (e, i) => {
  const c = e.c;
  c.get(R0 + i.rm).i32(i.imm - 1).op(OP.shl).set(X); // t
  c.get(X).i32(1).op(OP.shl).set(Z);
  c.get(X).i32(31).op(OP.shr_u).set(Y); // cf
  c.get(X).get(Z).op(OP.xor).i32(31).op(OP.shr_u).set(V); // of
  e.resFlags(2, Z, Y, V);
  c.get(Z).set(R0 + i.rm);
  e.produce(F_RES, 2);
  return true;
});
set(A.opShr32RI, (e, i) => {
  const c = e.c;
  c.get(R0 + i.rm).i32(i.imm - 1).op(OP.shr_u).set(X);
  c.get(X).i32(1).op(OP.shr_u).set(Z);
  c.get(X).i32(1).op(OP.and).set(Y);
  c.get(X).get(Z).op(OP.xor).i32(31).op(OP.shr_u).set(V);
  e.resFlags(2, Z, Y, V);
  c.get(Z).set(R0 + i.rm);
  e.produce(F_RES, 2);
  return true;
});
set(A.opSar32RI, (e, i) => {
  const c = e.c;
  c.get(R0 + i.rm).i32(i.imm - 1).op(OP.shr_s).set(X);
  c.get(X).i32(1).op(OP.shr_s).set(Z);
  c.get(X).i32(1).op(OP.and).set(Y);
  e.resFlags(2, Z, Y, -1);
  c.get(Z).set(R0 + i.rm);
  e.produce(F_RES, 2);
  return true;
});
/** opShift (SHL/SAL, SHR, SAR: shiftCalc's ops 4..7) on an 8-bit register by a constant, or on
 *  a 32-bit register by CL; rotates, memory operands and other forms: false. */
set(A.opShift, (e, i) => {
  if (!i.mem && i.imm2 === 0 && (i.imm & 0x1f) === 0) return true; // a register by 0: nothing
  if (!i.mem && i.osz === 4 && i.imm2 !== 0 && i.op >= 4) return shift32CL(e, i);
  if (i.mem || i.osz !== 1 || i.imm2 !== 0 || i.op < 4) return false;
  const cnt = i.imm & 0x1f;
  if (cnt === 0) return true; // changes nothing, flags included
  const c = e.c;
  // X = t (the value shifted by cnt - 1), Z = the result sign-extended (fres), Y = CF, V = OF
  if (i.op === 4 || i.op === 6) {
    e.get8(i.rm).c.i32(cnt - 1).op(OP.shl).set(X);
    c.get(X).i32(1).op(OP.shl).op(OP.ext8).set(Z);
    c.get(X).i32(7).op(OP.shr_u).i32(1).op(OP.and).set(Y);
    c.get(X).get(Z).op(OP.xor).i32(7).op(OP.shr_u).i32(1).op(OP.and).set(V);
  } else if (i.op === 5) {
    e.get8(i.rm).c.i32(cnt - 1).op(OP.shr_u).set(X);
    c.get(X).i32(1).op(OP.shr_u).op(OP.ext8).set(Z);
    c.get(X).i32(1).op(OP.and).set(Y);
    c.get(X).get(Z).op(OP.xor).i32(7).op(OP.shr_u).i32(1).op(OP.and).set(V);
  } else {
    e.get8(i.rm).c.op(OP.ext8).i32(cnt - 1).op(OP.shr_s).set(X);
    c.get(X).i32(1).op(OP.shr_s).op(OP.ext8).set(Z);
    c.get(X).i32(1).op(OP.and).set(Y);
    c.i32(0).set(V);
  }
  e.resFlags(0, Z, Y, V);
  e.set8(i.rm, () => void c.get(Z));
  e.produce(F_RES, 0);
  return true;
});
/** SHL/SHR/SAR r32 by CL: a count (CL & 31) of 0 changes nothing, flags included, so what the
 *  flags are afterwards is not known here. */
function shift32CL(e: WasmEmitter, i: Insn): boolean {
  const c = e.c;
  const sh = i.op === 4 || i.op === 6 ? OP.shl : i.op === 5 ? OP.shr_u : OP.shr_s;
  e.needFlags(); // written on one path only
  c.get(R0 + 1).i32(31).op(OP.and).tee(V).if_();
  c.get(R0 + i.rm).get(V).i32(1).op(OP.sub).op(sh).set(X); // t
  c.get(X).i32(1).op(sh).set(Z);
  if (sh === OP.shl) c.get(X).i32(31).op(OP.shr_u).set(Y);
  else c.get(X).i32(1).op(OP.and).set(Y);
  if (sh === OP.shr_s) c.i32(0).set(V);
  else c.get(X).get(Z).op(OP.xor).i32(31).op(OP.shr_u).set(V);
  e.resFlags(2, Z, Y, V);
  c.get(Z).set(R0 + i.rm);
  c.end();
  e.known = null;
  return true;
}
// 8-bit register ALU (opAlu8RI, opAlu8RR, opTest8RR, opAluEI/EG/GE at 8 bits, registers)
function alu8R(e: WasmEmitter, op: number, dst: number, a: () => void, b: () => void): boolean {
  if (!ok32(op)) return false;
  arith8(e, op, a, b);
  if (op !== 7 && dst >= 0) e.set8(dst, () => void e.c.get(Z));
  return true;
}
/** op m8, imm8 / r8: CMP one read hit; the others readForWrite + wr8 (two hits). */
function rmw8(e: WasmEmitter, i: Insn, src: () => void): boolean {
  if (!ok32(i.op)) return false;
  const cmp = i.op === 7;
  e.access(cmp ? RD : WR, () => e.ea(i), 1, () => {
    e.load(1);
    e.c.set(V);
    arith8(e, i.op, loaded(e), src);
    if (!cmp) e.store(1, () => void e.c.get(Z));
  }, cmp ? 1 : 2);
  return true;
}
set(A.opAlu8RI, (e, i) => alu8R(e, i.op, i.rm, r8(e, i.rm), imm8(e, i)));
set(A.opAlu8RR, (e, i) => alu8R(e, i.op, i.rm, r8(e, i.rm), r8(e, i.reg)));
set(A.opTest8RR, (e, i) => alu8R(e, 4, -1, r8(e, i.rm), r8(e, i.reg)));
/** 16-bit register n, zero-extended (getReg at 2 bytes). */
const r16 = (e: WasmEmitter, n: number) => (): void => void e.c.get(R0 + n).i32(65535).op(OP.and);
/** op E, v at 16 bits (opAluEI, opAluEG; alu() at size index 1): a register (setReg's low-word
 *  merge), or m16: CMP one read hit (rd16), the others readForWrite + wr16 (two hits). */
function aluE16(e: WasmEmitter, i: Insn, src: () => void): boolean {
  if (!ok32(i.op)) return false;
  if (!i.mem) {
    arith8(e, i.op, r16(e, i.rm), src, 1);
    if (i.op !== 7) set16(e, i.rm, () => void e.c.get(Z));
    return true;
  }
  const cmp = i.op === 7;
  e.access(cmp ? RD : WR, () => e.ea(i), 2, () => {
    e.load(2);
    e.c.set(V);
    arith8(e, i.op, loaded(e), src, 1);
    if (!cmp) e.store(2, () => void e.c.get(Z));
  }, cmp ? 1 : 2);
  return true;
}
/** op G, E at 16 bits (opAluGE): E a register or rd16's one hit. */
function aluG16(e: WasmEmitter, i: Insn): boolean {
  if (!ok32(i.op)) return false;
  const body = (v: () => void): void => {
    arith8(e, i.op, r16(e, i.reg), v, 1);
    if (i.op !== 7) set16(e, i.reg, () => void e.c.get(Z));
  };
  if (!i.mem) body(r16(e, i.rm));
  else
    e.access(RD, () => e.ea(i), 2, () => {
      e.load(2);
      e.c.set(V);
      body(loaded(e));
    });
  return true;
}
set(A.opAluEI, (e, i) => {
  if (i.osz === 2) return aluE16(e, i, imm(e, i));
  if (i.osz !== 1) return false;
  if (i.mem) return rmw8(e, i, imm8(e, i));
  return alu8R(e, i.op, i.rm, r8(e, i.rm), imm8(e, i));
});
set(A.opAluEG, (e, i) => {
  if (i.osz === 2) return aluE16(e, i, r16(e, i.reg));
  if (i.osz !== 1) return false;
  if (i.mem) return rmw8(e, i, r8(e, i.reg));
  return alu8R(e, i.op, i.rm, r8(e, i.rm), r8(e, i.reg));
});
set(A.opAluGE, (e, i) => (i.osz === 2 ? aluG16(e, i) : i.osz === 1 && !i.mem ? alu8R(e, i.op, i.reg, r8(e, i.reg), r8(e, i.rm)) : false));
set(A.opTestEG, (e, i) => (i.osz === 1 && !i.mem ? alu8R(e, 4, -1, r8(e, i.rm), r8(e, i.reg)) : false));
set(A.opCmp8MG, (e, i) => {
  e.access(RD, () => e.ea(i), 1, () => {
    e.load(1);
    e.c.set(V);
    arith8(e, 7, loaded(e), r8(e, i.reg));
  });
  return true;
});
set(A.opCmp8MI, (e, i) => {
  e.access(RD, () => e.ea(i), 1, () => {
    e.load(1);
    e.c.set(V);
    arith8(e, 7, loaded(e), imm8(e, i));
  });
  return true;
});
/** SETcc r8 (opSetccR, opSetcc to a register). */
function setcc(e: WasmEmitter, i: Insn): boolean {
  if (i.mem) return false;
  e.cond(i.op);
  e.c.set(V);
  e.set8(i.rm, () => void e.c.get(V));
  return true;
}
set(A.opSetccR, setcc);
set(A.opSetcc, setcc);
set(A.opCmov, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.c;
  // the condition first (it may exit), then the read, which happens whatever it says
  e.cond(i.op);
  c.set(T2);
  const move = (): void => {
    c.get(T2).if_();
    c.get(V).set(R0 + i.reg).end();
  };
  if (!i.mem) {
    c.get(R0 + i.rm).set(V);
    move();
  } else
    e.access(RD, () => e.ea(i), 4, () => {
      e.load(4);
      c.set(V);
      move();
    });
  return true;
});
set(A.opNeg, (e, i) => {
  if (i.osz !== 4 || i.mem) return false;
  const c = e.c;
  c.i32(0).set(X).get(R0 + i.rm).set(Y).i32(0).get(Y).op(OP.sub).set(Z);
  e.flags(F_SUB, 2, X, Y, Z);
  c.get(Z).set(R0 + i.rm);
  e.produce(F_SUB, 2);
  return true;
});
/** IMUL G, E / G, E, imm at 32 bits: the low half; CF = OF = it did not fit. */
function imul32(e: WasmEmitter, i: Insn, x: () => void, y: () => void): void {
  const c = e.c;
  x();
  c.set(X);
  y();
  c.set(Y);
  c.get(X).get(Y).op(OP.mul).set(Z);
  // the signed 64-bit product differs from the sign-extended low half
  c.get(X).op(OP.extend_s).get(Y).op(OP.extend_s).op(OP.i64mul);
  c.get(Z).op(OP.extend_s).op(OP.i64ne).set(V);
  e.resFlags(2, Z, V, V);
  c.get(Z).set(R0 + i.reg);
  e.produce(F_RES, 2);
}
function imulMem(e: WasmEmitter, i: Insn, y: (() => void) | null): boolean {
  if (!i.mem) {
    imul32(e, i, y === null ? reg(e, i.reg) : reg(e, i.rm), y === null ? reg(e, i.rm) : y);
    return true;
  }
  e.access(RD, () => e.ea(i), 4, () => {
    e.load(4);
    e.c.set(V);
    if (y === null) imul32(e, i, reg(e, i.reg), loaded(e));
    else imul32(e, i, loaded(e), y);
  });
  return true;
}
/** DIV E at 32 bits (opDiv): EDX:EAX / E, the quotient to EAX and the remainder to EDX; flags
 *  untouched. A zero divisor or a quotient over 32 bits (EDX >= E) is #DE: left to the handler,
 *  which raises it (and counts its own read's hit, as every RESUME leaves the instruction's hits to
 *  the handler). */
set(A.opDiv, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.c;
  const body = (): void => {
    c.get(V).op(OP.eqz).get(R0 + 2).get(V).op(OP.ge_u).op(OP.or).if_();
    e.resume();
    c.end();
    c.get(R0 + 2).op(OP.extend_u).i64(32).op(OP.i64shl).get(R0).op(OP.extend_u).op(OP.i64or);
    c.get(V).op(OP.extend_u).op(OP.i64div_u).op(OP.wrap).set(X);
    // the remainder is below 2^32: EAX - q * E in 32-bit arithmetic is it
    c.get(R0).get(X).get(V).op(OP.mul).op(OP.sub).set(Y);
    c.get(X).set(R0).get(Y).set(R0 + 2);
  };
  if (!i.mem) {
    c.get(R0 + i.rm).set(V);
    body();
  } else
    e.access(RD, () => e.ea(i), 4, () => {
      e.load(4);
      c.set(V);
      body();
    });
  return true;
});
set(A.opImul32GE, (e, i) => imulMem(e, i, null));
set(A.opImulGEI, (e, i) => (i.osz === 4 ? imulMem(e, i, imm(e, i)) : false));
/** MUL / IMUL E at 32 bits (opMul, opImul1): EDX:EAX = EAX * E (a register or rd32's one hit);
 *  CF = OF = the high half is needed (unsigned: not 0; signed: not the low half's sign). */
function mul1(e: WasmEmitter, i: Insn, signed: boolean): boolean {
  if (i.osz !== 4) return false;
  const c = e.c;
  const ext = signed ? OP.extend_s : OP.extend_u;
  const body = (): void => {
    c.get(R0).get(V).op(OP.mul).set(Z); // the low half
    c.get(R0).op(ext).get(V).op(ext).op(OP.i64mul).i64(32).op(OP.i64shr_u).op(OP.wrap).set(Y);
    if (signed) c.get(Y).get(Z).i32(31).op(OP.shr_s).op(OP.ne).set(X);
    else c.get(Y).i32(0).op(OP.ne).set(X);
    e.resFlags(2, Z, X, X);
    c.get(Z).set(R0);
    c.get(Y).set(R0 + 2);
    e.produce(F_RES, 2);
  };
  if (!i.mem) {
    c.get(R0 + i.rm).set(V);
    body();
  } else
    e.access(RD, () => e.ea(i), 4, () => {
      e.load(4);
      c.set(V);
      body();
    });
  return true;
}
set(A.opMul, (e, i) => mul1(e, i, false));
set(A.opImul1, (e, i) => mul1(e, i, true));
// MOVZX / MOVSX
set(A.opMovzx8R32, (e, i) => (e.get8(i.rm).setR(i.reg), true));
set(A.opMovzx16R32, (e, i) => (e.r(i.rm).c.i32(65535).op(OP.and).set(R0 + i.reg), true));
set(A.opMovsx16R32, (e, i) => (e.r(i.rm).c.op(OP.ext16).set(R0 + i.reg), true));
set(A.opMovsx8R32, (e, i) => (e.get8(i.rm).c.op(OP.ext8).set(R0 + i.reg), true));
/** MOVZX/MOVSX r32 from m8/m16 (rd8/rd16: one hit) or a register. */
function movx(e: WasmEmitter, i: Insn, size: 1 | 2, signed: boolean): boolean {
  const c = e.c;
  if (!i.mem) {
    if (size === 1) e.get8(i.rm);
    else c.get(R0 + i.rm).i32(65535).op(OP.and);
    if (signed) c.op(size === 1 ? OP.ext8 : OP.ext16);
    c.set(R0 + i.reg);
    return true;
  }
  e.access(RD, () => e.ea(i), size, () => {
    c.get(AD).mem(size === 1 ? (signed ? OP.load8s : OP.load8u) : signed ? OP.load16s : OP.load16u);
    c.set(R0 + i.reg);
  });
  return true;
}
set(A.opMovx, (e, i) => (i.osz === 4 ? movx(e, i, i.imm2 === 1 ? 1 : 2, i.op !== 0) : false));
set(A.opMovzx8M32, (e, i) => movx(e, i, 1, false));
set(A.opMovzx16M32, (e, i) => (i.osz === 4 ? movx(e, i, i.imm2 === 1 ? 1 : 2, i.op !== 0) : false));
set(A.opMovsx16M32, (e, i) => (i.osz === 4 ? movx(e, i, i.imm2 === 1 ? 1 : 2, i.op !== 0) : false));
set(A.opMovsx8M32, (e, i) => (i.osz === 4 ? movx(e, i, i.imm2 === 1 ? 1 : 2, i.op !== 0) : false));

// ---- exec-data.ts ---------------------------------------------------------------------------
set(D.opNop, () => true);
set(D.opMov32RR, (e, i) => (e.r(i.reg).setR(i.rm), true));
set(D.opMov32RI, (e, i) => (e.c.i32(i.imm | 0).set(R0 + i.rm), true));
set(D.opMov32GM, (e, i) => {
  e.access(RD, () => e.ea(i), 4, () => {
    e.load(4);
    e.setR(i.reg);
  });
  return true;
});
set(D.opMov32MG, (e, i) => {
  e.access(WR, () => e.ea(i), 4, () => e.store(4, () => void e.r(i.reg)));
  return true;
});
set(D.opMov32MI, (e, i) => {
  e.access(WR, () => e.ea(i), 4, () => e.store(4, () => void e.c.i32(i.imm | 0)));
  return true;
});
set(D.opMov8MG, (e, i) => {
  e.access(WR, () => e.ea(i), 1, () => e.store(1, () => void e.get8(i.reg)));
  return true;
});
set(D.opMov8GM, (e, i) => {
  e.access(RD, () => e.ea(i), 1, () => {
    e.load(1);
    e.c.set(V);
    e.set8(i.reg, () => void e.c.get(V));
  });
  return true;
});
set(D.opMov8RR, (e, i) => (e.set8(i.rm, () => void e.get8(i.reg)), true));
/** 16-bit register n = the low half of what `v` pushes (setReg at 2 bytes). */
function set16(e: WasmEmitter, n: number, v: () => void): void {
  const c = e.c;
  c.get(R0 + n).i32(-65536).op(OP.and);
  v();
  c.i32(65535).op(OP.and).op(OP.or).set(R0 + n);
}
/** MOV E, v at 16 bits (opMovEG, opMovEI: writeE, a memory operand through wr16: one hit). */
function mov16(e: WasmEmitter, i: Insn, v: () => void): boolean {
  if (!i.mem) set16(e, i.rm, v);
  else e.access(WR, () => e.ea(i), 2, () => e.store(2, v));
  return true;
}
set(D.opMovEG, (e, i) => {
  if (i.osz === 2) return mov16(e, i, reg(e, i.reg));
  if (i.osz !== 1 || i.mem) return false;
  e.set8(i.rm, () => void e.get8(i.reg));
  return true;
});
set(D.opMovEI, (e, i) => {
  if (i.osz === 2) return mov16(e, i, () => void e.c.i32(i.imm & 65535));
  if (i.osz !== 1) return false;
  // m8: wr8, one hit
  if (i.mem) e.access(WR, () => e.ea(i), 1, () => e.store(1, () => void e.c.i32(i.imm & 255)));
  else e.set8(i.rm, () => void e.c.i32(i.imm & 255));
  return true;
});
/** MOV G, E at 16 bits (readE: a register, or rd16's one hit). */
set(D.opMovGE, (e, i) => {
  if (i.osz !== 2) return false;
  if (!i.mem) set16(e, i.reg, reg(e, i.rm));
  else
    e.access(RD, () => e.ea(i), 2, () => {
      e.load(2);
      e.c.set(V);
      set16(e, i.reg, loaded(e));
    });
  return true;
});
/** MOV AL/AX/EAX, moffs (i.op 0: rd of the size, one hit) and MOV moffs, AL/AX/EAX (wr, one
 *  hit): the address is i.disp (opMovMoffs). */
set(D.opMovMoffs, (e, i) => {
  const c = e.c;
  const sz = i.osz as 1 | 2 | 4;
  if (i.op === 0)
    e.access(RD, () => void c.i32(i.disp | 0), sz, () => {
      e.load(sz);
      c.set(V);
      if (sz === 4) c.get(V).set(R0);
      else if (sz === 2) set16(e, 0, loaded(e));
      else e.set8(0, loaded(e));
    });
  else
    e.access(WR, () => void c.i32(i.disp | 0), sz, () => {
      e.store(sz, () => void (sz === 1 ? e.get8(0) : e.r(0)));
    });
  return true;
});
set(D.opLea32, (e, i) => (e.ea(i).setR(i.reg), true));
set(D.opLea, (e, i) => (i.osz === 4 ? (e.ea(i).setR(i.reg), true) : false));
// PUSH/POP r32: ESP committed after the access (a miss leaves it to the handler untouched)
set(D.opPush32R, (e, i) => {
  const c = e.c;
  e.access(WR, () => void c.get(R0 + 4).i32(4).op(OP.sub), 4, () => {
    e.store(4, () => void e.r(i.reg));
    c.get(L).set(R0 + 4);
  });
  return true;
});
set(D.opPop32R, (e, i) => {
  const c = e.c;
  e.access(RD, () => void c.get(R0 + 4), 4, () => {
    e.load(4);
    c.set(V);
    c.get(L).i32(4).op(OP.add).set(R0 + 4);
    c.get(V).set(R0 + i.reg);
  });
  return true;
});

// ---- exec-branch.ts: near branches at a 32-bit operand size (block terminators) ------------
const target = (e: WasmEmitter, off: number): void => void e.c.get(BEIP).i32(off | 0).op(OP.add).set(NE);
set(B.opJmp, (e, i) => {
  if (i.osz !== 4) return false;
  target(e, i.next + i.imm);
  e.setsNe = true;
  return true;
});
const jcc = (e: WasmEmitter, i: Insn, cc: number): boolean => {
  if (i.osz !== 4) return false;
  const c = e.c;
  e.cond(cc);
  c.if_();
  target(e, i.next + i.imm);
  c.else_();
  target(e, i.next);
  c.end();
  e.setsNe = true;
  return true;
};
set(B.opJcc, (e, i) => jcc(e, i, i.op));
set(B.opJz, (e, i) => jcc(e, i, 4));
set(B.opJnz, (e, i) => jcc(e, i, 5));
for (const [h, cc] of [[B.opJb, 2], [B.opJae, 3], [B.opJbe, 6], [B.opJa, 7], [B.opJl, 12], [B.opJge, 13], [B.opJle, 14], [B.opJg, 15]] as const) {
  set(h, (e, i) => jcc(e, i, cc));
}
set(B.opCall, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.c;
  e.access(WR, () => void c.get(R0 + 4).i32(4).op(OP.sub), 4, () => {
    e.store(4, () => void c.get(BEIP).i32(i.next).op(OP.add));
    c.get(L).set(R0 + 4);
    target(e, i.next + i.imm);
  });
  e.setsNe = true;
  return true;
});
set(B.opRet, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.c;
  e.access(RD, () => void c.get(R0 + 4), 4, () => {
    e.load(4);
    c.set(NE);
    c.get(L).i32(4 + i.imm).op(OP.add).set(R0 + 4);
  });
  e.setsNe = true;
  return true;
});
set(B.opJmpE, (e, i) => {
  if (i.osz !== 4) return false;
  if (!i.mem) e.r(i.rm).c.set(NE);
  else e.access(RD, () => e.ea(i), 4, () => (e.load(4), void e.c.set(NE)));
  e.setsNe = true;
  return true;
});

/** CALL E at 32 bits (opCallE): the target from a register, or from memory (readE), then the
 *  push of the next EIP (wr32). The memory form tests both accesses (the read's tag in L T,
 *  the push's in L2 T2) before either is made, so a miss of either leaves the whole
 *  instruction to the handler, which makes both in order and counts their hits; both hit: two. */
set(B.opCallE, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.c;
  const push = (a: number): void => {
    e.store(4, () => void c.get(BEIP).i32(i.next).op(OP.add), a);
  };
  if (!i.mem) {
    e.access(WR, () => void c.get(R0 + 4).i32(4).op(OP.sub), 4, () => {
      c.get(R0 + i.rm).set(NE);
      push(AD);
      c.get(L).set(R0 + 4);
    });
  } else {
    e.ea(i);
    e.test(RD, L, T, 4);
    c.get(R0 + 4).i32(4).op(OP.sub);
    e.test(WR, L2, T2, 4);
    c.op(OP.and).if_();
    e.countHits(2);
    e.addr(L, T, AD);
    e.addr(L2, T2, A2);
    e.load(4, AD);
    c.set(NE);
    push(A2);
    c.get(L2).set(R0 + 4);
    c.else_();
    e.resume();
    c.end();
  }
  e.setsNe = true;
  return true;
});

/** Whether WebAssembly regions state handler h (for some operand forms). */
export function hasWasmTemplate(h: Handler): boolean {
  return wasmTemplates.has(h);
}
