// The compiler's coverage of the interpreter's handlers: every handler of the integer and branch
// groups is either stated inline by a template in src/cpu/jit/templates.ts (and, for the
// WebAssembly tier, in wasm-templates.ts) or named below as
// deliberately left to a handler call. A new handler (the decoder specialising a form for the
// interpreter's speed) fails this test until someone decides which it is; otherwise compiled code
// silently turns an instruction it used to inline into a call. (Whether a template is right is
// jit-random's and jit-diff's business.)

import { describe, expect, it } from 'vitest';
import * as A from '../../src/cpu/exec-alu.js';
import * as B from '../../src/cpu/exec-branch.js';
import * as D from '../../src/cpu/exec-data.js';
import * as G from '../../src/cpu/exec-legacy.js';
import * as S from '../../src/cpu/exec-string.js';
import * as Y from '../../src/cpu/exec-system.js';
import { hasTemplate } from '../../src/cpu/jit/templates.js';
import { hasWasmTemplate } from '../../src/cpu/jit/wasm-templates.js';

/** Handlers compiled code calls: system and string instructions, far branches, 16-bit forms,
 *  and integer instructions rare in compiled hot code or whose flags need the handler's
 *  arithmetic (ADC/SBB, divide, bit scans, rotates through CF...). */
const CALLED = new Set([
  // exec-alu.ts
  'opAaa', 'opAam', 'opBsf', 'opBswap', 'opBt', 'opCbw', 'opCmpxchg', 'opCmpxchg8b',
  'opCwd', 'opDaa', 'opDiv', 'opFlagOp', 'opIdiv', 'opImulGE', 'opLahf', 'opNot',
  'opSahf', 'opShiftD', 'opXadd', 'opXlat',
  // exec-branch.ts
  'opFarDirect', 'opFarIndirect', 'opJccW', 'opLoop', 'opRetf',
  // exec-data.ts
  'opEnter', 'opLeave', 'opMovMoffs', 'opPop', 'opPopa', 'opPush', 'opPusha', 'opXchg',
]);

describe('compiler coverage of the handlers', () => {
  it('every integer/branch handler is templated or deliberately called; every system and string one is called', () => {
    const unclassified: string[] = [];
    const both: string[] = [];
    for (const mod of [A, B, D]) {
      for (const [name, fn] of Object.entries(mod)) {
        if (!name.startsWith('op') || typeof fn !== 'function') continue;
        const t = hasTemplate(fn as Parameters<typeof hasTemplate>[0]);
        if (!t && !CALLED.has(name)) unclassified.push(name);
        if (t && CALLED.has(name)) both.push(name);
      }
    }
    expect(unclassified, 'handlers neither templated nor listed in CALLED').toEqual([]);
    expect(both, 'handlers listed in CALLED that have a template').toEqual([]);
    // String, system and legacy instructions stay with their handlers (I/O, faults, mode changes).
    for (const mod of [S, Y, G]) {
      for (const [name, fn] of Object.entries(mod)) {
        if (name.startsWith('op') && typeof fn === 'function') expect(hasTemplate(fn as Parameters<typeof hasTemplate>[0]), name).toBe(false);
      }
    }
  });

  // The WebAssembly tier compiles a block only if it states every instruction in it; a block
  // with one instruction only the JavaScript tier states runs there, several times slower. So a
  // handler with a JavaScript template needs a WebAssembly one too (or a reason listed here).
  it('every handler the JavaScript tier states, the WebAssembly tier states too', () => {
    const JS_ONLY = new Set<string>([]);
    const missing: string[] = [];
    for (const mod of [A, B, D]) {
      for (const [name, fn] of Object.entries(mod)) {
        if (!name.startsWith('op') || typeof fn !== 'function') continue;
        const h = fn as Parameters<typeof hasTemplate>[0];
        if (hasTemplate(h) && !hasWasmTemplate(h) && !JS_ONLY.has(name)) missing.push(name);
      }
    }
    expect(missing, 'handlers with a JavaScript template and no WebAssembly one').toEqual([]);
    for (const mod of [S, Y]) {
      for (const [name, fn] of Object.entries(mod)) {
        if (name.startsWith('op') && typeof fn === 'function') expect(hasWasmTemplate(fn as Parameters<typeof hasTemplate>[0]), name).toBe(false);
      }
    }
  });
});
