// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010):
// each actor gets a random distinct priority, the highest-priority option always runs, and at
// d-1 steps chosen uniformly among the run's k steps the running actor's priority drops below
// every other. For n actors and k steps, one run finds a given bug of depth d with probability
// at least 1/(n * k^(d-1)); pctRunsFor gives the run count that makes finding it likely.

import { Prng } from '../../host/prng.js';
import type { Chooser } from '../choice.js';

export class PctChooser implements Chooser {
  private readonly prng: Prng;
  private readonly prio = new Map<number, number>();
  private readonly changeAt: number[] = [];
  private step = 0;
  private nextLow: number;

  /**
   * @param actors how many actors may appear (priorities are drawn for ids 0..actors-1; the host
   *   side of a preemption point is the actor running the host operation)
   * @param steps the expected number of choice points k in a run
   * @param depth the bug depth d (d - 1 priority change points)
   */
  constructor(seed: number, actors: number, steps: number, depth: number) {
    this.prng = new Prng((seed ^ 0x9c7) >>> 0 || 1);
    // Random distinct priorities d .. d+n-1; change points lower to d-1 .. 1.
    const ids = Array.from({ length: actors }, (_, i) => i);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = this.prng.below(i + 1);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    ids.forEach((id, rank) => this.prio.set(id, depth + rank));
    for (let i = 0; i < depth - 1; i++) this.changeAt.push(1 + this.prng.below(Math.max(1, steps)));
    this.nextLow = depth - 1;
  }

  choose(_kind: number, options: readonly number[], running: number): number {
    this.step++;
    for (const at of this.changeAt) {
      if (at === this.step && running >= 0) this.prio.set(running, this.nextLow--);
    }
    let best = 0;
    let bestPrio = -Infinity;
    for (let i = 0; i < options.length; i++) {
      const p = this.prio.get(options[i]!) ?? 0;
      if (p > bestPrio) {
        bestPrio = p;
        best = i;
      }
    }
    return best;
  }
}

/** Runs needed so that a bug of depth d is found with probability >= 1 - 1/e: n * k^(d-1). */
export function pctRunsFor(actors: number, steps: number, depth: number): number {
  return Math.ceil(actors * Math.pow(Math.max(1, steps), depth - 1));
}
