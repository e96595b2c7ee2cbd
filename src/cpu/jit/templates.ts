// The templates of compiled code (compile.ts, emit.ts): for each interpreter handler listed
// here, JS text that states the handler's effect for one instruction's fixed operands, through
// the BlockEmitter (register and flag locals, TLB-hit fast paths, conditions). A template returns
// false for an operand form it does not cover, and the handler is called. `e.produce` records
// what the handler's flag writes would be (the locals get exactly the handler's values). Which
// handlers have one is checked by test/cpu/jit-coverage.test.ts; that each says what its handler
// does, by the differential tests (test/cpu/jit*.test.ts).

import * as A from '../exec-alu.js';
import * as B from '../exec-branch.js';
import * as D from '../exec-data.js';
import { F_ADC, F_ADD, F_DEC, F_INC, F_RES, F_SBB, F_SUB } from '../flags.js';
import type { Handler, Insn } from '../insn.js';
import { TLB_MASK } from '../tlb.js';
import { type BlockEmitter, hitCond, type Template } from './emit.js';

const imm = (i: Insn): string => String(i.imm | 0);
/** A 32-bit load / store of the backing bytes at local `a` (rd32's and wr32's: aligned or not,
 *  inside one page). */
const load32 = (a: string): string => `((${a} & 3) === 0 ? m32[${a} >>> 2] : dv.getInt32(${a}, true))`;
const store32 = (a: string, v: string): string => `if ((${a} & 3) === 0) m32[${a} >>> 2] = ${v}; else dv.setInt32(${a}, ${v}, true);`;
const LOAD32 = load32('a');

/** 32-bit ADD/SUB/CMP and logic on locals (add32, sub32, logic32 in exec-alu.ts). */
function arith32(e: BlockEmitter, op: number, dst: string, a: string, b: string): string {
  switch (op) {
    case 0:
      e.produce(F_ADD, 2);
      return `{ const x = ${a}, y = ${b}, z = (x + y) | 0; fop = 0; fa = x; fb = y; fres = z; fsz = 2; ${dst === '' ? '' : `${dst} = z;`} }`;
    case 5:
    case 7:
      e.produce(F_SUB, 2);
      return `{ const x = ${a}, y = ${b}, z = (x - y) | 0; fop = 2; fa = x; fb = y; fres = z; fsz = 2; ${op === 7 || dst === '' ? '' : `${dst} = z;`} }`;
    default: {
      const o = op === 1 ? '|' : op === 4 ? '&' : '^';
      e.produce(F_RES, 2);
      return `{ const z = (${a}) ${o} (${b}); fop = 6; fres = z; fsz = 2; fcf = 0; fof = 0; faf = 0; ${dst === '' ? '' : `${dst} = z;`} }`;
    }
  }
}

/** 8-bit ALU op on values (alu() with size index 0); returns text assigning `z` and the flags. */
function arith8(e: BlockEmitter, op: number, a: string, b: string): string | null {
  switch (op) {
    case 0:
      e.produce(F_ADD, 0);
      return `const x = ${a}, y = ${b}, z = ((x + y) << 24) >> 24; fop = 0; fa = x; fb = y; fres = z; fsz = 0;`;
    case 5:
    case 7:
      e.produce(F_SUB, 0);
      return `const x = ${a}, y = ${b}, z = ((x - y) << 24) >> 24; fop = 2; fa = x; fb = y; fres = z; fsz = 0;`;
    case 1:
    case 4:
    case 6: {
      const o = op === 1 ? '|' : op === 4 ? '&' : '^';
      e.produce(F_RES, 0);
      return `const z = (((${a}) ${o} (${b})) << 24) >> 24; fop = 6; fres = z; fsz = 0; fcf = 0; fof = 0; faf = 0;`;
    }
    default:
      return null; // ADC/SBB read CF: the handler
  }
}

const ALU32_RR: Array<[Handler, number]> = [
  [A.opAdd32RR, 0],
  [A.opOr32RR, 1],
  [A.opAnd32RR, 4],
  [A.opSub32RR, 5],
  [A.opXor32RR, 6],
  [A.opCmp32RR, 7],
];
const ALU32_RI: Array<[Handler, number]> = [
  [A.opAdd32RI, 0],
  [A.opOr32RI, 1],
  [A.opAnd32RI, 4],
  [A.opSub32RI, 5],
  [A.opXor32RI, 6],
  [A.opCmp32RI, 7],
];

/** Handler -> its template (read by BlockEmitter.insn). */
export const templates = new Map<Handler, Template>();

// exec-alu.ts: 32-bit register forms (opAdd32RR ... opCmp32RI; E = rm, G = reg)
for (const [h, op] of ALU32_RR) {
  templates.set(h, (e, i) => {
    e.emit(arith32(e, op, op === 7 ? '' : `r${i.rm}`, `r${i.rm}`, `r${i.reg}`));
    if (op !== 7) e.setDirty(i.rm);
    return true;
  });
}
for (const [h, op] of ALU32_RI) {
  templates.set(h, (e, i) => {
    e.emit(arith32(e, op, op === 7 ? '' : `r${i.rm}`, `r${i.rm}`, imm(i)));
    if (op !== 7) e.setDirty(i.rm);
    return true;
  });
}
// opAlu32RR / opAlu32RI: ADC and SBB (alu() ops 2 and 3): the carry in is CF before them
function adcSbb32(e: BlockEmitter, i: Insn, src: string): boolean {
  if (i.op !== 2 && i.op !== 3) return false;
  const cf = e.carry();
  const z = i.op === 2 ? '(x + y + cin) | 0' : '(x - y - cin) | 0';
  e.emit(`{ const x = r${i.rm}, y = ${src}, cin = ${cf}, z = ${z}; fcf = cin; fop = ${i.op === 2 ? 1 : 3}; fa = x; fb = y; fres = z; fsz = 2; r${i.rm} = z; }`);
  e.produce(i.op === 2 ? F_ADC : F_SBB, 2);
  e.setDirty(i.rm);
  return true;
}
templates.set(A.opAlu32RR, (e, i) => adcSbb32(e, i, `r${i.reg}`));
templates.set(A.opAlu32RI, (e, i) => adcSbb32(e, i, imm(i)));
templates.set(A.opTest32RR, (e, i) => {
  e.emit(arith32(e, 4, '', `r${i.rm}`, `r${i.reg}`));
  return true;
});
templates.set(A.opTest32RI, (e, i) => {
  e.emit(arith32(e, 4, '', `r${i.rm}`, imm(i)));
  return true;
});
// opAdd32GM, opSub32GM, opCmp32GM, opAlu32GM (OR AND XOR): G op= m32
const GM: Array<[Handler, number]> = [
  [A.opAdd32GM, 0],
  [A.opSub32GM, 5],
  [A.opCmp32GM, 7],
];
for (const [h, op] of GM) {
  templates.set(h, (e, i) => {
    const body = arith32(e, op, op === 7 ? '' : `r${i.reg}`, `r${i.reg}`, 'v');
    e.emit(e.loadHit(e.ea(i), 4, `const v = ${LOAD32}; ${body}`));
    if (op !== 7) e.setDirty(i.reg);
    return true;
  });
}
for (const [h, op] of [[A.opOr32GM, 1], [A.opAnd32GM, 4], [A.opXor32GM, 6]] as const) {
  templates.set(h, (e, i) => {
    const body = arith32(e, op, `r${i.reg}`, `r${i.reg}`, 'v');
    e.emit(e.loadHit(e.ea(i), 4, `const v = ${LOAD32}; ${body}`));
    e.setDirty(i.reg);
    return true;
  });
}
// opTestEI: TEST r/m32 or r/m8, imm (readE: one read)
templates.set(A.opTestEI, (e, i) => {
  if (i.osz === 2) return false;
  const body = (v: string): string => (i.osz === 4 ? arith32(e, 4, '', v, imm(i)) : `{ ${arith8(e, 4, v, String(i.imm & 255))} }`);
  if (!i.mem) e.emit(body(i.osz === 4 ? `r${i.rm}` : e.get8(i.rm)));
  else e.emit(e.loadHit(e.ea(i), i.osz as 1 | 4, `const v = ${i.osz === 4 ? LOAD32 : 'mem[a]'}; ${body('v')}`));
  return true;
});
templates.set(A.opAlu32GM, (e, i) => {
  if (i.op !== 1 && i.op !== 4 && i.op !== 6) return false;
  const body = arith32(e, i.op, `r${i.reg}`, `r${i.reg}`, 'v');
  e.emit(e.loadHit(e.ea(i), 4, `const v = ${LOAD32}; ${body}`));
  e.setDirty(i.reg);
  return true;
});
// opAdd32MG / opAdd32MI / opAlu32MG / opAlu32MI / opCmp32MG / opCmp32MI: m32 op= G or imm
function rmw32(e: BlockEmitter, i: Insn, op: number, src: string): boolean {
  if (op === 2 || op === 3) return false;
  if (op === 7) {
    // CMP m32 reads only (opCmp32MG/MI use rd32)
    const body = arith32(e, 7, '', 'v', src);
    e.emit(e.loadHit(e.ea(i), 4, `const v = ${LOAD32}; ${body}`));
    return true;
  }
  const body = arith32(e, op, 'w', 'v', src);
  e.emit(
    e.storeHit(
      e.ea(i),
      4,
      `const v = ${LOAD32}; let w = 0; ${body} ${store32('a', 'w')}`,
    ),
  );
  return true;
}
templates.set(A.opAdd32MG, (e, i) => rmw32(e, i, 0, `r${i.reg}`));
templates.set(A.opAdd32MI, (e, i) => rmw32(e, i, 0, imm(i)));
templates.set(A.opAlu32MG, (e, i) => rmw32(e, i, i.op, `r${i.reg}`));
templates.set(A.opAlu32MI, (e, i) => rmw32(e, i, i.op, imm(i)));
templates.set(A.opCmp32MG, (e, i) => rmw32(e, i, 7, `r${i.reg}`));
templates.set(A.opCmp32MI, (e, i) => rmw32(e, i, 7, imm(i)));

// opInc32R / opDec32R: CF is preserved (read from the previous producer)
templates.set(A.opInc32R, (e, i) => {
  const cf = e.carry();
  e.emit(`{ const x = r${i.rm}, z = (x + 1) | 0; fcf = ${cf}; fop = 4; fa = x; fb = 1; fres = z; fsz = 2; r${i.rm} = z; }`);
  e.produce(F_INC, 2);
  e.setDirty(i.rm);
  return true;
});
templates.set(A.opDec32R, (e, i) => {
  const cf = e.carry();
  e.emit(`{ const x = r${i.rm}, z = (x - 1) | 0; fcf = ${cf}; fop = 5; fa = x; fb = 1; fres = z; fsz = 2; r${i.rm} = z; }`);
  e.produce(F_DEC, 2);
  e.setDirty(i.rm);
  return true;
});
// opShl32RI / opShr32RI / opSar32RI (count 1..31): setRes(c, 2, r, cf, of, 0)
templates.set(A.opShl32RI, (e, i) => {
  e.emit(`{ const t = r${i.rm} << ${i.imm - 1}, z = t << 1; fop = 6; fres = z; fsz = 2; fcf = t >>> 31; fof = (t ^ z) >>> 31; faf = 0; r${i.rm} = z; }`);
  e.produce(F_RES, 2);
  e.setDirty(i.rm);
  return true;
});
templates.set(A.opShr32RI, (e, i) => {
  e.emit(`{ const t = r${i.rm} >>> ${i.imm - 1}, z = t >>> 1; fop = 6; fres = z | 0; fsz = 2; fcf = t & 1; fof = (t ^ z) >>> 31; faf = 0; r${i.rm} = z | 0; }`);
  e.produce(F_RES, 2);
  e.setDirty(i.rm);
  return true;
});
templates.set(A.opSar32RI, (e, i) => {
  e.emit(`{ const t = r${i.rm} >> ${i.imm - 1}, z = t >> 1; fop = 6; fres = z; fsz = 2; fcf = t & 1; fof = 0; faf = 0; r${i.rm} = z; }`);
  e.produce(F_RES, 2);
  e.setDirty(i.rm);
  return true;
});
// opShift on an 8-bit register by a constant count (shiftCalc's SHL/SAL, SHR, SAR; count 0
// changes nothing); rotates, counts in CL and other sizes stay with the handler
templates.set(A.opShift, (e, i) => {
  if (!i.mem && i.osz === 4 && i.imm2 !== 0 && i.op >= 4) return shift32CL(e, i);
  if (i.mem || i.osz !== 1 || i.imm2 !== 0 || i.op < 4) return false;
  const cnt = i.imm & 0x1f;
  if (cnt === 0) return true;
  const v = e.get8(i.rm);
  let body: string;
  if (i.op === 4 || i.op === 6) body = `const t = ${v} << ${cnt - 1}, z = (t << 1) & 255; fcf = (t >>> 7) & 1; fof = ((t ^ z) >>> 7) & 1;`;
  else if (i.op === 5) body = `const t = ${v} >>> ${cnt - 1}, z = t >>> 1; fcf = t & 1; fof = ((t ^ z) >>> 7) & 1;`;
  else body = `const t = ((${v} << 24) >> 24) >> ${cnt - 1}, z = (t >> 1) & 255; fcf = t & 1; fof = 0;`;
  e.produce(F_RES, 0);
  e.emit(`{ ${body} fop = 6; fsz = 0; fres = (z << 24) >> 24; faf = 0; ${e.set8(i.rm, 'z')} }`);
  return true;
});
/** SHL/SHR/SAR r32 by CL (shiftCalc at 32 bits): a count of 0 changes nothing, flags included. */
function shift32CL(e: BlockEmitter, i: Insn): boolean {
  const v = `r${i.rm}`;
  let body: string;
  if (i.op === 4 || i.op === 6) body = `const t = ${v} << (n - 1), z = t << 1; fcf = t >>> 31; fof = (t ^ z) >>> 31;`;
  else if (i.op === 5) body = `const t = ${v} >>> (n - 1), z = t >>> 1; fcf = t & 1; fof = (t ^ z) >>> 31;`;
  else body = `const t = ${v} >> (n - 1), z = t >> 1; fcf = t & 1; fof = 0;`;
  e.emit(`{ const n = r1 & 31; if (n !== 0) { ${body} fop = 6; fres = z | 0; fsz = 2; faf = 0; ${v} = z | 0; } }`, true);
  e.known = null;
  e.setDirty(i.rm);
  return true;
}
/** G = x * y at 32 bits, the low half, CF = OF = the product did not fit (opImul32GE, and
 *  imulTrunc's 32-bit case); `pair` names x and y given the E operand's text. */
function imul32(e: BlockEmitter, i: Insn, pair: (src: string) => [string, string]): boolean {
  const body = (src: string): string => {
    const [x, y] = pair(src);
    return `const x = ${x}, y = ${y}, lo = Math.imul(x, y), f = x * y !== lo ? 1 : 0; fop = 6; fres = lo; fsz = 2; fcf = f; fof = f; faf = 0; r${i.reg} = lo;`;
  };
  if (i.mem) e.emit(e.loadHit(e.ea(i), 4, body(LOAD32)));
  else e.emit(`{ ${body(`r${i.rm}`)} }`);
  e.produce(F_RES, 2);
  e.setDirty(i.reg);
  return true;
}
// opImul32GE: G = G * E; opImulGEI at 32 bits: G = E * imm
templates.set(A.opImul32GE, (e, i) => imul32(e, i, (src) => [`r${i.reg}`, src]));
templates.set(A.opImulGEI, (e, i) => i.osz === 4 && imul32(e, i, (src) => [src, imm(i)]));
// opAluEI / opAluEG / opAluGE at 8 bits, register operands (alu(c, op, 0, ...); setReg 1)
templates.set(A.opAluEI, (e, i) => {
  if (i.osz === 1 && i.mem) return rmw8(e, i, String(i.imm & 255));
  if (i.osz !== 1 || i.mem) return false;
  const body = arith8(e, i.op, e.get8(i.rm), String(i.imm & 255));
  if (body === null) return false;
  e.emit(`{ ${body} ${i.op === 7 ? '' : e.set8(i.rm, 'z')} }`);
  return true;
});
templates.set(A.opAlu8RI, (e, i) => (templates.get(A.opAluEI) as Template)(e, i));
/** op m8, imm8 / op m8, r8 (opAluEI, opAluEG at 8 bits): CMP reads through rd8 (one TLB hit);
 *  the others read through readForWrite and write through wr8 (two hits, the write tag tested
 *  first). ADC and SBB stay with the handler. */
function rmw8(e: BlockEmitter, i: Insn, src: string): boolean {
  if (i.op === 2 || i.op === 3) return false;
  const body = arith8(e, i.op, 'v', src) as string;
  if (i.op === 7) e.emit(e.loadHit(e.ea(i), 1, `const v = mem[a]; ${body}`));
  else e.emit(e.storeHit(e.ea(i), 1, `hits++; const v = mem[a]; ${body} mem[a] = z;`));
  return true;
}
/** INC/DEC m32 and m8 (opIncDec): readForWrite then write (two hits), CF kept from before. */
templates.set(A.opIncDec, (e, i) => {
  if (!i.mem || (i.osz !== 4 && i.osz !== 1)) return false;
  const cf = e.carry();
  const sz = i.osz === 4 ? 2 : 0;
  const d = i.op === 0 ? '+' : '-';
  const load = i.osz === 4 ? LOAD32 : 'mem[a]';
  const res = i.osz === 4 ? `(v ${d} 1) | 0` : `((v ${d} 1) << 24) >> 24`;
  const store = i.osz === 4 ? store32('a', 'z') : 'mem[a] = z;';
  e.produce(i.op === 0 ? F_INC : F_DEC, sz);
  e.emit(e.storeHit(e.ea(i), i.osz as 1 | 4, `hits++; const v = ${load}, z = ${res}; ${store} fcf = ${cf}; fop = ${i.op === 0 ? 4 : 5}; fa = v; fb = 1; fres = z; fsz = ${sz};`));
  return true;
});
templates.set(A.opIncDec32M, (e, i) => (templates.get(A.opIncDec) as Template)(e, i));
templates.set(A.opAluEG, (e, i) => {
  if (i.osz === 1 && i.mem) return rmw8(e, i, e.get8(i.reg));
  if (i.osz !== 1 || i.mem) return false;
  const body = arith8(e, i.op, e.get8(i.rm), e.get8(i.reg));
  if (body === null) return false;
  e.emit(`{ ${body} ${i.op === 7 ? '' : e.set8(i.rm, 'z')} }`);
  return true;
});
templates.set(A.opAluGE, (e, i) => {
  if (i.osz !== 1 || i.mem) return false;
  const body = arith8(e, i.op, e.get8(i.reg), e.get8(i.rm));
  if (body === null) return false;
  e.emit(`{ ${body} ${i.op === 7 ? '' : e.set8(i.reg, 'z')} }`);
  return true;
});
// The decoder's specialised 8-bit and MOVZX/MOVSX register forms (opAlu8RR: E op= G, rm the
// destination; opTest8RR; opSetccR; opCmp8MG/MI: a read through rd8, one hit)
templates.set(A.opAlu8RR, (e, i) => {
  const body = arith8(e, i.op, e.get8(i.rm), e.get8(i.reg));
  if (body === null) return false;
  e.emit(`{ ${body} ${i.op === 7 ? '' : e.set8(i.rm, 'z')} }`);
  return true;
});
templates.set(A.opTest8RR, (e, i) => {
  e.emit(`{ ${arith8(e, 4, e.get8(i.rm), e.get8(i.reg))} }`);
  return true;
});
templates.set(A.opSetccR, (e, i) => {
  const c = e.cond(i.op);
  e.emit(e.set8(i.rm, `${c} ? 1 : 0`));
  return true;
});
templates.set(A.opCmp8MG, (e, i) => {
  e.emit(e.loadHit(e.ea(i), 1, `const v = mem[a]; ${arith8(e, 7, 'v', e.get8(i.reg))}`));
  return true;
});
templates.set(A.opCmp8MI, (e, i) => {
  e.emit(e.loadHit(e.ea(i), 1, `const v = mem[a]; ${arith8(e, 7, 'v', String(i.imm & 255))}`));
  return true;
});
templates.set(A.opMovzx16R32, (e, i) => {
  e.emit(`r${i.reg} = r${i.rm} & 65535;`);
  e.setDirty(i.reg);
  return true;
});
templates.set(A.opMovsx16R32, (e, i) => {
  e.emit(`r${i.reg} = (r${i.rm} << 16) >> 16;`);
  e.setDirty(i.reg);
  return true;
});
templates.set(A.opMovsx8R32, (e, i) => {
  e.emit(`r${i.reg} = (${e.get8(i.rm)} << 24) >> 24;`);
  e.setDirty(i.reg);
  return true;
});
templates.set(A.opTestEG, (e, i) => {
  if (i.osz !== 1 || i.mem) return false;
  const body = arith8(e, 4, e.get8(i.rm), e.get8(i.reg));
  e.emit(`{ ${body} }`);
  return true;
});
// opSetcc to a register; opCmov (32-bit register or memory source through the handler)
templates.set(A.opSetcc, (e, i) => {
  if (i.mem) return false;
  const c = e.cond(i.op);
  e.emit(e.set8(i.rm, `${c} ? 1 : 0`));
  return true;
});
// opMovx at a 32-bit operand size: MOVZX/MOVSX from 8 (imm2 1) or 16 bits (imm2 2); i.op 1 sign-extends
templates.set(A.opMovx, (e, i) => {
  if (i.osz !== 4) return false;
  const ext = (v: string): string => (i.op === 0 ? v : i.imm2 === 1 ? `((${v}) << 24) >> 24` : `((${v}) << 16) >> 16`);
  if (!i.mem) {
    const v = i.imm2 === 1 ? e.get8(i.rm) : `(r${i.rm} & 65535)`;
    e.emit(`r${i.reg} = ${ext(v)};`);
  } else if (i.imm2 === 1) {
    e.emit(e.loadHit(e.ea(i), 1, `r${i.reg} = ${ext('mem[a]')};`));
  } else {
    e.emit(e.loadHit(e.ea(i), 2, `r${i.reg} = ${ext('mem[a] | (mem[a + 1] << 8)')};`));
  }
  e.setDirty(i.reg);
  return true;
});
for (const h of [A.opMovzx16M32, A.opMovsx16M32, A.opMovsx8M32]) templates.set(h, templates.get(A.opMovx) as Template);
// opMovzx8R32 / opMovzx8M32
templates.set(A.opMovzx8R32, (e, i) => {
  e.emit(`r${i.reg} = ${e.get8(i.rm)};`);
  e.setDirty(i.reg);
  return true;
});
templates.set(A.opMovzx8M32, (e, i) => {
  e.emit(e.loadHit(e.ea(i), 1, `r${i.reg} = mem[a];`));
  e.setDirty(i.reg);
  return true;
});

// exec-data.ts
templates.set(D.opNop, () => true);
templates.set(D.opMov32RR, (e, i) => {
  e.emit(`r${i.rm} = r${i.reg};`);
  e.setDirty(i.rm);
  return true;
});
templates.set(D.opMov32RI, (e, i) => {
  e.emit(`r${i.rm} = ${imm(i)};`);
  e.setDirty(i.rm);
  return true;
});
templates.set(D.opMov32GM, (e, i) => {
  e.emit(e.loadHit(e.ea(i), 4, `r${i.reg} = ${LOAD32};`));
  e.setDirty(i.reg);
  return true;
});
templates.set(D.opMov32MG, (e, i) => {
  e.emit(e.storeHit(e.ea(i), 4, store32('a', `r${i.reg}`)));
  return true;
});
templates.set(D.opMov32MI, (e, i) => {
  e.emit(e.storeHit(e.ea(i), 4, store32('a', imm(i))));
  return true;
});
templates.set(D.opMov8MG, (e, i) => {
  e.emit(e.storeHit(e.ea(i), 1, `mem[a] = ${e.get8(i.reg)};`));
  return true;
});
templates.set(D.opMov8GM, (e, i) => {
  const set = e.set8(i.reg, 'mem[a]');
  e.emit(e.loadHit(e.ea(i), 1, set));
  return true;
});
templates.set(D.opMov8RR, (e, i) => {
  e.emit(e.set8(i.rm, e.get8(i.reg)));
  return true;
});
function movEG8(e: BlockEmitter, i: Insn): boolean {
  if (i.osz !== 1 || i.mem) return false;
  e.emit(e.set8(i.rm, e.get8(i.reg)));
  return true;
}
function movEI8(e: BlockEmitter, i: Insn): boolean {
  if (i.osz !== 1 || i.mem) return false;
  e.emit(e.set8(i.rm, String(i.imm & 255)));
  return true;
}
templates.set(D.opLea32, (e, i) => {
  e.emit(`r${i.reg} = ${e.ea(i)};`);
  e.setDirty(i.reg);
  return true;
});
templates.set(D.opLea, (e, i) => {
  if (i.osz !== 4) return false;
  e.emit(`r${i.reg} = ${e.ea(i)};`);
  e.setDirty(i.reg);
  return true;
});
// opPush32R / opPop32R: ESP is committed after the access (a fault leaves it unchanged)
templates.set(D.opPush32R, (e, i) => {
  e.emit(e.storeHit('((r4 - 4) | 0)', 4, `${store32('a', `r${i.reg}`)} r4 = l;`));
  e.setDirty(4);
  return true;
});
templates.set(D.opPop32R, (e, i) => {
  e.emit(e.loadHit('r4', 4, `const v = ${LOAD32}; r4 = (l + 4) | 0; r${i.reg} = v;`));
  e.setDirty(4);
  e.setDirty(i.reg);
  return true;
});

// 16-bit MOV (opMovEG, opMovGE, opMovEI at osz 2: setReg's low-word merge, rd16/wr16)
const set16 = (n: number, v: string): string => `r${n} = (r${n} & -65536) | ((${v}) & 65535);`;
templates.set(D.opMovEG, (e, i) => (i.osz === 2 ? mov16(e, i, `r${i.reg}`) : movEG8(e, i)));
templates.set(D.opMovEI, (e, i) => (i.osz === 2 ? mov16(e, i, String(i.imm & 65535)) : movEI8(e, i)));
function mov16(e: BlockEmitter, i: Insn, v: string): boolean {
  if (!i.mem) {
    e.emit(set16(i.rm, v));
    e.setDirty(i.rm);
  } else e.emit(e.storeHit(e.ea(i), 2, `const w = ${v}; mem[a] = w; mem[a + 1] = w >>> 8;`));
  return true;
}
templates.set(D.opMovGE, (e, i) => {
  if (i.osz !== 2) return false;
  if (!i.mem) e.emit(set16(i.reg, `r${i.rm}`));
  else e.emit(e.loadHit(e.ea(i), 2, set16(i.reg, 'mem[a] | (mem[a + 1] << 8)')));
  e.setDirty(i.reg);
  return true;
});
// opCmov at 32 bits: the source is read whatever the condition (readE), then moved if it holds
templates.set(A.opCmov, (e, i) => {
  if (i.osz !== 4) return false;
  const c = e.cond(i.op);
  if (!i.mem) e.emit(`if (${c}) r${i.reg} = r${i.rm};`);
  else e.emit(e.loadHit(e.ea(i), 4, `const v = ${LOAD32}; if (${c}) r${i.reg} = v;`));
  e.setDirty(i.reg);
  return true;
});
// opNeg at 32 bits on a register: 0 - v with SUB's flags (fa 0, fb v)
templates.set(A.opNeg, (e, i) => {
  if (i.osz !== 4 || i.mem) return false;
  e.emit(`{ const x = r${i.rm}, z = (0 - x) | 0; fop = 2; fa = 0; fb = x; fres = z; fsz = 2; r${i.rm} = z; }`);
  e.produce(F_SUB, 2);
  e.setDirty(i.rm);
  return true;
});
// opMul / opImul1 at 32 bits: EDX:EAX = EAX * E through the handlers' own mulU32/mulS32
// (which also leave c.mulHi as the handler does); CF = OF = the high half is needed
function mul1(e: BlockEmitter, i: Insn, signed: boolean): boolean {
  if (i.osz !== 4) return false;
  const f = signed ? 'c.mulHi !== lo >> 31' : 'c.mulHi !== 0';
  const body = (v: string): string =>
    `const lo = ${signed ? 'MULS' : 'MULU'}(c, r0, ${v}); r0 = lo; r2 = c.mulHi; const x = ${f} ? 1 : 0; fop = 6; fres = lo; fsz = 2; fcf = x; fof = x; faf = 0;`;
  if (!i.mem) e.emit(`{ ${body(`r${i.rm}`)} }`);
  else e.emit(e.loadHit(e.ea(i), 4, body(LOAD32)));
  e.produce(F_RES, 2);
  e.setDirty(0);
  e.setDirty(2);
  return true;
}
templates.set(A.opMul, (e, i) => mul1(e, i, false));
templates.set(A.opImul1, (e, i) => mul1(e, i, true));

// exec-branch.ts: near branches with a 32-bit operand size (block terminators; beip is the
// block's linear address, as c.beip)
templates.set(B.opJmp, (e, i) => {
  if (i.osz !== 4) return false;
  e.emit(`ne = (beip + ${i.next + i.imm}) | 0;`);
  return true;
});
const jcc = (e: BlockEmitter, i: Insn, cc: number): boolean => {
  if (i.osz !== 4) return false;
  let t: string;
  if ((cc === 4 || cc === 5) && e.known === null) {
    // opJz / opJnz read ZF from fres unless the flags are explicit
    t = `(fop !== 7 ? fres === 0 : (c.fexp & 64) !== 0)`;
    if (cc === 5) t = `!${t}`;
  } else t = e.cond(cc);
  e.emit(`if (${t}) ne = (beip + ${i.next + i.imm}) | 0;`);
  return true;
};
templates.set(B.opJcc, (e, i) => jcc(e, i, i.op));
templates.set(B.opJz, (e, i) => jcc(e, i, 4));
templates.set(B.opJnz, (e, i) => jcc(e, i, 5));
for (const [h, cc] of [[B.opJb, 2], [B.opJae, 3], [B.opJbe, 6], [B.opJa, 7], [B.opJl, 12], [B.opJge, 13], [B.opJle, 14], [B.opJg, 15]] as const) {
  templates.set(h, (e, i) => jcc(e, i, cc));
}
templates.set(B.opCall, (e, i) => {
  if (i.osz !== 4) return false;
  e.emit(
    e.storeHit(
      '((r4 - 4) | 0)',
      4,
      `const nx = (beip + ${i.next}) | 0; ${store32('a', 'nx')} r4 = l; ne = (nx + ${i.imm | 0}) | 0;`,
    ),
  );
  e.setDirty(4);
  return true;
});
// opJmpE / opCallE at 32 bits: the target from a register or memory (readE). CALL's read and
// its push are tested together before either happens, so a miss of either leaves the whole
// instruction to the handler, which makes both accesses in order (and counts their hits).
templates.set(B.opJmpE, (e, i) => {
  if (i.osz !== 4) return false;
  if (!i.mem) e.emit(`ne = r${i.rm};`);
  else e.emit(e.loadHit(e.ea(i), 4, `ne = ${LOAD32};`));
  return true;
});
templates.set(B.opCallE, (e, i) => {
  if (i.osz !== 4) return false;
  const push = `const nx = (beip + ${i.next}) | 0; ${store32('a', 'nx')} r4 = l;`;
  if (!i.mem) {
    e.emit(e.storeHit('((r4 - 4) | 0)', 4, `const tg = r${i.rm}; ${push} ne = tg;`));
  } else {
    // both tests first, then the read (one hit) and the push (one hit)
    e.emit(
      `{ const m = ${e.ea(i)}, mp = m >>> 12, mt = mp & ${TLB_MASK}, l = (r4 - 4) | 0, vp = l >>> 12, t = vp & ${TLB_MASK}; ` +
        `if (${hitCond('rtag', 'mt', 'mp', 'm', 4)} && ${hitCond('wtag', 't', 'vp', 'l', 4)}) { hits += 2; ` +
        `const b = (tlbOff[mt] + (m & 4095)) >>> 0, tg = ${load32('b')}; const a = (tlbOff[t] + (l & 4095)) >>> 0; ${push} ne = tg; } else ${e.callText()} }`,
    );
  }
  e.setDirty(4);
  return true;
});
templates.set(B.opRet, (e, i) => {
  if (i.osz !== 4) return false;
  e.emit(e.loadHit('r4', 4, `const v = ${LOAD32}; r4 = (l + ${4 + i.imm}) | 0; ne = v;`));
  e.setDirty(4);
  return true;
});

/** Whether compiled code states handler h inline (for some operand forms) rather than calling it. */
export function hasTemplate(h: Handler): boolean {
  return templates.has(h);
}
