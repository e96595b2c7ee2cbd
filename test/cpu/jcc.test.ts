// Every condition code against an independent statement of the SDM's flag rules: for operand
// pairs around the sign and carry boundaries, a flag producer (CMP, SUB, ADD, TEST, AND, 8-bit
// CMP, DEC, SAHF: each kind of lazy-flag record) is followed by SETcc r8 and a Jcc, short and
// near. The decoder gives most conditions a handler of their own (opJl, opJb...) and cond()
// answers them from the producer's operands; the expected outcome here comes from the flags
// computed the textbook way, so a wrong relation in either is caught.

import { describe, expect, it } from 'vitest';
import { CODE, load, makeMachine, runToStop } from './harness.js';

const VALUES = [0, 1, 2, -1, -2, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000 | 0, 0x80000001 | 0];

interface Flags {
  cf: boolean;
  zf: boolean;
  sf: boolean;
  of: boolean;
  pf: boolean;
}

function parity(v: number): boolean {
  let n = 0;
  for (let k = 0; k < 8; k++) n += (v >> k) & 1;
  return n % 2 === 0;
}

/** The SDM's definition of each condition code. */
function holds(cc: number, f: Flags): boolean {
  const t = [f.of, f.cf, f.zf, f.cf || f.zf, f.sf, f.pf, f.sf !== f.of, f.zf || f.sf !== f.of][cc >> 1];
  return (cc & 1) === 0 ? t : !t;
}

function flags32(r: number, cf: boolean, of: boolean): Flags {
  return { cf, of, zf: (r | 0) === 0, sf: (r | 0) < 0, pf: parity(r & 0xff) };
}

interface Producer {
  name: string;
  /** Bytes placed after `mov eax, a; mov ebx, b` (may read AL/BL, EAX/EBX). */
  code: number[];
  flags(a: number, b: number): Flags;
}

const u = (v: number): number => v >>> 0;

const PRODUCERS: Producer[] = [
  {
    name: 'cmp eax, ebx',
    code: [0x39, 0xd8],
    flags: (a, b) => {
      const r = (a - b) | 0;
      return flags32(r, u(a) < u(b), ((a ^ b) & (a ^ r)) < 0);
    },
  },
  {
    name: 'sub eax, ebx',
    code: [0x29, 0xd8],
    flags: (a, b) => {
      const r = (a - b) | 0;
      return flags32(r, u(a) < u(b), ((a ^ b) & (a ^ r)) < 0);
    },
  },
  {
    name: 'add eax, ebx',
    code: [0x01, 0xd8],
    flags: (a, b) => {
      const r = (a + b) | 0;
      return flags32(r, u(a) + u(b) > 0xffffffff, ((a ^ r) & (b ^ r)) < 0);
    },
  },
  { name: 'test eax, ebx', code: [0x85, 0xd8], flags: (a, b) => flags32(a & b, false, false) },
  { name: 'and eax, ebx', code: [0x21, 0xd8], flags: (a, b) => flags32(a & b, false, false) },
  {
    name: 'cmp al, bl',
    code: [0x38, 0xd8],
    flags: (a, b) => {
      const x = a & 0xff;
      const y = b & 0xff;
      const r = (x - y) & 0xff;
      return { cf: x < y, zf: r === 0, sf: r >= 0x80, of: ((x ^ y) & (x ^ r) & 0x80) !== 0, pf: parity(r) };
    },
  },
  {
    name: 'stc; dec eax',
    code: [0xf9, 0x48],
    flags: (a) => flags32((a - 1) | 0, true, a === (0x80000000 | 0)),
  },
  {
    name: 'xor ecx, ecx; mov ah, bl; sahf',
    code: [0x31, 0xc9, 0x88, 0xdc, 0x9e],
    flags: (_a, b) => ({ cf: (b & 1) !== 0, pf: (b & 4) !== 0, zf: (b & 0x40) !== 0, sf: (b & 0x80) !== 0, of: false }),
  },
];

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** mov eax, a; mov ebx, b; mov edx, 1; <producer>; setcc cl; jcc over; mov edx, 0; over: out 0xf4, al */
function snippet(p: Producer, a: number, b: number, cc: number, near: boolean): number[] {
  const jcc = near ? [0x0f, 0x80 + cc, 5, 0, 0, 0] : [0x70 + cc, 5];
  return [0xb8, ...imm32(a), 0xbb, ...imm32(b), 0xba, 1, 0, 0, 0, ...p.code, 0x0f, 0x90 + cc, 0xc1, ...jcc, 0xba, 0, 0, 0, 0, 0xe6, 0xf4];
}

describe('condition codes', () => {
  it('SETcc and Jcc (short and near) agree with the SDM after every kind of flag producer', () => {
    const m = makeMachine(16 << 20);
    let at = CODE;
    let checked = 0;
    const wrong: string[] = [];
    for (const p of PRODUCERS) {
      for (const a of VALUES) {
        for (const b of VALUES) {
          const want = p.flags(a, b);
          for (let cc = 0; cc < 16; cc++) {
            for (const near of [false, true]) {
              const code = snippet(p, a, b, cc, near);
              load(m, at, code);
              m.cpu.eip = at;
              at += code.length;
              runToStop(m, 100);
              const taken = m.cpu.regs[2] === 1;
              const set = (m.cpu.regs[1] & 0xff) === 1;
              const expect = holds(cc, want);
              if (taken !== expect || set !== expect) {
                wrong.push(`${p.name} a=${a} b=${b} cc=${cc} near=${near}: jcc ${taken} setcc ${set}, SDM ${expect}`);
              }
              checked++;
            }
          }
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(checked).toBe(PRODUCERS.length * VALUES.length * VALUES.length * 32);
  });
});
