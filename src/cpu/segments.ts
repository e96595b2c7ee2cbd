// Segment descriptors under the flat-only rule: GDT lookups, privilege checks for loads of CS/SS
// and data segment registers, and the descriptor table accesses of far transfers. Mirrors the
// SDM's segment-load checks (and QEMU's load_segment / helper_ljmp_protected), minus non-flat bases.

import { type Cpu, SEG_SS } from './cpu.js';
import { GuestError } from './errors.js';

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** Read the 8-byte GDT descriptor for `sel` into c.descLo/descHi; `fault` (#GP, or #TS for a
 *  TSS's SS0) with the selector when it is out of range. */
export function readDescriptor(c: Cpu, sel: number, ext: number, fault = 13): void {
  if ((sel & 4) !== 0) {
    if (c.ldtSel === 0) c.raise(fault, (sel & 0xfffc) | ext);
    throw new GuestError(`selector ${hex(sel)} refers to an LDT: only the GDT is supported`);
  }
  if ((sel | 7) > c.gdtLimit) c.raise(fault, (sel & 0xfffc) | ext);
  const a = (c.gdtBase + (sel & 0xfff8)) | 0;
  c.descLo = c.readAcc(a, 4, 0);
  c.descHi = c.readAcc((a + 4) | 0, 4, 0);
}

export const descDpl = (hi: number): number => (hi >> 13) & 3;
export const descPresent = (hi: number): boolean => (hi & 0x8000) !== 0;
/** S=1 (code/data) and the type's code bit. */
export const descIsCode = (hi: number): boolean => (hi & 0x1800) === 0x1800;
export const descIsData = (hi: number): boolean => (hi & 0x1800) === 0x1000;

/** Refuse any code or data descriptor that is not base 0, 4 GiB limit, 32-bit. */
export function checkFlat(c: Cpu, sel: number, lo: number, hi: number, what: string): void {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  const rawLimit = (lo & 0xffff) | (hi & 0xf0000);
  const g = (hi >> 23) & 1;
  const db = (hi >> 22) & 1;
  if (base !== 0 || rawLimit !== 0xfffff || g !== 1) {
    throw new GuestError(
      `${what} selector ${hex(sel)} has base ${hex(base)} and limit ${hex(g ? rawLimit * 4096 + 4095 : rawLimit)}` +
        ': only flat segments (base 0, limit 4 GiB) are supported',
    );
  }
  if (db !== 1 && (what === 'code' || what === 'stack')) {
    throw new GuestError(`${what} selector ${hex(sel)} is a 16-bit segment: only 32-bit code and stack segments are supported`);
  }
}

/** MOV/POP to DS, ES, FS, GS or SS with protected-mode checks. */
export function loadDataSeg(c: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  const cpl = c.cpl;
  if ((sel & 0xfffc) === 0) {
    if (seg === SEG_SS) c.raise(13, 0);
    c.sreg[seg] = sel;
    c.segHi[seg] = 0;
    return;
  }
  readDescriptor(c, sel, 0);
  const lo = c.descLo;
  const hi = c.descHi;
  const dpl = descDpl(hi);
  const rpl = sel & 3;
  if (seg === SEG_SS) {
    if (rpl !== cpl || dpl !== cpl || !descIsData(hi) || (hi & 0x200) === 0) c.raise(13, sel & 0xfffc);
    if (!descPresent(hi)) c.raise(12, sel & 0xfffc);
    checkFlat(c, sel, lo, hi, 'stack');
    c.sreg[SEG_SS] = sel;
    c.segHi[SEG_SS] = hi;
    return;
  }
  const code = descIsCode(hi);
  if (!(descIsData(hi) || (code && (hi & 0x200) !== 0))) c.raise(13, sel & 0xfffc);
  const conforming = code && (hi & 0x400) !== 0;
  if (!conforming && (dpl < cpl || dpl < rpl)) c.raise(13, sel & 0xfffc);
  if (!descPresent(hi)) c.raise(11, sel & 0xfffc);
  checkFlat(c, sel, lo, hi, 'data');
  c.sreg[seg] = sel;
  c.segHi[seg] = hi;
}

/**
 * A return to an outer privilege level (IRET, far RET) leaves no segment register the new level
 * may not use: each of ES DS FS GS that holds a data or non-conforming code segment with a DPL
 * below the new CPL becomes null (the SDM's RETURN-TO-OUTER-PRIVILEGE-LEVEL step, judged on the
 * hidden descriptor, as QEMU's validate_seg does: a null ES or DS is cleared to 0, a null FS or
 * GS is left alone).
 */
export function dropInvisibleSegs(c: Cpu, cpl: number): void {
  for (let k = 0; k < 4; k++) {
    const seg = k === 0 ? 0 : k + 2; // ES, DS, FS, GS
    const sel = c.sreg[seg]!;
    if ((sel & 0xfffc) === 0 && seg >= 4) continue;
    const hi = c.segHi[seg]!;
    const conformingCode = (hi & 0x1c00) === 0x1c00;
    if (!conformingCode && descDpl(hi) < cpl) {
      c.sreg[seg] = 0;
      c.segHi[seg] = 0;
    }
  }
}

/**
 * Check a code segment for a far JMP/CALL/RET or an interrupt gate target. Returns the
 * descriptor DPL. Call gates and task switches are refused.
 */
export function checkCodeSeg(c: Cpu, sel: number, ext: number): number {
  if ((sel & 0xfffc) === 0) c.raise(13, ext);
  readDescriptor(c, sel, ext);
  const hi = c.descHi;
  if ((hi & 0x1000) === 0) {
    const type = (hi >> 8) & 0xf;
    const what = type === 0xc ? 'call gate' : type === 5 ? 'task gate' : type === 9 || type === 0xb ? 'TSS' : '';
    if (what !== '') {
      throw new GuestError(`far transfer through a ${what} (selector ${hex(sel)}): task switches and call gates are not supported`);
    }
    c.raise(13, (sel & 0xfffc) | ext);
  }
  if (!descIsCode(hi)) c.raise(13, (sel & 0xfffc) | ext);
  if (!descPresent(hi)) c.raise(11, (sel & 0xfffc) | ext);
  checkFlat(c, sel, c.descLo, hi, 'code');
  return descDpl(hi);
}

/** Far JMP or CALL to sel:off at the same privilege level (the only kind without gates). */
export function farTransfer(c: Cpu, sel: number, off: number, call: boolean, osz: number): void {
  sel &= 0xffff;
  const dpl = checkCodeSeg(c, sel, 0);
  const conforming = (c.descHi & 0x400) !== 0;
  const cpl = c.cpl;
  if (conforming ? dpl > cpl : dpl !== cpl || (sel & 3) > cpl) c.raise(13, sel & 0xfffc);
  if (call) {
    const sp = c.r[4];
    if (osz === 4) {
      c.wr32((sp - 4) | 0, c.sreg[1]);
      c.wr32((sp - 8) | 0, c.eip);
      c.r[4] = (sp - 8) | 0;
    } else {
      c.wr16((sp - 2) | 0, c.sreg[1]);
      c.wr16((sp - 4) | 0, c.eip);
      c.r[4] = (sp - 4) | 0;
    }
  }
  c.sreg[1] = (sel & 0xfffc) | cpl;
  c.eip = osz === 4 ? off | 0 : off & 0xffff;
}

/** RETF [imm]: same level, or to an outer level (popping SS:ESP too). */
export function farReturn(c: Cpu, imm: number, osz: number): void {
  const sp = c.r[4];
  const eip = osz === 4 ? c.rd32(sp) : c.rd16(sp);
  const sel = (osz === 4 ? c.rd32((sp + 4) | 0) : c.rd16((sp + 2) | 0)) & 0xffff;
  const rpl = sel & 3;
  const cpl = c.cpl;
  if (rpl < cpl) c.raise(13, sel & 0xfffc);
  const dpl = checkCodeSeg(c, sel, 0);
  const conforming = (c.descHi & 0x400) !== 0;
  if (conforming ? dpl > rpl : dpl !== rpl) c.raise(13, sel & 0xfffc);
  let nsp = (sp + 2 * osz + imm) | 0;
  if (rpl > cpl) {
    const esp = osz === 4 ? c.rd32(nsp) : c.rd16(nsp);
    const ss = (osz === 4 ? c.rd32((nsp + 4) | 0) : c.rd16((nsp + 2) | 0)) & 0xffff;
    checkStackSeg(c, ss, rpl, 0);
    c.sreg[SEG_SS] = ss;
    c.segHi[SEG_SS] = c.descHi;
    nsp = (esp + imm) | 0;
    c.sreg[1] = sel;
    c.cpl = rpl;
    dropInvisibleSegs(c, rpl);
  } else {
    c.sreg[1] = sel;
  }
  c.r[4] = nsp;
  c.eip = eip;
}

/** Validate an SS selector for privilege level `pl` popped by a return to an outer level (IRET,
 *  far RET): #GP on a bad one; #NP when not present, as QEMU's helper_ret_protected raises it
 *  (the SDM has #SS). */
export function checkStackSeg(c: Cpu, ss: number, pl: number, ext: number): void {
  if ((ss & 0xfffc) === 0) c.raise(13, ext);
  readDescriptor(c, ss, ext);
  const hi = c.descHi;
  if ((ss & 3) !== pl || descDpl(hi) !== pl || !descIsData(hi) || (hi & 0x200) === 0) c.raise(13, (ss & 0xfffc) | ext);
  if (!descPresent(hi)) c.raise(11, (ss & 0xfffc) | ext);
  checkFlat(c, ss, c.descLo, hi, 'stack');
}

/** Validate the SS0/1/2 an interrupt to an inner level takes from the TSS: every failure, null,
 *  wrong RPL or DPL, not a writable data segment, past the GDT or not present, is #TS(SS) with
 *  no EXT bit, as QEMU's do_interrupt_protected raises it (the SDM has #SS for not present). */
export function checkTssStackSeg(c: Cpu, ss: number, pl: number): void {
  const err = ss & 0xfffc;
  if (err === 0 || (ss & 3) !== pl) c.raise(10, err);
  readDescriptor(c, ss, 0, 10);
  const hi = c.descHi;
  if (descDpl(hi) !== pl || !descIsData(hi) || (hi & 0x200) === 0 || !descPresent(hi)) c.raise(10, err);
  checkFlat(c, ss, c.descLo, hi, 'stack');
}
