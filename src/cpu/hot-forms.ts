// The instruction forms the interpreter calls directly. Cpu.execBlocks dispatches on Insn.hid:
// a switch whose cases name these handlers, one call site each, so V8 calls them without its
// generic call path (the Call and CallFunction builtins took 19% of the interpreter's time behind
// one `ins.fn(c, ins)` seen with hundreds of targets) and inlines the small ones into the loop.
// Every other form (hid 0) is called through ins.fn. Blink's and Bochs's interpreters keep the
// same split between a few specialised hot forms and generic handlers for the rest.
//
// The list is what gcc-built code runs most: the dynamic counts of cpubench and intbench, where
// these forms are 97% of the instructions retired. Order matters only to the switch in cpu.ts,
// whose case k calls HOT_FORMS[k - 1] (test/cpu/hot-forms.test.ts holds the two together).

import * as A from './exec-alu.js';
import * as B from './exec-branch.js';
import * as D from './exec-data.js';
import type { Handler } from './insn.js';

export const HOT_FORMS: readonly Handler[] = [
  // data movement
  D.opMov32GM, D.opMov32MG, D.opMov32RR, D.opMov32RI, D.opMov8RR, D.opMov8MG, D.opMovEG, D.opLea32, D.opPush32R, D.opPop32R,
  A.opMovsx16M32, A.opMovzx16R32, A.opMovzx8M32, A.opMovzx8R32,
  // arithmetic and logic
  A.opAdd32RR, A.opAdd32RI, A.opAdd32MG, A.opAdd32MI, A.opSub32RR, A.opSub32RI, A.opCmp32RR, A.opCmp32RI, A.opCmp32MG,
  A.opAnd32RI, A.opXor32RR, A.opXor32RI, A.opXor32GM, A.opTest32RR, A.opInc32R, A.opDec32R, A.opIncDec32M, A.opNeg,
  A.opAlu8RR, A.opAlu8RI, A.opTest8RR, A.opCmp8MG, A.opCmp8MI,
  A.opShl32RI, A.opShr32RI, A.opSar32RI, A.opShift, A.opImul32GE, A.opImulGEI, A.opMul, A.opSetccR,
  // control transfer
  B.opJz, B.opJnz, B.opJb, B.opJae, B.opJbe, B.opJa, B.opJl, B.opJge, B.opJle, B.opJg,
  B.opJmp, B.opJmpE, B.opCall, B.opCallE, B.opRet,
];

const ids = new Map<Handler, number>(HOT_FORMS.map((h, k) => [h, k + 1]));

/** Insn.hid for a handler: its case in the dispatch switch, or 0 (called through Insn.fn). */
export function hotId(h: Handler): number {
  return ids.get(h) ?? 0;
}
