// The deterministic scheduler: everything that runs "concurrently" in the simulation (vCPUs,
// kswapd, ksmd, host workload tasks) is a task whose steps are interleaved by a seeded PRNG, so
// the races the mmu_notifier exists for happen — and happen again, identically, for the same
// seed. A task step is atomic; preemption inside host mm operations is offered separately
// through the host's onPreempt hook (see Simulation). With a ChoiceRecorder (the explorer's
// `--image` runs) every pick is a recorded choice of a Chooser instead of the PRNG's: option 0
// keeps the task that stepped last, the others follow in task order.

import { Prng } from '../host/prng.js';
import { CHOICE_PICK, type ChoiceRecorder } from './choice.js';

export interface Task {
  readonly name: string;
  /** Relative chance of being picked among runnable tasks. */
  readonly weight: number;
  /** Whether step() has something to do now. */
  runnable(): boolean;
  /** Do one unit of work. */
  step(): void;
}

/**
 * Under a chooser, a task that stepped this many times in a row while others were runnable is
 * not offered the next step (its time slice is over; the host scheduler would switch). Without
 * it a priority scheduler (PCT, or the default schedule, which keeps the running task) lets a
 * vCPU spinning on a barrier starve the vCPU it waits for, and every run of an SMP guest ends as
 * a false liveness failure. The switch is forced, not a choice: it is neither recorded as one
 * nor counted as a preemption.
 */
export const FAIR_SLICE = 64;

export class Scheduler {
  readonly tasks: Task[] = [];
  readonly prng: Prng;
  steps = 0;
  /** Index of the task that stepped last (-1 before the first step). */
  current = -1;
  /** When set, the picks are this recorder's (the explorer), never the PRNG's. */
  recorder: ChoiceRecorder | null = null;
  private readonly pick: Task[] = [];
  private readonly options: number[] = [];
  /** Steps the current task made in a row (chooser only). */
  private runLength = 0;

  constructor(seed: number) {
    this.prng = new Prng(seed ^ 0x5eed5eed);
  }

  add(task: Task): void {
    this.tasks.push(task);
  }

  /** One scheduling decision; false when no task is runnable. */
  stepOnce(): boolean {
    if (this.recorder !== null) return this.stepChosen(this.recorder);
    // pick[0 .. n) are this step's runnable tasks. Not `pick.length = 0` and push: truncating
    // an array drops its backing store, and a new one per step (a vCPU slice) is garbage.
    const pick = this.pick;
    let n = 0;
    let total = 0;
    for (const t of this.tasks) {
      if (t.runnable()) {
        pick[n++] = t;
        total += t.weight;
      }
    }
    if (n === 0) return false;
    let r = this.prng.nextFloat() * total;
    let chosen = pick[n - 1]!;
    for (let k = 0; k < n; k++) {
      r -= pick[k]!.weight;
      if (r < 0) {
        chosen = pick[k]!;
        break;
      }
    }
    this.steps++;
    this.current = this.tasks.indexOf(chosen);
    chosen.step();
    return true;
  }

  /** One decision by the recorder's Chooser: option 0 is the task that stepped last, if it can go on. */
  private stepChosen(rec: ChoiceRecorder): boolean {
    const opts = this.options;
    opts.length = 0;
    let curRunnable = false;
    for (let i = 0; i < this.tasks.length; i++) {
      if (!this.tasks[i]!.runnable()) continue;
      if (i === this.current) curRunnable = true;
      else opts.push(i);
    }
    // Time slice over: the others go first (if there are any).
    if (curRunnable && this.runLength >= FAIR_SLICE && opts.length > 0) curRunnable = false;
    else if (curRunnable) opts.unshift(this.current);
    if (opts.length === 0) return false;
    const next = opts[rec.choose(CHOICE_PICK, opts, this.current, curRunnable)]!;
    if (next !== this.current) {
      if (this.current >= 0) rec.switches++;
      if (curRunnable) rec.preemptions++;
      this.runLength = 0;
    }
    this.runLength++;
    this.current = next;
    this.steps++;
    this.tasks[next]!.step();
    return true;
  }
}
