// How a run goes on under gdb without computing anything differently: breakpoints, watchpoints
// and single steps are checked after each retired unit by running the vCPU one unit at a time
// through its ordinary budget API (Cpu.run(1) inside Vcpu.step or runVcpu), which executes the
// same instructions in the same order as one longer slice; guest memory is never patched.
//
// Under the hypervisor a vCPU's slice is one step of the deterministic scheduler. A stop inside
// a slice must not cost the scheduler a choice, so the rest of the slice is kept and run first
// when the guest continues (Simulation.stepVcpu with the remaining budget), before the scheduler
// picks again: the schedule, and so every counter, is the one of a run without gdb. vCPU steps
// that the simulation runs at a host preemption point (inside a host mm operation) cannot stop
// midway; they run whole, and a watchpoint written there is reported after the enclosing step.

import type { Cpu } from '../../cpu/cpu.js';
import type { NativeMachine } from '../../machine/native-machine.js';
import type { RunResult } from '../../machine/run-loop.js';
import { STEP_RAN, type Vcpu } from '../../hv/vcpu.js';
import { FL_IF } from '../../cpu/flags.js';
import { EV_NONE } from '../../cpu/interrupts.js';
import { EXIT_BUDGET } from '../../cpu/ports.js';
import type { PreparedGuest } from '../../sim/run-guest.js';
import type { VmRun } from '../../sim/simulation.js';
import { readVirtual, type GuestPhys } from './guest-peek.js';
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
}

/** A read (Z3) or access (Z4) watchpoint: checked against the next instruction's operand. */
export interface AccessWatch {
  addr: number;
  len: number;
  kind: 'rwatch' | 'awatch';
}

/** Instructions run one at a time between two looks at the clock. */
const CLOCK_EVERY = 1024;

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

  constructor(
    private readonly cpus: readonly Cpu[],
    private readonly phys: GuestPhys,
  ) {}

  /** One unit at a time is needed (a breakpoint, watchpoint or step is pending). */
  get fine(): boolean {
    return this.swBreaks.size > 0 || this.hwBreaks.size > 0 || this.watches.length > 0 || this.accessWatches.length > 0 || this.stepping >= 0;
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
    this.watches.push({ addr, len, seen: this.watchBytes(0, addr, len) });
  }

  removeWatch(addr: number, len: number): boolean {
    const i = this.watches.findIndex((w) => w.addr === addr && w.len === len);
    if (i < 0) return false;
    this.watches.splice(i, 1);
    return true;
  }

  /** Watched bytes as they are now, so a change made while stopped (by gdb) is not reported. */
  resnapshot(): void {
    for (const w of this.watches) w.seen = this.watchBytes(0, w.addr, w.len);
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

  private checkWatches(i: number): boolean {
    for (const w of this.watches) {
      const now = this.watchBytes(i, w.addr, w.len);
      const changed = now === null || w.seen === null ? now !== w.seen : !sameBytes(now, w.seen);
      w.seen = now;
      if (changed && now !== null) {
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
    return cpu.pendKind !== EV_NONE || (cpu.irqLine && cpu.pic !== null && (cpu.getEflags() & FL_IF) !== 0);
  }

  // ---- native runs ----------------------------------------------------------------------------

  /** Run the native machine towards `target` retired instructions for about `ms` of wall time. */
  runNative(machine: NativeMachine, target: number, ms: number): RunResult {
    const cpu = machine.cpu;
    if (!this.fine) return machine.run(target);
    const t0 = performance.now();
    for (let n = 1; ; n++) {
      // The device events runVcpu would deliver first (advance() is idempotent for one instant).
      machine.board.advance(cpu.vtime());
      if (this.eventFirst(cpu)) {
        const before = cpu.eip >>> 0;
        if (cpu.run(0) !== EXIT_BUDGET) return machine.run(cpu.icount); // the loop reports the exit
        if (this.check(0, before)) return machine.run(cpu.icount);
      }
      const prev = cpu.eip >>> 0;
      const hit = this.accessHit(0);
      const deliveries = cpu.deliveries;
      // runVcpu with a budget of one more unit: the same device timing as a longer slice.
      const r = machine.run(cpu.icount + 1);
      if (r.reason !== 'budget' || this.afterAccess(hit, deliveries) || this.check(0, prev) || cpu.icount >= target) return r;
      if (n % CLOCK_EVERY === 0 && performance.now() - t0 > ms) return r;
    }
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
    if (!this.fine || v.faulting || this.nested > 0) return step(slice);
    const cpu = v.cpu;
    for (let done = 0; done < slice; ) {
      if (this.eventFirst(cpu)) {
        const before = cpu.eip >>> 0;
        const r0 = step(0);
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
      const r = step(1);
      // An exit (HLT, stop, triple fault) or a shadow fault now in flight ends the slice here,
      // exactly where the longer Cpu.run() would have returned.
      if (r !== STEP_RAN || v.faulting) return r;
      done += Math.max(1, cpu.icount - before);
      if (this.afterAccess(hit, deliveries) || this.check(v.index, prev)) {
        if (done < slice) this.rest = { run, vcpu: v, insns: slice - done };
        return STEP_RAN;
      }
    }
    return STEP_RAN;
  }

  /**
   * Run the guest for about `ms`: first the rest of a step a stop cut short, then scheduler steps
   * until a stop, a pause request, the end of the run or the time is up. True when it returned
   * with the run unfinished.
   */
  runVm(p: PreparedGuest, ms: number): boolean {
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
