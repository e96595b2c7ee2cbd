// Legacy integer instructions gcc never emits but hand-written start-up code and system code do,
// and QEMU runs: the far-pointer loads (LES LDS LSS LFS LGS), BOUND, ARPL, SALC, and the
// descriptor queries LAR, LSL, VERR and VERW. Semantics follow the SDM's pseudocode; where it
// leaves a choice (ARPL's store when nothing changes) QEMU's translate.c / seg_helper.c
// (helper_lar, helper_lsl, helper_verr, helper_verw, helper_boundl) decide, as it is the oracle.

import type { Cpu } from './cpu.js';
import { getCF, setZF } from './flags.js';
import type { Insn } from './insn.js';
import { ea, readSelector, setReg } from './operands.js';
import { descDpl, loadDataSeg, readDescriptor } from './segments.js';

/** LES LDS LSS LFS LGS (C4 C5 0F B2 0F B4 0F B5), memory forms only: i.op = segment register,
 *  i.reg = the GPR. Offset and selector are both read before the segment load, and the GPR is
 *  written only after the load succeeded, so a faulting load leaves both unchanged. Unlike MOV
 *  SS and POP SS, LSS opens no interrupt shadow. */
export function opLoadFarPtr(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  const off = i.osz === 4 ? c.rd32(a) : c.rd16(a);
  const sel = c.rd16((a + i.osz) | 0);
  loadDataSeg(c, i.op, sel);
  setReg(c, i.osz, i.reg, off);
  c.blockBreak = true;
}

/** BOUND r, m (62, memory form only): #BR (vector 5) unless lower <= r <= upper, all signed. */
export function opBound(c: Cpu, i: Insn): void {
  const a = ea(c, i);
  let v: number, lo: number, hi: number;
  if (i.osz === 4) {
    v = c.r[i.reg];
    lo = c.rd32(a);
    hi = c.rd32((a + 4) | 0);
  } else {
    v = (c.r[i.reg] << 16) >> 16;
    lo = (c.rd16(a) << 16) >> 16;
    hi = (c.rd16((a + 2) | 0) << 16) >> 16;
  }
  if (v < lo || v > hi) c.raise(5, -1);
}

/** ARPL r/m16, r16 (63): raise the destination selector's RPL to the source's (ZF=1), else
 *  ZF=0. A memory destination is written back either way, as QEMU does. */
export function opArpl(c: Cpu, i: Insn): void {
  const a = i.mem ? ea(c, i) : 0;
  let d = i.mem ? c.rd16(a) : c.r[i.rm] & 0xffff;
  const srpl = c.r[i.reg] & 3;
  const raise = (d & 3) < srpl;
  if (raise) d = (d & ~3) | srpl;
  if (i.mem) c.wr16(a, d);
  else setReg(c, 2, i.rm, d);
  setZF(c, raise);
}

/** SALC (D6): AL = CF ? 0xFF : 0; flags unchanged. */
export function opSalc(c: Cpu, _i: Insn): void {
  c.r[0] = (c.r[0] & ~0xff) | (getCF(c) !== 0 ? 0xff : 0);
}

/** Read sel's descriptor into c.descLo/descHi when the selector names one in the GDT: a null
 *  selector, an LDT selector (no LDT is ever loaded) or one past the GDT's limit make the query
 *  answer no (ZF=0) instead of faulting. Reading the GDT may still #PF. */
function queryDescriptor(c: Cpu, sel: number): boolean {
  if ((sel & 0xfffc) === 0 || (sel & 4) !== 0 || (sel | 7) > c.gdtLimit) return false;
  readDescriptor(c, sel, 0);
  return true;
}

/** A non-conforming segment is visible to the query only when its DPL is at least CPL and RPL. */
function privilegeAllows(c: Cpu, sel: number, hi: number): boolean {
  const conforming = (hi & 0x1c00) === 0x1c00; // S=1, code, C
  const dpl = descDpl(hi);
  return conforming || (dpl >= c.cpl && dpl >= (sel & 3));
}

/** LAR (0F 02) and LSL (0F 03), by i.op (0 LAR, 1 LSL): the access rights or the byte-granular
 *  limit of a descriptor the current privilege may see, with ZF=1; else ZF=0 and the destination
 *  is not written. System descriptors: LAR accepts TSSs, LDT, call and task gates; LSL only the
 *  TSSs and the LDT, which have a limit. */
export function opLarLsl(c: Cpu, i: Insn): void {
  const sel = readSelector(c, i);
  let ok = queryDescriptor(c, sel);
  const lo = c.descLo;
  const hi = c.descHi;
  if (ok) {
    if ((hi & 0x1000) === 0) {
      const type = (hi >> 8) & 0xf;
      const allowed = i.op === 0 ? 0x1a3e : 0x0a0e; // bit t set: system type t accepted
      ok = ((allowed >> type) & 1) !== 0;
    }
    ok = ok && privilegeAllows(c, sel, hi);
  }
  if (ok) {
    let v: number;
    if (i.op === 0) v = hi & 0x00f0ff00;
    else {
      v = (lo & 0xffff) | (hi & 0xf0000);
      if ((hi & 0x800000) !== 0) v = (v << 12) | 0xfff;
    }
    setReg(c, i.osz, i.reg, v);
  }
  setZF(c, ok);
}

/** VERR and VERW (0F 00 /4, /5), by i.op: can the current privilege read (VERR) or write
 *  (VERW) through this selector? ZF=1 if so. Only code and data segments qualify: readable code
 *  for VERR, writable data for VERW. */
export function opVerify(c: Cpu, i: Insn): void {
  const sel = readSelector(c, i);
  let ok = queryDescriptor(c, sel);
  const hi = c.descHi;
  if (ok) {
    const code = (hi & 0x1800) === 0x1800;
    if ((hi & 0x1000) === 0) ok = false;
    else if (i.op === 4) ok = (!code || (hi & 0x200) !== 0) && privilegeAllows(c, sel, hi);
    else ok = !code && (hi & 0x200) !== 0 && privilegeAllows(c, sel, hi);
  }
  setZF(c, ok);
}
