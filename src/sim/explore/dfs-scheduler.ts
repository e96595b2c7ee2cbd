// Bounded exhaustive search (the `dfs` scheduler), stateless as in CHESS and loom: each run
// replays a prefix of choices, takes the default (option 0) after it, and records how many
// options every point had; the next run bumps the deepest point that still has an untried
// option, as long as the schedule stays within the preemption bound (a preemption is a non-zero
// pick where the running actor could have gone on). When no point can be bumped, every schedule
// within the bound has been run: the space is exhausted.

import type { ChoiceRecord, Chooser } from '../choice.js';

export class DfsExplorer {
  /** Picks of the next run's prefix. */
  private prefix: number[] = [];
  exhausted = false;
  runs = 0;

  constructor(readonly preemptionBound: number) {}

  /** The chooser for the next run. */
  chooser(): Chooser {
    const prefix = this.prefix;
    let i = 0;
    return {
      choose(_kind: number, options: readonly number[]): number {
        const p = i < prefix.length ? prefix[i]! : 0;
        i++;
        return p < options.length ? p : 0;
      },
    };
  }

  /** Feed the run's records; computes the next prefix or marks the space exhausted. */
  done(records: readonly ChoiceRecord[]): void {
    this.runs++;
    const before = new Int32Array(records.length + 1);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      before[i + 1] = before[i]! + (r.pick !== 0 && r.preemptive ? 1 : 0);
    }
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i]!;
      const next = r.pick + 1;
      if (next >= r.n) continue;
      if (before[i]! + (r.preemptive ? 1 : 0) > this.preemptionBound) continue;
      this.prefix = records.slice(0, i).map((x) => x.pick);
      this.prefix.push(next);
      return;
    }
    this.exhausted = true;
  }
}
