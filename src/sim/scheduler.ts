// The deterministic scheduler: everything that runs "concurrently" in the simulation (vCPUs,
// kswapd, ksmd, host workload tasks) is a task whose steps are interleaved by a seeded PRNG, so
// the races the mmu_notifier exists for happen — and happen again, identically, for the same
// seed. A task step is atomic; preemption inside host mm operations is offered separately
// through the host's onPreempt hook (see Simulation).

import { Prng } from '../host/prng.js';

export interface Task {
  readonly name: string;
  /** Relative chance of being picked among runnable tasks. */
  readonly weight: number;
  /** Whether step() has something to do now. */
  runnable(): boolean;
  /** Do one unit of work. */
  step(): void;
}

export class Scheduler {
  readonly tasks: Task[] = [];
  readonly prng: Prng;
  steps = 0;
  private readonly pick: Task[] = [];

  constructor(seed: number) {
    this.prng = new Prng(seed ^ 0x5eed5eed);
  }

  add(task: Task): void {
    this.tasks.push(task);
  }

  /** One scheduling decision; false when no task is runnable. */
  stepOnce(): boolean {
    const pick = this.pick;
    pick.length = 0;
    let total = 0;
    for (const t of this.tasks) {
      if (t.runnable()) {
        pick.push(t);
        total += t.weight;
      }
    }
    if (pick.length === 0) return false;
    let r = this.prng.nextFloat() * total;
    let chosen = pick[pick.length - 1]!;
    for (const t of pick) {
      r -= t.weight;
      if (r < 0) {
        chosen = t;
        break;
      }
    }
    this.steps++;
    chosen.step();
    return true;
  }
}
