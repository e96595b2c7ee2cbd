// Operand access for decoded instructions: effective addresses, 8/16/32-bit register views and
// the ModRM "E" operand (register or memory). The x86 register-file layout (AL..BH aliasing) that
// every handler shares; no Linux counterpart.

import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { TLB_MASK } from './tlb.js';

/** Effective (= linear, segments being flat) address of a memory operand. */
export function ea(c: Cpu, i: Insn): number {
  const r = c.r;
  return (r[i.base] + (r[i.index] << i.scale) + i.disp) & i.amask;
}

/** 8-bit register n (AL CL DL BL AH CH DH BH), unsigned. */
export function getReg8(c: Cpu, n: number): number {
  return n < 4 ? c.r[n] & 0xff : (c.r[n - 4] >> 8) & 0xff;
}

export function setReg8(c: Cpu, n: number, v: number): void {
  const r = c.r;
  if (n < 4) r[n] = (r[n] & ~0xff) | (v & 0xff);
  else r[n - 4] = (r[n - 4] & ~0xff00) | ((v & 0xff) << 8);
}

/** Register n read at size sz bytes (8-bit: see getReg8). 8/16-bit values unsigned. */
export function getReg(c: Cpu, sz: number, n: number): number {
  if (sz === 4) return c.r[n];
  if (sz === 2) return c.r[n] & 0xffff;
  return getReg8(c, n);
}

export function setReg(c: Cpu, sz: number, n: number, v: number): void {
  const r = c.r;
  if (sz === 4) r[n] = v;
  else if (sz === 2) r[n] = (r[n] & ~0xffff) | (v & 0xffff);
  else setReg8(c, n, v);
}

/** The E operand at the instruction's operand size. */
export function readE(c: Cpu, i: Insn): number {
  return i.mem ? c.rd(i.osz, ea(c, i)) : getReg(c, i.osz, i.rm);
}

/** A selector E operand (MOV Sreg, LTR, LAR/LSL/VERR/VERW): a memory word, or a register's
 *  low 16 bits, whatever the operand size. */
export function readSelector(c: Cpu, i: Insn): number {
  return i.mem ? c.rd16(ea(c, i)) : c.r[i.rm] & 0xffff;
}

export function writeE(c: Cpu, i: Insn, v: number): void {
  if (i.mem) c.wr(i.osz, ea(c, i), v);
  else setReg(c, i.osz, i.rm, v);
}

/** Read a memory operand that is about to be written: write permission is checked before the
 *  value is used (Cpu.probeRmw), so the later store cannot fault after flags or registers
 *  changed. */
export function readForWrite(c: Cpu, size: number, lin: number): number {
  const vpn = lin >>> 12;
  if (c.wtag[vpn & TLB_MASK] === vpn && (lin & 0xfff) <= 0x1000 - size) return c.rd(size, lin);
  c.probeRmw(lin, size, c.uacc);
  return c.rd(size, lin);
}
