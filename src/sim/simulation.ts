// One simulated host running VMs: the scheduler's tasks (each vCPU, kswapd, ksmd, host workload
// tasks) and the run loop of every VM (KVM_RUN exit handling: HLT, triple fault, EFAULT, the
// exit device, the instruction budget). Host mm operations offer preemption points (Host.onPreempt);
// there the simulation may run vCPU work that does not itself need the host mm — guest
// instructions, or the mmu_lock half of a fault — which is exactly where the mmu_notifier
// protocol has to hold (reference/kvm-mmu.md §1.6).

import type { Host } from '../host/host.js';
import { Prng } from '../host/prng.js';
import type { Vm } from '../hv/vm.js';
import {
  STEP_EFAULT,
  STEP_HALTED,
  STEP_STOPPED,
  STEP_TRIPLE_FAULT,
  type Vcpu,
} from '../hv/vcpu.js';
import { GuestError } from '../cpu/errors.js';
import { tripleFaultMessage } from '../cpu/interrupts.js';
import { wakeFromHlt, EXIT_STATUS_BAD_INPUT, EXIT_STATUS_BUDGET, EXIT_STATUS_HALTED, EXIT_STATUS_TRIPLE_FAULT, type RunResult } from '../machine/run-loop.js';
import { Scheduler, type Task } from './scheduler.js';
import { CHOICE_PREEMPT, ChoiceRecorder, type Chooser } from './choice.js';
import type { HostPreemptPoint } from '../host/preempt-points.js';
import type { EventRing } from '../obs/event-ring.js';
import { checkVmInvariants, InvariantError } from '../hv/check.js';
import { EXIT_STATUS_STALE } from '../obs/exit-status.js';
import { EV_HOST_TASK, HOST, TASK_KSMD, TASK_KSWAPD } from '../obs/events.js';

import { EXIT_STATUS_EFAULT, EXIT_STATUS_OOM_KILLED } from '../obs/exit-status.js';
export { EXIT_STATUS_EFAULT, EXIT_STATUS_OOM_KILLED };

export interface SimOptions {
  seed: number;
  /** Longest guest slice per scheduling step (instructions). */
  slice?: number;
  /** Chance that a host preemption point runs one vCPU step (0 disables preemption). */
  preemptChance?: number;
  /** Run ksmd every this many scheduler steps (0: never). */
  ksmEvery?: number;
  ksmPagesPerStep?: number;
  /** Trace ring: host task steps (kswapd, ksmd) are recorded as the causes of invalidations. */
  ring?: EventRing | null;
  /** Run the hypervisor's and the host's invariant checkers (hv/check.ts, host/invariants.ts)
   *  after every scheduling step; a broken invariant stops every VM with exit status 5 and the
   *  checker's message. The explorer's oracle as an engine option (`run --check`). */
  checkInvariants?: boolean;
  /** With checkInvariants: check after every N-th scheduling step only (default 1). The checks
   *  walk every spte and host frame, so a long guest run affords them only now and then. */
  checkEvery?: number;
  /**
   * The explorer's hook: every scheduling decision and every host preemption point is a choice
   * of this Chooser, recorded (sim.recorder), instead of the seeded PRNG's (`seed`,
   * `preemptChance` are then unused). At a preemption point option 0 lets the host operation go
   * on; option k runs one step of an eligible vCPU there (up to PREEMPT_INSIDE_MAX in a row).
   * With checkInvariants, the hypervisor's checks also run after each of those inside steps.
   */
  chooser?: Chooser;
  /** With chooser and checkInvariants: an extra check after steps inside a host operation
   *  (the explorer's invalidation-window rule); a message stops the run like an invariant. */
  checkInside?: (vm: Vm) => { checker: string; message: string } | null;
}

/** Most vCPU steps one preemption point may run under a chooser before the host goes on. */
export const PREEMPT_INSIDE_MAX = 3;

const hex8 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** A VM under the simulation, with its budget and, once it stopped, its result. */
export class VmRun {
  result: RunResult | null = null;
  readonly parked: boolean[];

  constructor(
    readonly vm: Vm,
    readonly maxInsns: number,
  ) {
    this.parked = vm.vcpus.map(() => false);
  }

  allParked(): boolean {
    for (const p of this.parked) if (!p) return false;
    return true;
  }

  instructions(): number {
    let n = 0;
    for (const v of this.vm.vcpus) n += v.cpu.icount;
    return n;
  }

  finish(exitCode: number, reason: RunResult['reason'] | 'efault' | 'oom-killed' | 'stale', message: string): void {
    if (this.result !== null) return;
    // A vCPU stopped in the middle of a fault lets go of the page it got from the host.
    for (const v of this.vm.vcpus) v.abortFault();
    const cpu = this.vm.vcpus[0]!.cpu;
    this.result = {
      exitCode,
      reason: reason as RunResult['reason'],
      message,
      instructions: this.instructions(),
      vtime: cpu.vtime(),
      eip: cpu.eip >>> 0,
    };
  }
}

class VcpuTask implements Task {
  readonly name: string;
  readonly weight = 8;

  constructor(
    private readonly sim: Simulation,
    readonly run: VmRun,
    readonly vcpu: Vcpu,
  ) {
    this.name = `${run.vm.name}/vcpu${vcpu.index}`;
  }

  runnable(): boolean {
    return this.run.result === null && !this.run.parked[this.vcpu.index];
  }

  step(): void {
    this.sim.stepVcpu(this.run, this.vcpu, this.sim.slice);
  }
}

class KswapdTask implements Task {
  readonly name = 'kswapd';
  readonly weight = 2;
  /** After a pass that freed nothing (everything pinned or in use), sleep for a while, as kswapd
   *  backs off instead of spinning on an unreclaimable LRU. */
  private sleep = 0;
  constructor(
    private readonly host: Host,
    private readonly ring: EventRing | null,
  ) {}
  runnable(): boolean {
    if (this.sleep > 0) {
      this.sleep--;
      return false;
    }
    return this.host.kswapdWanted || this.host.ft.nrFree < this.host.wmarkLow;
  }
  step(): void {
    if (this.ring !== null) this.ring.emit(EV_HOST_TASK, HOST, TASK_KSWAPD);
    if (this.host.kswapd() === 0) this.sleep = 64;
  }
}

class KsmdTask implements Task {
  readonly name = 'ksmd';
  readonly weight = 1;
  private countdown: number;
  constructor(
    private readonly host: Host,
    private readonly every: number,
    private readonly pages: number,
    private readonly ring: EventRing | null,
  ) {
    this.countdown = every;
  }
  runnable(): boolean {
    return true;
  }
  step(): void {
    if (--this.countdown > 0) return;
    this.countdown = this.every;
    if (this.ring !== null) this.ring.emit(EV_HOST_TASK, HOST, TASK_KSMD);
    this.host.ksmdStep(this.pages);
  }
}

export class Simulation {
  readonly sched: Scheduler;
  readonly runs: VmRun[] = [];
  readonly slice: number;
  private readonly preemptChance: number;
  private readonly preemptPrng: Prng;
  private inPreempt = false;
  private readonly checkInvariants: boolean;
  private readonly checkEvery: number;
  private sinceCheck = 0;
  private readonly stampNow: number[] = [];
  private readonly stampLast: number[] = [];
  private readonly checkInside: NonNullable<SimOptions['checkInside']> | null;
  /** Preemption points at which a vCPU step actually ran. */
  preemptions = 0;
  /** With SimOptions.chooser: the recorded choices of the run. */
  readonly recorder: ChoiceRecorder | null;
  /** The first broken check (checkInvariants): which checker, and its message. */
  failure: { checker: string; message: string } | null = null;

  constructor(
    readonly host: Host,
    opts: SimOptions,
  ) {
    this.sched = new Scheduler(opts.seed);
    this.slice = opts.slice ?? 20_000;
    this.preemptChance = opts.preemptChance ?? 0.25;
    this.preemptPrng = new Prng(opts.seed ^ 0x70ee);
    this.checkInvariants = opts.checkInvariants === true;
    this.checkEvery = Math.max(1, opts.checkEvery ?? 1);
    this.checkInside = opts.checkInside ?? null;
    const ring = opts.ring ?? null;
    this.sched.add(new KswapdTask(host, ring));
    if ((opts.ksmEvery ?? 0) > 0) this.sched.add(new KsmdTask(host, opts.ksmEvery!, opts.ksmPagesPerStep ?? 64, ring));
    this.recorder = opts.chooser === undefined ? null : new ChoiceRecorder(opts.chooser);
    this.sched.recorder = this.recorder;
    if (this.recorder !== null) host.onPreempt = (point) => this.chosenPreemptPoint(this.recorder!, point);
    else if (this.preemptChance > 0) host.onPreempt = () => this.preemptPoint();
  }

  addVm(vm: Vm, maxInsns = Infinity): VmRun {
    const run = new VmRun(vm, maxInsns);
    this.runs.push(run);
    for (const v of vm.vcpus) this.sched.add(new VcpuTask(this, run, v));
    return run;
  }

  addTask(task: Task): void {
    this.sched.add(task);
  }

  /** Run until every VM stopped (or `until` says so). */
  runUntilDone(until?: () => boolean): void {
    // One pass per scheduler step (a 20 k-instruction slice of a vCPU): plain loops, no closures,
    // so a long single-VM run does not spend its time here.
    while (this.anyRunning()) {
      if (until !== undefined && until()) return;
      // A VM whose every vCPU is parked can never run again; host tasks (ksmd, a forking VMM)
      // would otherwise keep the scheduler busy forever.
      for (const r of this.runs) {
        if (r.result === null && r.allParked()) {
          r.finish(EXIT_STATUS_HALTED, 'halted', `${r.vm.name}: every vCPU is halted and none can be woken`);
        }
      }
      if (!this.sched.stepOnce()) return;
      if (this.checkInvariants && ++this.sinceCheck >= this.checkEvery) {
        this.sinceCheck = 0;
        this.checkAll(true);
      }
    }
  }

  private anyRunning(): boolean {
    for (const r of this.runs) if (r.result === null) return true;
    return false;
  }

  /** The invariant checkers after a step (checkInvariants): the first broken one stops every VM.
   *  The host's own check only between host operations (`betweenHostOps`), where it must hold. */
  private checkAll(betweenHostOps: boolean): void {
    let f: { checker: string; message: string } | null = null;
    for (const r of this.runs) {
      if (r.result !== null || r.vm.dead) continue;
      try {
        checkVmInvariants(r.vm);
      } catch (e) {
        if (!(e instanceof InvariantError)) throw e;
        f = { checker: `hv-invariant-${e.invariant}`, message: `${r.vm.name}: ${e.message}` };
        break;
      }
      if (!betweenHostOps && this.checkInside !== null) {
        const g = this.checkInside(r.vm);
        if (g !== null) {
          f = { checker: g.checker, message: `${r.vm.name}: ${g.message}` };
          break;
        }
      }
    }
    if (f === null && betweenHostOps && this.hostMoved()) {
      try {
        this.host.checkInvariants();
      } catch (e) {
        f = { checker: 'host-invariant', message: (e as Error).message };
      }
    }
    if (f === null) return;
    this.failure ??= f;
    const where = betweenHostOps ? `after scheduler step ${this.sched.steps}` : `inside a host operation (scheduler step ${this.sched.steps})`;
    for (const r of this.runs) r.finish(EXIT_STATUS_STALE, 'exit', `broken invariant ${where}: ${f.message}`);
  }

  /**
   * Whether any host counter moved since the last host check: the host's own check walks every
   * page table entry, swap slot and frame, and a step that only ran guest code through existing
   * translations (or changed only hypervisor state) cannot have broken it.
   */
  private hostMoved(): boolean {
    const h = this.host;
    const st = h.stats;
    const now = this.stampNow;
    now.length = 0;
    now.push(st.faults, st.swapIns, st.swapInsFromCache, st.swapOuts, st.swapOutsClean, st.cowBreaks, st.cowReuses, st.gups,
      st.ksmPagesScanned, st.ksmMerges, st.ksmCowBreaks, st.reclaimScanned, st.framesFreed, st.notifierStarts, st.notifierEnds,
      st.migrations, st.oomKills, st.oomReapedPages, h.ft.nrFree, h.outstandingGupRefs, h.swap.nrFree, h.mms.size);
    for (const mm of h.mms.values()) now.push(mm.rss, mm.swapEnts, mm.vmas.length);
    const last = this.stampLast;
    let same = now.length === last.length;
    for (let i = 0; same && i < now.length; i++) same = now[i] === last[i];
    if (same) return false;
    last.length = 0;
    last.push(...now);
    return true;
  }

  /**
   * A preemption point under a chooser: option 0 lets the host operation go on (the task that
   * is running it); the others are vCPUs that may run here without the host mm (not the task
   * running the operation, not a fault about to gup). Up to PREEMPT_INSIDE_MAX steps in a row.
   */
  private chosenPreemptPoint(rec: ChoiceRecorder, _point: HostPreemptPoint): void {
    if (this.inPreempt) return;
    const tasks = this.sched.tasks;
    const running = this.sched.current;
    let last = -1;
    this.inPreempt = true;
    try {
      for (let k = 0; k < PREEMPT_INSIDE_MAX; k++) {
        if (this.runs.every((r) => r.result !== null)) return;
        const options = [running];
        for (let i = 0; i < tasks.length; i++) {
          const t = tasks[i]!;
          if (i !== running && t instanceof VcpuTask && t.runnable() && !t.vcpu.nextStepTouchesHost) options.push(i);
        }
        const pick = rec.choose(CHOICE_PREEMPT, options, last < 0 ? running : last, last < 0);
        if (pick === 0) return;
        const id = options[pick]!;
        if (last < 0) {
          rec.preemptions++;
          rec.switches += 2;
          this.preemptions++;
        } else if (id !== last) rec.switches++;
        last = id;
        const t = tasks[id] as VcpuTask;
        this.stepVcpu(t.run, t.vcpu, 64);
        if (this.checkInvariants) this.checkAll(false);
      }
    } finally {
      this.inPreempt = false;
    }
  }

  /** A host mm operation reached a point where Linux could be preempted. */
  private preemptPoint(): void {
    if (this.inPreempt || this.preemptPrng.nextFloat() >= this.preemptChance) return;
    const eligible: [VmRun, Vcpu][] = [];
    for (const r of this.runs) {
      if (r.result !== null) continue;
      for (const v of r.vm.vcpus) if (!r.parked[v.index] && !v.nextStepTouchesHost) eligible.push([r, v]);
    }
    if (eligible.length === 0) return;
    const [run, vcpu] = eligible[this.preemptPrng.below(eligible.length)]!;
    this.inPreempt = true;
    try {
      this.preemptions++;
      this.stepVcpu(run, vcpu, 64);
    } finally {
      this.inPreempt = false;
    }
  }

  /** Why a VM's process is gone: the host's own OOM report when it has one. */
  private oomMessage(vm: Vm): string {
    const why = vm.mm.oomKilled ? this.host.stats.lastOomMessage : '';
    return `${vm.name}: the host killed the VM process${why === '' ? ' (out of memory)' : `: ${why}`}`;
  }

  /** One step of one vCPU with the VM-level exit handling of a VMM's KVM_RUN loop. */
  stepVcpu(run: VmRun, v: Vcpu, maxSlice: number): void {
    const vm = run.vm;
    if (run.result !== null) return;
    const stop = vm.board.stopped;
    if (stop !== null) return run.finish(stop.exitCode, stop.reason, stop.message);
    if (vm.dead) {
      return run.finish(EXIT_STATUS_OOM_KILLED, 'oom-killed', this.oomMessage(vm));
    }
    const cpu = v.cpu;
    let slice = maxSlice;
    if (!v.faulting) {
      const left = run.maxInsns - run.instructions();
      if (left <= 0) {
        return run.finish(EXIT_STATUS_BUDGET, 'budget', `instruction budget of ${run.maxInsns} exhausted at EIP ${hex8(cpu.eip)}`);
      }
      slice = Math.min(slice, left);
      if (v.index === 0) {
        const now = cpu.vtime();
        vm.board.advance(now);
        slice = Math.max(1, Math.min(slice, vm.board.nextDeadline() - now));
      }
    }
    let r: number;
    try {
      r = v.step(slice);
    } catch (e) {
      // A guest doing what GUEST-ABI refuses (a non-flat segment, V86 mode, a task gate) stops
      // its own VM cleanly; other VMs on the host run on.
      if (!(e instanceof GuestError)) throw e;
      return run.finish(EXIT_STATUS_BAD_INPUT, 'guest-error', e.message);
    }
    switch (r) {
      case STEP_HALTED: {
        if (v.index !== 0) {
          run.parked[v.index] = true; // IRQs only reach vCPU 0: an AP that halts sleeps for good
          return;
        }
        const woken = wakeFromHlt(cpu, vm.board);
        if (woken !== null) {
          if (vm.vcpus.length > 1 && run.parked.some((p, i) => i > 0 && !p)) run.parked[0] = true;
          else run.finish(woken.exitCode, woken.reason, woken.message);
        }
        return;
      }
      case STEP_TRIPLE_FAULT:
        return run.finish(
          EXIT_STATUS_TRIPLE_FAULT,
          'triple-fault',
          tripleFaultMessage(cpu),
        );
      case STEP_EFAULT: {
        const f = v.faultOut;
        if (vm.dead) return run.finish(EXIT_STATUS_OOM_KILLED, 'oom-killed', this.oomMessage(vm));
        return run.finish(
          EXIT_STATUS_EFAULT,
          'efault',
          `guest memory at gpa ${hex8(f.gfn * 4096)} (hva ${hex8(f.hva)}) could not be faulted in (errno ${-f.errno})`,
        );
      }
      case STEP_STOPPED:
        if (vm.board.stopped === null) cpu.stopRequested = false;
        return;
      default:
        return;
    }
  }
}
