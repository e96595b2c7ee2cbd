// How a run goes on under gdb without computing anything differently (QEMU's gdbstub single-
// steps TCG the same way): watchpoints and single steps are checked between units by running the
// vCPU one unit at a time through its ordinary budget API (Cpu.run(1) inside Vcpu.step, or
// runVcpu's loop with one-unit slices), which executes the same instructions in the same order as
// one longer slice; guest memory is never patched. An event (an injected exception, a
// deliverable IRQ, an exception an instruction raises) is delivered in a unit of its own, so a
// breakpoint on a handler's first instruction stops before that instruction runs. Breakpoints
// alone need no look between units: the processor checks them itself before each block and cuts
// a block short before one (Cpu.breakAt), stopping where check() would have, so those runs take
// whole slices (coarse; test/cli/gdb-coarse.test.ts holds the two ways to the same stops).
//
// Under the hypervisor a vCPU's slice is one step of the deterministic scheduler. A stop inside
// a slice must not cost the scheduler a choice, so the rest of the slice is kept and run first
// when the guest continues (Simulation.stepVcpu with the remaining budget), before the scheduler
// picks again: the schedule, and so every counter but the TLB hits (which count the processor's
// block fetches), is the one of a run without gdb. vCPU steps that the simulation runs at a host
// preemption point (inside a host mm operation) cannot stop midway; they run whole, and a
// watchpoint written there is reported after the enclosing step.

import type { Cpu } from '../../cpu/cpu.js';
import type { NativeMachine } from '../../machine/native-machine.js';
import type { RunResult } from '../../machine/run-loop.js';
import { STEP_RAN, STEP_STOPPED, type Vcpu } from '../../hv/vcpu.js';
import { GuestError } from '../../cpu/errors.js';
import { EXIT_STATUS_BAD_INPUT } from '../../obs/exit-status.js';
import { wakeFromHlt } from '../../machine/run-loop.js';
import { FL_IF } from '../../cpu/flags.js';
import { breakHere } from '../../cpu/breakpoints.js';
import { EV_NONE } from '../../cpu/interrupts.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_MMU, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../../cpu/ports.js';
import type { PreparedGuest } from '../../sim/run-guest.js';
import type { VmRun } from '../../sim/simulation.js';
import { readVirtual, readVirtualInto, type GuestPhys } from './guest-peek.js';
import { nextOperandAccess } from './operand-access.js';

/** Why the guest stopped, for the stop reply. */
export interface StopEvent {
  /** gdb signal number: 5 (SIGTRAP) for breakpoints, watchpoints and steps, 2 (SIGINT) for Ctrl-C. */
  signal: number;
  /** vCPU index (gdb thread = index + 1). */
  vcpu: number;
  kind: 'swbreak' | 'hwbreak' | 'watch' | 'rwatch' | 'awatch' | 'step' | 'interrupt';
  watchAddr?: number;
}

export interface Watch {
  addr: number;
  len: number;
  /** The bytes last seen (null: not readable then). */
  seen: Uint8Array | null;
  /** Where checkWatches reads them after each unit (no allocation per instruction). */
  readonly now: Uint8Array;
}

/** A read (Z3) or access (Z4) watchpoint: checked against the next instruction's operand. */
export interface AccessWatch {
  addr: number;
  len: number;
  kind: 'rwatch' | 'awatch';
}

/** Instructions run one at a time between two looks at the clock. */
const CLOCK_EVERY = 1024;
/** The longest slice of a coarse native run: about 10 ms of guest code between looks at the clock. */
const COARSE_SLICE = 1 << 20;

export class RunControl {
  readonly swBreaks = new Set<number>();
  readonly hwBreaks = new Set<number>();
  readonly watches: Watch[] = [];
  readonly accessWatches: AccessWatch[] = [];
  /** vCPU being single-stepped, or -1. */
  stepping = -1;
  /** Set by a check that found a reason to stop; cleared when the guest goes on. */
  stop: StopEvent | null = null;
  /** Ctrl-C or a new connection: stop at the next point where the whole machine is consistent. */
  pauseRequested = false;
  /** The rest of a scheduler step that a stop cut short (shadow/TDP runs). */
  private rest: { run: VmRun; vcpu: Vcpu; insns: number } | null = null;
  /** Depth of host preemption points being run (vCPU steps there are not stopped midway). */
  private nested = 0;
  /** A fine loop's Cpu.run() is running, and an exception raised in it asked run() to stop. */
  private inUnit = false;
  private raised = false;

  constructor(
    private readonly cpus: readonly Cpu[],
    private readonly phys: GuestPhys,
  ) {
    for (const c of cpus) this.hookRaise(c);
  }

  /** One unit at a time is needed (a watchpoint or a step is pending). */
  get fine(): boolean {
    return this.watches.length > 0 || this.accessWatches.length > 0 || this.stepping >= 0;
  }

  /**
   * Breakpoints alone: the vCPUs run whole slices, and the Cpu itself stops before an instruction
   * at a breakpoint (Cpu.breakAt), by the rule check() applies between one-instruction units.
   * The interpreter runs at its own speed then, where units of one instruction ran about 6x
   * slower; compiled regions wait until no breakpoint is set.
   */
  get coarse(): boolean {
    return !this.fine && (this.swBreaks.size > 0 || this.hwBreaks.size > 0);
  }

  /** The guest goes on from a stop (c, s, vCont): each vCPU's next instruction runs even if a
   *  breakpoint is on it, as the first unit after a stop does. */
  resumed(): void {
    for (const c of this.cpus) c.breakLast = c.eip >>> 0;
  }

  /** Arm the Cpus' own breakpoint check for coarse runs; disarm it for every other kind. */
  private arm(): void {
    let at: ReadonlySet<number> | null = null;
    if (this.coarse) at = this.hwBreaks.size === 0 ? this.swBreaks : this.swBreaks.size === 0 ? this.hwBreaks : new Set([...this.swBreaks, ...this.hwBreaks]);
    for (const c of this.cpus) {
      c.breakAt = at;
      c.breakHit = false;
    }
  }

  /** The Cpu of vCPU i stopped itself at a breakpoint (Cpu.breakHit): record the stop. */
  private breakStop(i: number): boolean {
    const cpu = this.cpus[i]!;
    if (!cpu.breakHit) return false;
    cpu.breakHit = false;
    this.stop = { signal: 5, vcpu: i, kind: this.swBreaks.has(cpu.eip >>> 0) ? 'swbreak' : 'hwbreak' };
    return true;
  }

  /**
   * Before vCPU i's next unit: the read/access watchpoint its explicit memory operand hits, as
   * the stop to report once the unit has run (null: none).
   */
  private accessHit(i: number): StopEvent | null {
    if (this.accessWatches.length === 0 || this.nested > 0) return null;
    const a = nextOperandAccess(this.cpus[i]!, this.phys);
    if (a === null) return null;
    for (const w of this.accessWatches) {
      const overlaps = a.addr < (w.addr + w.len) >>> 0 && w.addr < (a.addr + a.size) >>> 0;
      if (overlaps && (w.kind === 'awatch' || a.read)) return { signal: 5, vcpu: i, kind: w.kind, watchAddr: w.addr };
    }
    return null;
  }

  /** After the unit that accessHit() looked at: report its hit, unless an event was delivered
   *  instead (the instruction faulted, or an interrupt came first: it did not access memory). */
  private afterAccess(hit: StopEvent | null, deliveries: number): boolean {
    if (hit === null || this.cpus[hit.vcpu]!.deliveries !== deliveries) return false;
    this.stop = hit;
    return true;
  }

  watchBytes(vcpu: number, addr: number, len: number): Uint8Array | null {
    const b = readVirtual(this.cpus[vcpu]!, this.phys, addr, len);
    return b.length === len ? b : null;
  }

  addWatch(addr: number, len: number): void {
    this.watches.push({ addr, len, seen: this.watchBytes(0, addr, len), now: new Uint8Array(len) });
  }

  removeWatch(addr: number, len: number): boolean {
    const i = this.watches.findIndex((w) => w.addr === addr && w.len === len);
    if (i < 0) return false;
    this.watches.splice(i, 1);
    return true;
  }

  /** Watched bytes as they are now, so a change made while stopped (by gdb) is not reported. */
  resnapshot(): void {
    for (const w of this.watches) w.seen = this.watchBytes(0, w.addr, w.len) ?? w.seen;
  }

  /**
   * After vCPU `i` retired a unit that began at `prevEip`: stop for a step, a breakpoint at the
   * next instruction, or a changed watched value. A unit that leaves EIP where it was (one
   * iteration of a REP string instruction) does not hit the breakpoint it started on again.
   */
  check(i: number, prevEip: number): boolean {
    if (this.nested > 0) return false;
    const eip = this.cpus[i]!.eip >>> 0;
    if (this.stepping === i) {
      this.stop = { signal: 5, vcpu: i, kind: 'step' };
      return true;
    }
    if (eip !== prevEip) {
      if (this.swBreaks.has(eip)) {
        this.stop = { signal: 5, vcpu: i, kind: 'swbreak' };
        return true;
      }
      if (this.hwBreaks.has(eip)) {
        this.stop = { signal: 5, vcpu: i, kind: 'hwbreak' };
        return true;
      }
    }
    return this.checkWatches(i);
  }

  /**
   * A watched value that changed since the last unit. `seen` is the last value the debugger could
   * read: while the bytes are unreadable (the guest has not mapped them, or the host has not
   * populated them or swapped them out) nothing is compared, and their becoming readable is no
   * write (a swap-in restores what was there); the first value read after a watch set on
   * unreadable bytes is only the baseline. So a stop is always a store that changed the value.
   */
  private checkWatches(i: number): boolean {
    for (const w of this.watches) {
      const now = w.now;
      if (readVirtualInto(this.cpus[i]!, this.phys, w.addr, now, w.len) !== w.len) continue;
      const prev = w.seen;
      if (prev === null) {
        w.seen = now.slice();
        continue;
      }
      if (!sameBytes(now, prev)) {
        prev.set(now);
        this.stop = { signal: 5, vcpu: i, kind: 'watch', watchAddr: w.addr };
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the next Cpu.run() begins by delivering an event (an injected exception or a
   * deliverable IRQ) before its first instruction. Cpu.run(0) then delivers just that, exactly as
   * the start of Cpu.run(1) would, and a breakpoint on the handler's first instruction is seen
   * before it runs. Not inside an interrupt shadow (STI, MOV SS): run(0) would end the shadow.
   */
  private eventFirst(cpu: Cpu): boolean {
    if (cpu.intShadow || cpu.shutdown) return false;
    return cpu.pendKind !== EV_NONE || (cpu.irqLine && cpu.pic !== null && (cpu.eflRest & FL_IF) !== 0);
  }

  // ---- native runs ----------------------------------------------------------------------------

  /**
   * Run the native machine towards `target` retired instructions for about `ms` of wall time.
   * While `fine`, this is runVcpu's loop with slices of one unit (runVcpu, board.advance,
   * wakeFromHlt are machine/run-loop.ts's; what differs is only where the loop may stop).
   */
  runNative(machine: NativeMachine, target: number, ms: number): RunResult {
    const cpu = machine.cpu;
    this.arm();
    if (!this.fine && !this.coarse) return machine.run(target);
    try {
      return this.fine ? this.runNativeFine(machine, target, ms) : this.runNativeCoarse(machine, target, ms);
    } catch (x) {
      // As NativeMachine.run(): a guest doing what the ABI refuses is bad input, one line.
      if (!(x instanceof GuestError)) throw x;
      return { exitCode: EXIT_STATUS_BAD_INPUT, reason: 'guest-error', message: x.message, instructions: cpu.icount, vtime: cpu.vtime(), eip: cpu.eip >>> 0 };
    }
  }

  private runNativeFine(machine: NativeMachine, target: number, ms: number): RunResult {
    const cpu = machine.cpu;
    const board = machine.board;
    const run = (n: number): number => cpu.run(n);
    const t0 = performance.now();
    // machine.run() of no instructions: the stop result if the board stopped, else 'budget'.
    const here = (): RunResult => machine.run(cpu.icount);
    for (let n = 1; ; n++) {
      if (board.stopped !== null || cpu.icount >= target) return here();
      board.advance(cpu.vtime());
      const prev = cpu.eip >>> 0;
      if (this.eventFirst(cpu)) {
        const e = this.unit(run, 0, EXIT_STOP, EXIT_BUDGET);
        if (e === EXIT_TRIPLE_FAULT) return machine.run(cpu.icount + 1); // reported by runVcpu
        if (this.check(0, prev)) return here();
        continue;
      }
      const hit = this.accessHit(0);
      const deliveries = cpu.deliveries;
      const before = cpu.icount;
      const e = this.unit(run, 1, EXIT_STOP, EXIT_BUDGET);
      if (e === EXIT_HLT) {
        const woken = wakeFromHlt(cpu, board);
        if (woken !== null) return woken;
      } else if (e === EXIT_TRIPLE_FAULT || e === EXIT_MMU) return machine.run(cpu.icount + 1);
      // A kick (exit device, PIT reprogrammed) before anything ran: runVcpu re-plans.
      else if (e === EXIT_STOP && cpu.icount === before && cpu.eip >>> 0 === prev) continue;
      // A unit that stopped the machine (the exit device) ends the run: no stop after it, as no
      // instruction runs after it (a coarse run cannot see one either).
      if (board.stopped === null && (this.afterAccess(hit, deliveries) || this.check(0, prev))) return here();
      if (n % CLOCK_EVERY === 0 && performance.now() - t0 > ms) return here();
    }
  }

  /**
   * runVcpu's loop (machine/run-loop.ts) with the Cpu's breakpoint check armed: slices as long as
   * the timer allows, ended early by a stop at a breakpoint.
   */
  private runNativeCoarse(machine: NativeMachine, target: number, ms: number): RunResult {
    const cpu = machine.cpu;
    const board = machine.board;
    const t0 = performance.now();
    const here = (): RunResult => machine.run(cpu.icount);
    for (;;) {
      if (board.stopped !== null || cpu.icount >= target) return here();
      const now = cpu.vtime();
      board.advance(now);
      const e = cpu.run(Math.max(1, Math.min(target - cpu.icount, COARSE_SLICE, board.nextDeadline() - now)));
      if (e === EXIT_HLT) {
        const woken = wakeFromHlt(cpu, board);
        if (woken !== null) return woken;
      } else if (e === EXIT_TRIPLE_FAULT || e === EXIT_MMU) return machine.run(cpu.icount + 1);
      else if (e === EXIT_STOP && this.breakStop(0)) return here();
      if (performance.now() - t0 > ms) return here();
    }
  }

  /**
   * One unit of the fine loops (Cpu.run(n), or Vcpu.step(n) returning its code for Cpu.run's
   * exit): `stopped` is the code of EXIT_STOP, `ran` the one of EXIT_BUDGET. An exception raised in it ends the run() right
   * after its delivery (raise hook below), before the handler's first instruction, so that a
   * breakpoint there is seen; that EXIT_STOP is ours and reads as EXIT_BUDGET. A stop request
   * of the board's (a kick) is left as it is.
   */
  private unit(go: (n: number) => number, n: number, stopped: number, ran: number): number {
    this.inUnit = true;
    this.raised = false;
    try {
      const e = go(n);
      return e === stopped && this.raised ? ran : e;
    } finally {
      this.inUnit = false;
      this.raised = false;
    }
  }

  /** Every exception goes through Cpu.raise(): in a fine unit it also asks run() to stop after
   *  the delivery. Installed once, before the guest runs (the Cpu's shape never changes later). */
  private hookRaise(cpu: Cpu): void {
    const raise = cpu.raise.bind(cpu);
    cpu.raise = (vector: number, errorCode: number): never => {
      if (this.inUnit && !cpu.stopRequested) {
        cpu.stopRequested = true;
        this.raised = true;
      }
      return raise(vector, errorCode);
    };
  }

  // ---- runs under the hypervisor ------------------------------------------------------------

  /** Route every vCPU step of the prepared guest through the checks (while `fine`). */
  attachVm(p: PreparedGuest): void {
    for (const v of p.vm.vcpus) {
      const step = v.step.bind(v);
      v.step = (slice: number): number => this.vcpuStep(p.run, v, step, slice);
    }
    const host = p.host;
    const hook = host.onPreempt;
    if (hook !== null) {
      host.onPreempt = (...args: Parameters<typeof hook>) => {
        this.nested++;
        try {
          hook(...args);
        } finally {
          this.nested--;
        }
      };
    }
  }

  private vcpuStep(run: VmRun, v: Vcpu, step: (slice: number) => number, slice: number): number {
    if (this.coarse) return this.coarseStep(run, v, step, slice);
    if (!this.fine || v.faulting || this.nested > 0) return step(slice);
    const cpu = v.cpu;
    for (let done = 0; done < slice; ) {
      if (this.eventFirst(cpu)) {
        const before = cpu.eip >>> 0;
        const r0 = this.unit(step, 0, STEP_STOPPED, STEP_RAN);
        if (r0 !== STEP_RAN || v.faulting) return r0;
        if (this.check(v.index, before)) {
          this.rest = { run, vcpu: v, insns: slice - done };
          return STEP_RAN;
        }
      }
      const prev = cpu.eip >>> 0;
      const before = cpu.icount;
      const hit = this.accessHit(v.index);
      const deliveries = cpu.deliveries;
      const r = this.unit(step, 1, STEP_STOPPED, STEP_RAN);
      // An exit (HLT, stop, triple fault) or a shadow fault now in flight ends the slice here,
      // exactly where the longer Cpu.run() would have returned. The unit may still have retired
      // its instruction first: a HLT, or an instruction ending its block whose successor lies on
      // a page the MMU has yet to map (the fetch's fault is what is in flight). The stop checks
      // apply to it as to any unit: a breakpoint on the first instruction of a fresh page, or a
      // stepi, stops there (with the fault still to complete when the guest goes on).
      if (r !== STEP_RAN || v.faulting) {
        if (cpu.icount !== before && run.vm.board.stopped === null && !this.afterAccess(hit, deliveries)) this.check(v.index, prev);
        return r;
      }
      // Units retired: none when an exception was delivered instead (the slice goes on, as
      // Cpu.run() goes on into the handler).
      done += cpu.icount - before;
      if (this.afterAccess(hit, deliveries) || this.check(v.index, prev)) {
        if (done < slice) this.rest = { run, vcpu: v, insns: slice - done };
        return STEP_RAN;
      }
    }
    return STEP_RAN;
  }

  /**
   * A scheduler step with the Cpu's breakpoint check armed. A stop there ends the step early and
   * keeps the rest of its slice for when the guest goes on, as vcpuStep does. Inside a host
   * preemption point the step runs whole, with the check disarmed (see the file comment).
   */
  private coarseStep(run: VmRun, v: Vcpu, step: (slice: number) => number, slice: number): number {
    const cpu = v.cpu;
    if (v.faulting) return step(slice);
    if (this.nested > 0) {
      const at = cpu.breakAt;
      cpu.breakAt = null;
      try {
        return step(slice);
      } finally {
        // Where that step left EIP counts as passed as well: the next step runs it unchecked,
        // as vcpuStep's first unit after a preemption point's step does.
        cpu.breakAt = at;
        cpu.breakLast = cpu.eip >>> 0;
      }
    }
    const before = cpu.icount;
    const r = step(slice);
    const done = cpu.icount - before;
    if (r === STEP_STOPPED && this.breakStop(v.index)) {
      if (done < slice) this.rest = { run, vcpu: v, insns: slice - done };
      return STEP_RAN;
    }
    // The step ended after an instruction and before the check of the next one (its fetch
    // faulted into the MMU, a HLT, the slice's end): a stop due there is made now, as vcpuStep
    // makes it after the unit, before another vCPU runs or the fault completes. No rest of the
    // slice is left then: the slice ran out, or a fault or HLT ends the step as it would anyway.
    if (done > 0 && run.vm.board.stopped === null && cpu.breakAt !== null && breakHere(cpu, cpu.eip)) this.breakStop(v.index);
    return r;
  }

  /**
   * Run the guest for about `ms`: first the rest of a step a stop cut short, then scheduler steps
   * until a stop, a pause request, the end of the run or the time is up. True when it returned
   * with the run unfinished.
   */
  runVm(p: PreparedGuest, ms: number): boolean {
    this.arm();
    const t0 = performance.now();
    const rest = this.rest;
    if (rest !== null) {
      this.rest = null;
      p.sim.stepVcpu(rest.run, rest.vcpu, rest.insns);
      if (p.run.result !== null) return false;
      if (this.stop !== null) return true;
    }
    let yielded = false;
    let steps = 0;
    p.sim.runUntilDone(() => {
      if (this.stop !== null || this.pauseRequested) return (yielded = true);
      // Watchpoints written inside a preemption point show up here, one step late.
      if (this.watches.length > 0 && this.nested === 0 && steps > 0 && this.checkWatches(0)) return (yielded = true);
      steps++;
      return (yielded = performance.now() - t0 > ms);
    });
    return yielded && p.run.result === null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
