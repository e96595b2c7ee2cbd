// Oracle test: every 8/16/32-bit ALU, shift, multiply, divide and bit instruction in the fixture
// (register and memory-operand forms)
// is executed by the Cpu from the same bytes, with the same registers and input flags, and must
// give the registers and flags the host processor gave (flags the SDM leaves undefined masked).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODE, load, makeMachine, r32, w32 } from './harness.js';

const MEM = 0x200000;

interface Variant {
  name: string;
  size: number;
  att: string;
  bytes: number[];
  cases: number[][];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/flags-oracle.json', import.meta.url), 'utf8')) as {
  variants: Variant[];
};

const CF = 1;
const PF = 4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const OF = 0x800;
const ALL = CF | PF | AF | ZF | SF | OF;

/** Flags the SDM leaves undefined for this case; `null` when the whole result is undefined. */
function undefinedFlags(v: Variant, c: number[]): number | null {
  const bits = v.size * 8;
  const n = c[1] & 31;
  switch (v.name.split('-')[0]) {
    case 'and':
    case 'or':
    case 'xor':
    case 'test':
      return AF;
    case 'shl':
    case 'shr':
    case 'sar':
      if (n === 0) return 0;
      return AF | (n !== 1 ? OF : 0) | (n >= bits && v.name !== 'sar' ? CF : 0);
    case 'rol':
    case 'ror':
    case 'rcl':
    case 'rcr':
      return n === 1 || n === 0 ? 0 : OF;
    case 'shld':
    case 'shrd':
      if (n === 0) return 0;
      if (n > bits) return null;
      return AF | (n !== 1 ? OF : 0);
    case 'mul':
    case 'imul1':
    case 'imul2':
      return SF | ZF | AF | PF;
    case 'div':
    case 'idiv':
      return ALL;
    case 'bsf':
    case 'bsr':
      return CF | OF | SF | AF | PF;
    case 'bt':
    case 'bts':
    case 'btr':
    case 'btc':
      return OF | SF | AF | PF;
    default:
      return 0;
  }
}

describe('flags oracle (host x86 results)', () => {
  const m = makeMachine();
  const cpu = m.cpu;
  // Each variant's bytes at its own address, so decoded blocks never need invalidation.
  fixture.variants.forEach((v, k) => load(m, CODE + k * 16, v.bytes));

  for (const [k, v] of fixture.variants.entries()) {
    it(`${v.att} (${v.size * 8}-bit, ${v.cases.length} cases)`, () => {
      expect(v.cases.length).toBeGreaterThan(0);
      let checked = 0;
      for (const c of v.cases) {
        const [a, ecx, edx, fin, ra, rc, rd, fout, mem, memOut] = c;
        const und = undefinedFlags(v, [a, ecx]);
        if (und === null) continue;
        cpu.regs[0] = a;
        cpu.regs[1] = ecx;
        cpu.regs[2] = edx;
        cpu.regs[3] = MEM;
        w32(m, MEM, mem);
        cpu.setEflags(fin);
        cpu.eip = CODE + k * 16;
        cpu.run(1);
        const srcZero = (v.name === 'bsf' || v.name === 'bsr') && (ecx & ((1 << (v.size * 8)) - 1 || -1)) === 0;
        const got = {
          eax: srcZero ? ra : cpu.regs[0] >>> 0,
          ecx: cpu.regs[1] >>> 0,
          edx: cpu.regs[2] >>> 0,
          flags: cpu.getEflags() & ALL & ~und,
          eip: cpu.eip >>> 0,
          mem: r32(m, MEM),
        };
        const want = {
          eax: ra,
          ecx: rc,
          edx: rd,
          flags: fout & ~und,
          eip: (CODE + k * 16 + v.bytes.length) >>> 0,
          mem: memOut,
        };
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          expect({ input: { eax: a, ecx, edx, flags: fin }, ...got }).toEqual({ input: { eax: a, ecx, edx, flags: fin }, ...want });
        }
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});
