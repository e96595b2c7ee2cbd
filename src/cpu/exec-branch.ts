// Control transfer handlers: Jcc, JMP, CALL, RET, LOOP/JECXZ and far transfers. Targets are
// computed from the block's linear address (c.beip) plus offsets, so a decoded block stays valid
// wherever its backing page is mapped. A handler that transfers control stores c.eip.

import type { Cpu } from './cpu.js';
import { F_EXPL, FL_ZF, cond } from './flags.js';
import type { Insn } from './insn.js';
import { ea, readE } from './operands.js';
import { farReturn, farTransfer } from './segments.js';

/** Address of the instruction after i. */
export function nextEip(c: Cpu, i: Insn): number {
  return (c.beip + i.next) | 0;
}

function target(c: Cpu, i: Insn, t: number): number {
  return i.osz === 2 ? t & 0xffff : t | 0;
}

/** Jcc with a 32-bit operand size; 16-bit forms go through opJccW (EIP truncated to 16 bits). */
export function opJcc(c: Cpu, i: Insn): void {
  if (cond(c, i.op)) c.eip = (c.beip + i.next + i.imm) | 0;
}

export function opJz(c: Cpu, i: Insn): void {
  if (c.fop !== F_EXPL ? c.fres === 0 : (c.fexp & FL_ZF) !== 0) c.eip = (c.beip + i.next + i.imm) | 0;
}

export function opJnz(c: Cpu, i: Insn): void {
  if (c.fop !== F_EXPL ? c.fres !== 0 : (c.fexp & FL_ZF) === 0) c.eip = (c.beip + i.next + i.imm) | 0;
}

// opJcc with its condition code fixed by the decoder for the conditions gcc uses in loops and
// comparisons: cond() with a constant code reduces to the one relation (e.g. fa < fb after CMP).
export function opJb(c: Cpu, i: Insn): void {
  if (cond(c, 2)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJae(c: Cpu, i: Insn): void {
  if (cond(c, 3)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJbe(c: Cpu, i: Insn): void {
  if (cond(c, 6)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJa(c: Cpu, i: Insn): void {
  if (cond(c, 7)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJl(c: Cpu, i: Insn): void {
  if (cond(c, 12)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJge(c: Cpu, i: Insn): void {
  if (cond(c, 13)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJle(c: Cpu, i: Insn): void {
  if (cond(c, 14)) c.eip = (c.beip + i.next + i.imm) | 0;
}
export function opJg(c: Cpu, i: Insn): void {
  if (cond(c, 15)) c.eip = (c.beip + i.next + i.imm) | 0;
}

export function opJccW(c: Cpu, i: Insn): void {
  if (cond(c, i.op)) c.eip = target(c, i, nextEip(c, i) + i.imm);
}

export function opJmp(c: Cpu, i: Insn): void {
  c.eip = target(c, i, nextEip(c, i) + i.imm);
}

/** JMP E (FF /4). */
export function opJmpE(c: Cpu, i: Insn): void {
  c.eip = readE(c, i);
}

export function opCall(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sp = (c.r[4] - s) | 0;
  const nx = nextEip(c, i);
  c.wr(s, sp, nx);
  c.r[4] = sp;
  c.eip = target(c, i, nx + i.imm);
}

/** CALL E (FF /2). */
export function opCallE(c: Cpu, i: Insn): void {
  const s = i.osz;
  const t = readE(c, i);
  const sp = (c.r[4] - s) | 0;
  c.wr(s, sp, nextEip(c, i));
  c.r[4] = sp;
  c.eip = t;
}

/** RET [imm16] (C3 C2). */
export function opRet(c: Cpu, i: Insn): void {
  const s = i.osz;
  const sp = c.r[4];
  const t = c.rd(s, sp);
  c.r[4] = (sp + s + i.imm) | 0;
  c.eip = t;
}

/** LOOP/LOOPE/LOOPNE (E2 E1 E0: i.op 0 1 2) and JECXZ (E3: i.op 3). The counter is ECX, or CX
 *  under an address-size prefix (i.amask 0xFFFF: the upper half of ECX is kept). */
export function opLoop(c: Cpu, i: Insn): void {
  const r = c.r;
  const m = i.amask;
  if (i.op === 3) {
    if ((r[1] & m) === 0) c.eip = target(c, i, nextEip(c, i) + i.imm);
    return;
  }
  const n = (r[1] - 1) & m;
  r[1] = (r[1] & ~m) | n;
  let t = n !== 0;
  if (i.op === 1) t = t && cond(c, 4);
  else if (i.op === 2) t = t && cond(c, 5);
  if (t) c.eip = target(c, i, nextEip(c, i) + i.imm);
}

/** JMP/CALL ptr16:32 (EA 9A): selector i.imm2, offset i.imm; i.op 1 = call. */
export function opFarDirect(c: Cpu, i: Insn): void {
  c.eip = nextEip(c, i);
  farTransfer(c, i.imm2, i.imm, i.op === 1, i.osz);
}

/** JMP/CALL m16:32 (FF /5 /3): i.op 1 = call. */
export function opFarIndirect(c: Cpu, i: Insn): void {
  c.eip = nextEip(c, i);
  const a = ea(c, i);
  const off = i.osz === 4 ? c.rd32(a) : c.rd16(a);
  const sel = c.rd16((a + i.osz) | 0);
  farTransfer(c, sel, off, i.op === 1, i.osz);
}

/** RETF [imm16] (CB CA). */
export function opRetf(c: Cpu, i: Insn): void {
  farReturn(c, i.imm, i.osz);
}
