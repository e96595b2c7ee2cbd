// The interpreter's dispatch switch (Cpu.execBlocks) against its list (src/cpu/hot-forms.ts):
// case k must call HOT_FORMS[k - 1], and a case that skips the blockBreak check (`continue`)
// must name a handler that cannot need it. Both are facts about source text that no guest run
// would reliably show (a swapped pair of rare forms, a store that misses the check after SMC),
// so they are checked here directly: the switch is read from cpu.ts, and every register form of
// each `continue` handler the decoder produces is run on random state.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOT_FORMS, hotId } from '../../src/cpu/hot-forms.js';
import { type Handler, Insn } from '../../src/cpu/insn.js';
import { decodeInsn, opUD } from '../../src/cpu/decode.js';
import { CODE, makeMachine } from './harness.js';

const src = readFileSync(new URL('../../src/cpu/cpu.ts', import.meta.url), 'utf8');
const cases = [...src.matchAll(/case (\d+): (?:[ABD]\.)?(\w+)\(this, ins\); (break|i\+\+; continue);/g)].map((m) => ({ k: Number(m[1]), name: m[2]!, skips: m[3] !== 'break' }));

describe('interpreter dispatch switch', () => {
  it('case k calls HOT_FORMS[k - 1], every form has its case, the rest go through ins.fn', () => {
    expect(cases.length).toBe(HOT_FORMS.length);
    for (const c of cases) expect(HOT_FORMS[c.k - 1]?.name, `case ${c.k}`).toBe(c.name);
    expect(src).toMatch(/default: ins\.fn\(this, ins\);/);
    expect(new Set(HOT_FORMS).size).toBe(HOT_FORMS.length);
    HOT_FORMS.forEach((h, k) => expect(hotId(h)).toBe(k + 1));
    expect(hotId(opUD)).toBe(0);
  });

  it('a form that skips the blockBreak check touches registers and flags only', () => {
    const skipping = new Set(cases.filter((c) => c.skips).map((c) => HOT_FORMS[c.k - 1]!));
    expect(skipping.size).toBeGreaterThan(10);
    // Every ModRM byte of every one-byte and 0F opcode (register forms, and LEA's memory form).
    const found = new Map<Handler, Insn[]>();
    const bytes = new Uint8Array(16);
    for (const esc of [false, true]) {
      for (let op = 0; op < 256; op++) {
        for (let modrm = 0; modrm < 0x100; modrm++) {
          bytes.fill(0x5a);
          let p = 0;
          if (esc) bytes[p++] = 0x0f;
          bytes[p++] = op;
          bytes[p++] = modrm;
          const ins = new Insn(opUD);
          if (decodeInsn(ins, bytes, 0, bytes.length) < 0 || !skipping.has(ins.fn)) continue;
          const list = found.get(ins.fn) ?? [];
          if (list.length < 16) list.push(ins);
          found.set(ins.fn, list);
        }
      }
    }
    expect([...skipping].filter((h) => !found.has(h)).map((h) => h.name)).toEqual([]);
    const { cpu, mem } = makeMachine(1 << 20);
    mem.fill(0xa5);
    let seed = 0x2545f491;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
    for (const [h, list] of found) {
      for (const ins of list) {
        for (let t = 0; t < 8; t++) {
          for (let n = 0; n < 8; n++) cpu.r[n] = rnd();
          cpu.regs[4] = 0x80000;
          cpu.fop = 6;
          cpu.fres = rnd();
          cpu.fcf = rnd() & 1;
          cpu.beip = CODE;
          cpu.eip = NaN;
          cpu.blockBreak = false;
          const hits = cpu.hits;
          h(cpu, ins);
          expect(cpu.blockBreak, h.name).toBe(false);
          expect(cpu.eip, h.name).toBeNaN();
          expect(cpu.hits, h.name).toBe(hits);
        }
      }
    }
    expect(mem.every((b) => b === 0xa5)).toBe(true);
  });
});
