// System instruction handlers: privilege-checked control registers, descriptor tables, task
// register, port I/O, INT n/IRET, HLT, CLI/STI, PUSHF/POPF, segment register moves, CPUID, RDTSC.
// Control-register writes reach the Mmu through its hooks (onCr3Write, onInvlpg, onPagingModeChange),
// as KVM's kvm_set_cr0/kvm_set_cr3/kvm_mmu_invlpg reach the shadow MMU.

import { type Cpu, SEG_SS } from './cpu.js';
import { GuestError } from './errors.js';
import { FL_IF, FL_IOPL, FL_RF, FL_VM, getOF } from './flags.js';
import type { Insn } from './insn.js';
import { EV_SOFT, deliver, iret, writeFlagsPriv } from './interrupts.js';
import { ea, getReg, readE, readSelector, setReg } from './operands.js';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PSE } from './paging.js';
import { descPresent, loadDataSeg, readDescriptor } from './segments.js';

const CR4_TSD = 1 << 2;
const CR4_DE = 1 << 3;
const CR4_PCE = 1 << 8;
const DR6_FIXED = 0xffff0ff0 | 0;
const DR7_FIXED = 0x400;
const CR4_PGE = 1 << 7;
const CR4_ALLOWED = (1 << 2) | (1 << 3) | CR4_PSE | CR4_PGE | (1 << 8);
const CPUID_EDX = (1 << 3) | (1 << 4) | (1 << 8) | (1 << 15); // PSE TSC CX8 CMOV

export function opUD(c: Cpu, _i: Insn): void {
  c.raise(6, -1);
}

export function opGP0(c: Cpu, _i: Insn): void {
  c.raise(13, 0);
}

function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) c.raise(13, 0);
}

export function checkIoPrivilege(c: Cpu): void {
  if (c.cpl > ((c.eflRest & FL_IOPL) >> 12)) c.raise(13, 0);
}

/** IN (E4 E5 EC ED): port imm8 (i.op 0) or DX (i.op 1). */
export function opIn(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.syncTime(i);
  const port = i.op === 0 ? i.imm : c.r[2] & 0xffff;
  setReg(c, i.osz, 0, c.io.portIn(port, i.osz as 1 | 2 | 4));
  // A device may have changed the IRQ line or asked to stop: back to the run loop.
  c.blockBreak = true;
}

/** OUT (E6 E7 EE EF). */
export function opOut(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.syncTime(i);
  const port = i.op === 0 ? i.imm : c.r[2] & 0xffff;
  c.io.portOut(port, i.osz as 1 | 2 | 4, getReg(c, i.osz, 0));
  c.blockBreak = true;
}

/** INT imm8 / INT3 (i.imm = vector); INTO (i.op 1). */
export function opInt(c: Cpu, i: Insn): void {
  if (i.op === 1 && getOF(c) === 0) return;
  const nx = (c.beip + i.next) | 0;
  c.eip = nx;
  deliver(c, i.imm, -1, EV_SOFT, nx);
  c.noStepTrap = true;
}

export function opIret(c: Cpu, i: Insn): void {
  iret(c, i.osz);
}

export function opHlt(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  c.halted = true;
  c.blockBreak = true;
}

export function opCli(c: Cpu, _i: Insn): void {
  checkIoPrivilege(c);
  c.eflRest &= ~FL_IF;
}

export function opSti(c: Cpu, _i: Insn): void {
  checkIoPrivilege(c);
  if ((c.eflRest & FL_IF) === 0) {
    c.eflRest |= FL_IF;
    c.intShadow = true;
  }
  c.blockBreak = true;
}

export function opPushf(c: Cpu, i: Insn): void {
  const v = c.getEflags() & ~(FL_VM | FL_RF);
  const sp = (c.r[4] - i.osz) | 0;
  c.wr(i.osz, sp, v);
  c.r[4] = sp;
}

export function opPopf(c: Cpu, i: Insn): void {
  const sp = c.r[4];
  const v = c.rd(i.osz, sp);
  c.r[4] = (sp + i.osz) | 0;
  writeFlagsPriv(c, v, i.osz, c.cpl);
  c.blockBreak = true;
}

/** MOV Sreg, E (8E): i.reg = segment register. */
export function opMovSregE(c: Cpu, i: Insn): void {
  const sel = readSelector(c, i);
  loadDataSeg(c, i.reg, sel);
  if (i.reg === SEG_SS) c.intShadow = c.noStepTrap = true;
  c.blockBreak = true;
}

/** MOV E, Sreg (8C). */
export function opMovESreg(c: Cpu, i: Insn): void {
  const v = c.sreg[i.reg];
  if (i.mem) c.wr16(ea(c, i), v);
  else setReg(c, i.osz, i.rm, v);
}

/** PUSH Sreg (06 0E 16 1E 0F A0 0F A8): i.reg = segment register. */
export function opPushSreg(c: Cpu, i: Insn): void {
  const sp = (c.r[4] - i.osz) | 0;
  c.wr(i.osz, sp, c.sreg[i.reg]);
  c.r[4] = sp;
}

/** POP Sreg (07 17 1F 0F A1 0F A9). */
export function opPopSreg(c: Cpu, i: Insn): void {
  const sp = c.r[4];
  const v = c.rd(i.osz, sp) & 0xffff;
  loadDataSeg(c, i.reg, v);
  c.r[4] = (sp + i.osz) | 0;
  if (i.reg === SEG_SS) c.intShadow = c.noStepTrap = true;
  c.blockBreak = true;
}

/** Group 7 (0F 01): SGDT SIDT LGDT LIDT SMSW - LMSW INVLPG by i.op. */
export function opGroup7(c: Cpu, i: Insn): void {
  switch (i.op) {
    case 0:
    case 1: {
      const a = ea(c, i);
      const limit = i.op === 0 ? c.gdtLimit : c.idtLimit;
      const base = i.op === 0 ? c.gdtBase : c.idtBase;
      c.probeWrite(a, c.uacc);
      c.probeWrite((a + 5) | 0, c.uacc);
      c.wr16(a, limit);
      c.wr32((a + 2) | 0, i.osz === 2 ? base & 0xffffff : base);
      return;
    }
    case 2:
    case 3: {
      requireCpl0(c);
      const a = ea(c, i);
      const limit = c.rd16(a);
      let base = c.rd32((a + 2) | 0);
      if (i.osz === 2) base &= 0xffffff;
      if (i.op === 2) {
        c.gdtLimit = limit;
        c.gdtBase = base;
      } else {
        c.idtLimit = limit;
        c.idtBase = base;
      }
      return;
    }
    case 4:
      if (i.mem) c.wr16(ea(c, i), c.cr0);
      else setReg(c, i.osz, i.rm, c.cr0 & 0xffff);
      return;
    case 6: {
      requireCpl0(c);
      const v = readE(c, i) & 0xf;
      // LMSW can set PE but never clear it.
      setCr0(c, (c.cr0 & ~0xe) | v | (c.cr0 & CR0_PE));
      return;
    }
    case 7:
      requireCpl0(c);
      c.mmu.onInvlpg(c, ea(c, i));
      c.blockBreak = true;
      return;
    default:
      c.raise(6, -1);
  }
}

/** Group 6 (0F 00): SLDT STR LLDT LTR by i.op; VERR/VERW are not implemented (#UD). */
export function opGroup6(c: Cpu, i: Insn): void {
  switch (i.op) {
    case 0:
    case 1: {
      const v = i.op === 0 ? c.ldtSel : c.trSel;
      if (i.mem) c.wr16(ea(c, i), v);
      else setReg(c, i.osz, i.rm, v);
      return;
    }
    case 2: {
      requireCpl0(c);
      const sel = readE(c, i) & 0xffff;
      if ((sel & 0xfffc) !== 0) {
        throw new GuestError(`LLDT 0x${sel.toString(16)}: LDTs are not supported`);
      }
      c.ldtSel = 0;
      return;
    }
    case 3: {
      requireCpl0(c);
      const sel = readSelector(c, i);
      if ((sel & 0xfffc) === 0) c.raise(13, 0);
      readDescriptor(c, sel, 0);
      const lo = c.descLo;
      const hi = c.descHi;
      if ((hi & 0x1f00) !== 0x0900) c.raise(13, sel & 0xfffc);
      if (!descPresent(hi)) c.raise(11, sel & 0xfffc);
      // Mark the TSS busy in the GDT, as the processor does.
      c.writeAcc((c.gdtBase + (sel & 0xfff8) + 4) | 0, 4, hi | 0x200, 0);
      c.trSel = sel;
      c.trBase = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
      const raw = (lo & 0xffff) | (hi & 0xf0000);
      c.trLimit = (hi & 0x800000) !== 0 ? raw * 4096 + 4095 : raw;
      return;
    }
    default:
      c.raise(6, -1);
  }
}

function setCr0(c: Cpu, v: number): void {
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) c.raise(13, 0);
  if ((v & CR0_PE) === 0) {
    throw new GuestError(`CR0.PE cleared: real mode is not supported`);
  }
  const old = c.cr0;
  c.cr0 = v | 0x10;
  if (((old ^ c.cr0) & (CR0_PG | CR0_WP)) !== 0) c.mmu.onPagingModeChange(c);
  c.blockBreak = true;
}

/** MOV CRn, r32 (0F 22: i.op 1) and MOV r32, CRn (0F 20: i.op 0); i.reg = n, i.rm = GPR. */
export function opMovCr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const n = i.reg;
  if (i.op === 0) {
    const v = n === 0 ? c.cr0 : n === 2 ? c.cr2 : n === 3 ? c.cr3 : n === 4 ? c.cr4 : -1;
    if (n === 1 || n > 4) c.raise(6, -1);
    c.r[i.rm] = v;
    return;
  }
  const v = c.r[i.rm];
  switch (n) {
    case 0:
      setCr0(c, v);
      return;
    case 2:
      c.cr2 = v;
      return;
    case 3:
      c.cr3 = v;
      c.mmu.onCr3Write(c);
      c.blockBreak = true;
      return;
    case 4: {
      if ((v & ~CR4_ALLOWED) !== 0) c.raise(13, 0);
      const old = c.cr4;
      c.cr4 = v;
      if (((old ^ v) & (CR4_PSE | CR4_PGE)) !== 0) c.mmu.onPagingModeChange(c);
      c.blockBreak = true;
      return;
    }
    default:
      c.raise(6, -1);
  }
}

/** MOV to/from DRn (0F 21, 0F 23; i.op 1 = to DRn). The registers are storage only: no
 *  breakpoint is ever armed (README). DR4/DR5 alias DR6/DR7 unless CR4.DE makes them #UD; DR6
 *  and DR7 keep their fixed-one bits, as QEMU's helper_set_dr does. */
export function opMovDr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  let n = i.reg;
  if (n === 4 || n === 5) {
    if ((c.cr4 & CR4_DE) !== 0) c.raise(6, -1);
    n += 2;
  }
  if (i.op === 0) {
    c.r[i.rm] = c.dr[n]!;
    return;
  }
  const v = c.r[i.rm]!;
  c.dr[n] = n === 6 ? v | DR6_FIXED : n === 7 ? v | DR7_FIXED : v;
}

/** RDPMC (0F 33): no performance counters here. CPL > 0 without CR4.PCE is #GP(0), otherwise
 *  #UD, as QEMU answers. */
export function opRdpmc(c: Cpu, _i: Insn): void {
  if (c.cpl !== 0 && (c.cr4 & CR4_PCE) === 0) c.raise(13, 0);
  c.raise(6, -1);
}

export function opClts(c: Cpu, _i: Insn): void {
  requireCpl0(c);
  c.cr0 &= ~8;
}

/** WBINVD / INVD: no caches to write back. */
export function opCacheCtl(c: Cpu, _i: Insn): void {
  requireCpl0(c);
}

const VENDOR = [0x64616853, 0x6956776f, 0x21726f73]; // "Shad" "owVi" "sor!" (EBX EDX ECX)

export function opCpuid(c: Cpu, _i: Insn): void {
  const r = c.r;
  const leaf = r[0];
  if (leaf === 0) {
    r[0] = 1;
    r[3] = VENDOR[0];
    r[2] = VENDOR[1];
    r[1] = VENDOR[2];
  } else if (leaf === 1) {
    r[0] = 0x633;
    r[3] = (c.index & 0xff) << 24;
    r[1] = 0;
    r[2] = CPUID_EDX;
  } else {
    r[0] = r[1] = r[2] = r[3] = 0;
  }
}

export function opRdtsc(c: Cpu, i: Insn): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl !== 0) c.raise(13, 0);
  c.syncTime(i);
  const t = c.vtime();
  c.r[0] = t % 4294967296 | 0;
  c.r[2] = Math.floor(t / 4294967296) | 0;
}

