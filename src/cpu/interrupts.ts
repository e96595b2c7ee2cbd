// Event delivery through the IDT: exceptions, external interrupts and INT n, with the ring 3 ->
// ring 0 stack switch via the TSS, IRET back, and the double/triple fault rules. Mirrors the
// SDM's interrupt-delivery pseudo-code (what KVM's kvm_inject_* and kvm_multiple_exception model
// for injected events, including the contributory/#PF -> #DF combination table).

import { type Cpu, EXIT_SIGNAL, FAULT_SIGNAL, SEG_CS, SEG_SS, TRIPLE_SIGNAL } from './cpu.js';
import { GuestError } from './errors.js';
import { FL_AC, FL_ARITH, FL_DF, FL_ID, FL_IF, FL_IOPL, FL_NT, FL_RF, FL_TF, FL_VM, setArith } from './flags.js';
import { checkCodeSeg, checkStackSeg, checkTssStackSeg, dropInvisibleSegs } from './segments.js';

export const EV_NONE = 0;
export const EV_EXC = 1; // an exception raised by an instruction (or injected)
export const EV_IRQ = 2; // an external interrupt, already acknowledged at the PIC
export const EV_SOFT = 3; // INT n, INT3, INTO: gate DPL checked, no error code

const contributory = (v: number): boolean => v === 0 || (v >= 10 && v <= 13);

/** Exception deliveries in a row without a single unit retired after which the guest is stopped:
 *  x86 would spin forever (e.g. every handler on a not-present page while the stack never runs
 *  out), which no run may do. Far above anything a working guest does: each handler it runs
 *  retires an instruction and resets the count. */
export const EXCEPTION_LOOP_LIMIT = 1 << 20;

/**
 * Deliver an event, applying the double-fault rules to faults that happen during delivery.
 * `eip` is what the frame saves (the faulting instruction, or the next one). On XLATE_EXIT the
 * event stays pending (cpu.pend*) and is redelivered by the next run(); a guest fault that the
 * exit turns out to be arrives through faultDuringDelivery, as it would have here.
 */
export function deliverEvent(c: Cpu, vector: number, err: number, kind: number, eip: number): void {
  // The boundary the event is taken at, for a debugger's breakpoints (Cpu.breakAt); an INT n
  // inside a block is followed by the block's own record of its address.
  c.breakLast = c.eip >>> 0;
  // A fresh event starts a chain; a redelivery after an exit (run()) continues the pending one.
  if (c.pendKind === EV_NONE) c.chainFirst = vector;
  c.pendKind = kind;
  c.pendVector = vector;
  c.pendError = err;
  c.pendEip = eip;
  for (;;) {
    try {
      deliver(c, c.pendVector, c.pendError, c.pendKind, eip);
    } catch (x) {
      if (x === EXIT_SIGNAL) throw x;
      if (x !== FAULT_SIGNAL) {
        c.pendKind = EV_NONE;
        throw x;
      }
      if (!faultDuringDelivery(c, c.excVector, c.excError)) throw TRIPLE_SIGNAL;
      continue;
    }
    c.pendKind = EV_NONE;
    countDelivery(c);
    return;
  }
}

/**
 * Fault `v2` (error code `e2`) happened while delivering the pending event (cpu.pend*): make the
 * pending event what the processor delivers next, #DF or the new fault, keeping the saved EIP.
 * Returns false for a fault while delivering #DF (a triple fault: tripleFault* are set and
 * nothing is pending). kvm_multiple_exception's table, used both here and by a hypervisor whose
 * fault path finds a guest #PF for an access made during delivery.
 */
export function faultDuringDelivery(c: Cpu, v2: number, e2: number): boolean {
  const k = c.pendKind;
  const v = c.pendVector;
  if (k === EV_EXC && v === 8) {
    c.pendKind = EV_NONE;
    c.tripleFaultVector = v2;
    c.tripleFaultEip = c.pendEip;
    c.tripleFaultFirst = c.chainFirst;
    return false;
  }
  if (k === EV_EXC && ((contributory(v) && contributory(v2)) || (v === 14 && (contributory(v2) || v2 === 14)))) {
    c.pendVector = 8;
    c.pendError = 0;
  } else {
    c.pendVector = v2;
    c.pendError = e2;
  }
  c.pendKind = EV_EXC;
  return true;
}

/** The one line a triple fault stops the VM with: the fault that met #DF, the EIP, and the
 *  event whose delivery began the chain when that was another vector. */
export function tripleFaultMessage(c: { tripleFaultVector: number; tripleFaultEip: number; tripleFaultFirst: number }): string {
  const at = `triple fault: vector ${c.tripleFaultVector} at EIP 0x${(c.tripleFaultEip >>> 0).toString(16).padStart(8, '0')}`;
  const first = c.tripleFaultFirst;
  return first === 8 || first === c.tripleFaultVector ? at : `${at} (the chain of faults began with vector ${first})`;
}

/** The exception-loop guard: count deliveries since the last unit retired. */
function countDelivery(c: Cpu): void {
  c.deliveries++;
  if (c.icount !== c.stormIcount) {
    c.stormIcount = c.icount;
    c.stormCount = 1;
  } else if (++c.stormCount >= EXCEPTION_LOOP_LIMIT) {
    c.stormCount = 0;
    throw new GuestError(
      `exception loop: ${EXCEPTION_LOOP_LIMIT} events delivered without retiring an instruction ` +
        `(last: vector ${c.pendVector} for EIP 0x${(c.pendEip >>> 0).toString(16)}, handler at 0x${(c.eip >>> 0).toString(16)})`,
    );
  }
}

/** One attempt at delivering an event through its IDT gate (may raise, may throw EXIT). */
export function deliver(c: Cpu, vector: number, err: number, kind: number, retEip: number): void {
  const ext = kind === EV_SOFT ? 0 : 1;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > c.idtLimit) c.raise(13, idtErr);
  const a = (c.idtBase + vector * 8) | 0;
  const lo = c.readAcc(a, 4, 0);
  const hi = c.readAcc((a + 4) | 0, 4, 0);
  const type = (hi >> 8) & 0x1f;
  if (type === 5) {
    throw new GuestError(`IDT vector ${vector} is a task gate: task gates are not supported`);
  }
  if (type !== 0xe && type !== 0xf) c.raise(13, idtErr);
  if (kind === EV_SOFT && ((hi >> 13) & 3) < c.cpl) c.raise(13, idtErr);
  if ((hi & 0x8000) === 0) c.raise(11, idtErr);
  const sel = lo >>> 16;
  const off = (hi & 0xffff0000) | (lo & 0xffff);
  const dpl = checkCodeSeg(c, sel, ext);
  const conforming = (c.descHi & 0x400) !== 0;
  const cpl = c.cpl;
  if (dpl > cpl) c.raise(13, (sel & 0xfffc) | ext);
  const flags = c.getEflags();
  const hasErr = err >= 0 && kind === EV_EXC;
  let newCpl = cpl;
  if (!conforming && dpl < cpl) {
    // Inner privilege: the new stack comes from the TSS.
    const tss = 4 + dpl * 8;
    if (tss + 5 > c.trLimit) c.raise(10, (c.trSel & 0xfffc) | ext);
    const esp = c.readAcc((c.trBase + tss) | 0, 4, 0);
    const ss = c.readAcc((c.trBase + tss + 4) | 0, 2, 0);
    checkTssStackSeg(c, ss, dpl);
    const ssHi = c.descHi;
    const n = hasErr ? 24 : 20;
    c.probeWrite((esp - 4) | 0, 0);
    c.probeWrite((esp - n) | 0, 0);
    c.writeAcc((esp - 4) | 0, 4, c.sreg[SEG_SS], 0);
    c.writeAcc((esp - 8) | 0, 4, c.r[4], 0);
    c.writeAcc((esp - 12) | 0, 4, flags, 0);
    c.writeAcc((esp - 16) | 0, 4, c.sreg[SEG_CS], 0);
    c.writeAcc((esp - 20) | 0, 4, retEip, 0);
    if (hasErr) c.writeAcc((esp - 24) | 0, 4, err, 0);
    c.sreg[SEG_SS] = ss;
    c.segHi[SEG_SS] = ssHi;
    c.r[4] = (esp - n) | 0;
    newCpl = dpl;
  } else {
    const acc = c.uacc;
    const sp = c.r[4];
    const n = hasErr ? 16 : 12;
    c.probeWrite((sp - 4) | 0, acc);
    c.probeWrite((sp - n) | 0, acc);
    c.writeAcc((sp - 4) | 0, 4, flags, acc);
    c.writeAcc((sp - 8) | 0, 4, c.sreg[SEG_CS], acc);
    c.writeAcc((sp - 12) | 0, 4, retEip, acc);
    if (hasErr) c.writeAcc((sp - 16) | 0, 4, err, acc);
    c.r[4] = (sp - n) | 0;
  }
  c.sreg[SEG_CS] = (sel & 0xfffc) | newCpl;
  if (newCpl !== cpl) c.cpl = newCpl;
  c.eip = off;
  c.eflRest &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
  if (type === 0xe) c.eflRest &= ~FL_IF;
  if (vector < 32 && kind !== EV_IRQ) c.stats.exceptions[vector]++;
  c.halted = false;
  c.blockBreak = true;
}

/** Write EFLAGS from POPF/IRET under the privilege rules of `cpl` (size 2 or 4 bytes). */
export function writeFlagsPriv(c: Cpu, v: number, osz: number, cpl: number): void {
  let mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
  const iopl = (c.eflRest >> 12) & 3;
  if (cpl === 0) mask |= FL_IOPL;
  if (cpl <= iopl) mask |= FL_IF;
  if (osz === 2) mask &= 0xffff;
  const cur = c.getEflags();
  const nv = (cur & ~mask) | (v & mask);
  setArith(c, nv);
  c.eflRest = (nv & ~FL_ARITH & (FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT | FL_AC | FL_ID)) | 2;
}

export function iret(c: Cpu, osz: number): void {
  if (osz !== 4) throw new GuestError(`16-bit IRET is not supported`);
  if ((c.eflRest & FL_NT) !== 0) {
    throw new GuestError(`IRET with EFLAGS.NT set (a task return) is not supported`);
  }
  const sp = c.r[4];
  const eip = c.rd32(sp);
  const cs = c.rd32((sp + 4) | 0) & 0xffff;
  const fl = c.rd32((sp + 8) | 0);
  const cpl = c.cpl;
  if ((fl & FL_VM) !== 0 && cpl === 0) {
    throw new GuestError(`IRET to virtual-8086 mode is not supported`);
  }
  const rpl = cs & 3;
  if (rpl < cpl) c.raise(13, cs & 0xfffc);
  const dpl = checkCodeSeg(c, cs, 0);
  const conforming = (c.descHi & 0x400) !== 0;
  if (conforming ? dpl > rpl : dpl !== rpl) c.raise(13, cs & 0xfffc);
  let esp = (sp + 12) | 0;
  let ss = c.sreg[SEG_SS];
  let ssHi = c.segHi[SEG_SS]!;
  if (rpl > cpl) {
    esp = c.rd32((sp + 12) | 0);
    ss = c.rd32((sp + 16) | 0) & 0xffff;
    checkStackSeg(c, ss, rpl, 0);
    ssHi = c.descHi;
  }
  writeFlagsPriv(c, fl, 4, cpl);
  c.sreg[SEG_CS] = cs;
  c.sreg[SEG_SS] = ss;
  c.segHi[SEG_SS] = ssHi;
  c.r[4] = esp;
  c.eip = eip;
  if (rpl !== cpl) c.cpl = rpl;
  if (rpl > cpl) dropInvisibleSegs(c, rpl);
  c.blockBreak = true;
}
