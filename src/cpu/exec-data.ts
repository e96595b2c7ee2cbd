// Data movement handlers: MOV forms, LEA, XCHG, PUSH/POP (incl. PUSHA/POPA), ENTER/LEAVE.
// Stack instructions commit ESP only after their memory access succeeded, so a faulting (or
// exiting) access leaves the registers as they were and the instruction restarts cleanly.

import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { ea, getReg, getReg8, readE, readForWrite, setReg, setReg8, writeE } from './operands.js';

export function opNop(_c: Cpu, _i: Insn): void {}

/** MOV E, G (88 89). */
export function opMovEG(c: Cpu, i: Insn): void {
  writeE(c, i, getReg(c, i.osz, i.reg));
}
/** MOV G, E (8A 8B). */
export function opMovGE(c: Cpu, i: Insn): void {
  setReg(c, i.osz, i.reg, readE(c, i));
}
/** MOV E, imm (C6 C7) and MOV reg, imm (B0-BF with rm = reg). */
export function opMovEI(c: Cpu, i: Insn): void {
  writeE(c, i, i.imm);
}
export function opMov32RR(c: Cpu, i: Insn): void {
  c.r[i.rm] = c.r[i.reg];
}
export function opMov32RI(c: Cpu, i: Insn): void {
  c.r[i.rm] = i.imm;
}
export function opMov32GM(c: Cpu, i: Insn): void {
  c.r[i.reg] = c.rd32(ea(c, i));
}
export function opMov32MG(c: Cpu, i: Insn): void {
  c.wr32(ea(c, i), c.r[i.reg]);
}
export function opMov32MI(c: Cpu, i: Insn): void {
  c.wr32(ea(c, i), i.imm);
}

/** MOV r8, r8 (88 mod = 3; 8A with reg and rm swapped): opMovEG's 8-bit register form. */
export function opMov8RR(c: Cpu, i: Insn): void {
  setReg8(c, i.rm, getReg8(c, i.reg));
}

export function opMov8MG(c: Cpu, i: Insn): void {
  const n = i.reg;
  c.wr8(ea(c, i), n < 4 ? c.r[n] : c.r[n - 4] >> 8);
}
export function opMov8GM(c: Cpu, i: Insn): void {
  setReg8(c, i.reg, c.rd8(ea(c, i)));
}

/** MOV AL/eAX, moffs (A0 A1) and MOV moffs, AL/eAX (A2 A3): i.op 0 = load. */
export function opMovMoffs(c: Cpu, i: Insn): void {
  if (i.op === 0) setReg(c, i.osz, 0, c.rd(i.osz, i.disp));
  else c.wr(i.osz, i.disp, getReg(c, i.osz, 0));
}

export function opLea(c: Cpu, i: Insn): void {
  setReg(c, i.osz, i.reg, ea(c, i));
}
/** LEA r32 (8D at a 32-bit operand size): opLea without the size choice. */
export function opLea32(c: Cpu, i: Insn): void {
  c.r[i.reg] = ea(c, i);
}

/** XCHG E, G (86 87) and XCHG eAX, reg (91-97). */
export function opXchg(c: Cpu, i: Insn): void {
  const s = i.osz;
  const g = getReg(c, s, i.reg);
  if (i.mem) {
    const a = ea(c, i);
    const v = readForWrite(c, s, a);
    c.wr(s, a, g);
    setReg(c, s, i.reg, v);
  } else {
    const v = getReg(c, s, i.rm);
    setReg(c, s, i.rm, g);
    setReg(c, s, i.reg, v);
  }
}

export function opPush32R(c: Cpu, i: Insn): void {
  const sp = (c.r[4] - 4) | 0;
  c.wr32(sp, c.r[i.reg]);
  c.r[4] = sp;
}

export function opPop32R(c: Cpu, i: Insn): void {
  const sp = c.r[4];
  const v = c.rd32(sp);
  c.r[4] = (sp + 4) | 0;
  c.r[i.reg] = v;
}

/** PUSH reg/imm/E at operand size 2 or 4 (i.op: 0 = register i.reg, 1 = imm, 2 = E). */
export function opPush(c: Cpu, i: Insn): void {
  const s = i.osz;
  const v = i.op === 0 ? getReg(c, s, i.reg) : i.op === 1 ? i.imm : readE(c, i);
  const sp = (c.r[4] - s) | 0;
  c.wr(s, sp, v);
  c.r[4] = sp;
}

/** POP reg (i.op 0) or POP E (8F, i.op 2). ESP is incremented before a memory E is computed. */
export function opPop(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sp = c.r[4];
  const v = c.rd(s, sp);
  if (i.op === 0) {
    c.r[4] = (sp + s) | 0;
    setReg(c, s, i.reg, v);
  } else if (i.mem) {
    c.r[4] = (sp + s) | 0;
    try {
      c.wr(s, ea(c, i), v);
    } catch (x) {
      c.r[4] = sp;
      throw x;
    }
  } else {
    c.r[4] = (sp + s) | 0;
    setReg(c, s, i.rm, v);
  }
}

/**
 * PUSHA and POPA go through the eight slots as QEMU does (GUEST-ABI: QEMU is the oracle; the SDM
 * does not fix an order): from the lowest address up, one access per slot, and ESP moves only
 * once all are done. A fault part-way therefore leaves the slots below it written (PUSHA), or
 * the registers loaded from them (POPA), with CR2 naming the first slot that faulted; ESP is
 * unchanged, so the instruction restarts cleanly. POPA skips the saved-ESP slot without reading
 * it. pgmap's ring 3 rows compare this with QEMU on a stack that runs into a faulting page.
 */
export function opPusha(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sp = c.r[4];
  for (let k = 0; k < 8; k++) c.wr(s, (sp - (8 - k) * s) | 0, getReg(c, s, 7 - k));
  c.r[4] = (sp - 8 * s) | 0;
}

export function opPopa(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sp = c.r[4];
  for (let k = 0; k < 8; k++) {
    if (k !== 3) setReg(c, s, 7 - k, c.rd(s, (sp + k * s) | 0));
  }
  c.r[4] = (sp + 8 * s) | 0;
}

/** ENTER imm16, imm8 (C8). */
export function opEnter(c: Cpu, i: Insn): void {
  const s = i.osz;
  const size = i.imm & 0xffff;
  const level = i.imm2 & 31;
  const r = c.r;
  let sp = r[4];
  const bp = r[5];
  sp = (sp - s) | 0;
  c.wr(s, sp, getReg(c, s, 5));
  const frame = sp;
  if (level > 0) {
    let b = bp;
    for (let k = 1; k < level; k++) {
      b = (b - s) | 0;
      sp = (sp - s) | 0;
      c.wr(s, sp, c.rd(s, b));
    }
    sp = (sp - s) | 0;
    c.wr(s, sp, frame);
  }
  if (s === 4) r[5] = frame;
  else setReg(c, 2, 5, frame);
  r[4] = (sp - size) | 0;
}

/** LEAVE (C9). */
export function opLeave(c: Cpu, i: Insn): void {
  const s = i.osz;
  const bp = c.r[5];
  const v = c.rd(s, bp);
  c.r[4] = (bp + s) | 0;
  setReg(c, s, 5, v);
}
