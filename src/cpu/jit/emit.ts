// JavaScript text for one decoded instruction inside a compiled region (compile.ts). Most
// instructions are a direct call of their interpreter handler (`h7(c, i7)`: a monomorphic call
// V8 can inline). A few of the most frequent simple forms are written out with the instruction's
// operands as constants; each such template states exactly its handler's effect (the handler
// named beside it), and the differential tests (test/cpu/jit*.test.ts) run every guest, the
// fuzzer's streams and random programs with and without them. No template exists for an
// instruction that can fault, store or transfer control in a way the handler decides at run time.

import * as A from '../exec-alu.js';
import * as B from '../exec-branch.js';
import * as D from '../exec-data.js';
import { cond, getCF } from '../flags.js';
import type { Handler, Insn } from '../insn.js';

/** Names the emitted text may use besides c, r, i<n>, h<n>, and their values. */
export const EMIT_SCOPE_NAMES = ['cond', 'getCF'];
export const EMIT_SCOPE_VALUES: unknown[] = [cond, getCF];

export interface Emitted {
  code: string;
  /** Can throw (fault, MMU exit): the region records the instruction for its catch. */
  mayThrow: boolean;
  /** Can set blockBreak (a store into code, I/O, an event...): checked right after. */
  mayBreak: boolean;
}

const CALL: Emitted = { code: '', mayThrow: true, mayBreak: true };

function pure(code: string): Emitted {
  return { code, mayThrow: false, mayBreak: false };
}

/** Flags record of a 32-bit ADD/SUB (fop F_ADD 0 / F_SUB 2) as add32/sub32 in exec-alu.ts. */
function arith(fop: number, a: string, b: string, res: string): string {
  return `c.fop = ${fop}; c.fa = ${a}; c.fb = ${b}; c.fres = ${res}; c.fsz = 2;`;
}
/** Flags record of a 32-bit logic result (F_RES 6, CF = OF = AF = 0) as logic32/setRes. */
function logic(res: string): string {
  return `c.fop = 6; c.fres = ${res}; c.fsz = 2; c.fcf = 0; c.fof = 0; c.faf = 0;`;
}

type Template = (i: Insn) => Emitted;

const templates = new Map<Handler, Template>([
  // exec-data.ts
  [D.opMov32RR, (i) => pure(`r[${i.rm}] = r[${i.reg}];`)],
  [D.opMov32RI, (i) => pure(`r[${i.rm}] = ${i.imm | 0};`)],
  [D.opNop, () => pure('')],
  // exec-alu.ts: the per-operation 32-bit register forms
  [A.opAdd32RR, (i) => pure(`{ const a = r[${i.rm}], b = r[${i.reg}], x = (a + b) | 0; ${arith(0, 'a', 'b', 'x')} r[${i.rm}] = x; }`)],
  [A.opSub32RR, (i) => pure(`{ const a = r[${i.rm}], b = r[${i.reg}], x = (a - b) | 0; ${arith(2, 'a', 'b', 'x')} r[${i.rm}] = x; }`)],
  [A.opCmp32RR, (i) => pure(`{ const a = r[${i.rm}], b = r[${i.reg}]; ${arith(2, 'a', 'b', '(a - b) | 0')} }`)],
  [A.opAdd32RI, (i) => pure(`{ const a = r[${i.rm}], x = (a + ${i.imm | 0}) | 0; ${arith(0, 'a', String(i.imm), 'x')} r[${i.rm}] = x; }`)],
  [A.opSub32RI, (i) => pure(`{ const a = r[${i.rm}], x = (a - ${i.imm | 0}) | 0; ${arith(2, 'a', String(i.imm), 'x')} r[${i.rm}] = x; }`)],
  [A.opCmp32RI, (i) => pure(`{ const a = r[${i.rm}]; ${arith(2, 'a', String(i.imm), `(a - ${i.imm | 0}) | 0`)} }`)],
  [A.opAnd32RR, (i) => pure(`{ const x = r[${i.rm}] & r[${i.reg}]; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opOr32RR, (i) => pure(`{ const x = r[${i.rm}] | r[${i.reg}]; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opXor32RR, (i) => pure(`{ const x = r[${i.rm}] ^ r[${i.reg}]; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opAnd32RI, (i) => pure(`{ const x = r[${i.rm}] & ${i.imm | 0}; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opOr32RI, (i) => pure(`{ const x = r[${i.rm}] | ${i.imm | 0}; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opXor32RI, (i) => pure(`{ const x = r[${i.rm}] ^ ${i.imm | 0}; r[${i.rm}] = x; ${logic('x')} }`)],
  [A.opTest32RR, (i) => pure(`{ const x = r[${i.rm}] & r[${i.reg}]; ${logic('x')} }`)],
  [A.opTest32RI, (i) => pure(`{ const x = r[${i.rm}] & ${i.imm | 0}; ${logic('x')} }`)],
  [A.opInc32R, (i) => pure(`{ const a = r[${i.rm}], x = (a + 1) | 0; c.fcf = getCF(c); c.fop = 4; c.fa = a; c.fb = 1; c.fres = x; c.fsz = 2; r[${i.rm}] = x; }`)],
  [A.opDec32R, (i) => pure(`{ const a = r[${i.rm}], x = (a - 1) | 0; c.fcf = getCF(c); c.fop = 5; c.fa = a; c.fb = 1; c.fres = x; c.fsz = 2; r[${i.rm}] = x; }`)],
  [A.opMovzx8R32, (i) => pure(`r[${i.reg}] = ${i.rm < 4 ? `r[${i.rm}] & 255` : `(r[${i.rm - 4}] >> 8) & 255`};`)],
  // exec-branch.ts: near relative branches with a 32-bit operand size (block terminators)
  [B.opJmp, (i) => (i.osz === 4 ? pure(`c.eip = (c.beip + ${i.next + i.imm}) | 0;`) : CALL)],
  [B.opJcc, (i) => pure(`if (cond(c, ${i.op})) c.eip = (c.beip + ${i.next + i.imm}) | 0;`)],
  [B.opJz, (i) => pure(`if (c.fop !== 7 ? c.fres === 0 : (c.fexp & 64) !== 0) c.eip = (c.beip + ${i.next + i.imm}) | 0;`)],
  [B.opJnz, (i) => pure(`if (c.fop !== 7 ? c.fres !== 0 : (c.fexp & 64) === 0) c.eip = (c.beip + ${i.next + i.imm}) | 0;`)],
]);

/** The text for instruction `ins`, the n-th of its region (h<n>/i<n> name its handler/record). */
export function emitInsn(ins: Insn, n: number): Emitted {
  const t = templates.get(ins.fn);
  if (t !== undefined) {
    const e = t(ins);
    if (e !== CALL) return e;
  }
  return { code: `h${n}(c, i${n});`, mayThrow: true, mayBreak: true };
}
