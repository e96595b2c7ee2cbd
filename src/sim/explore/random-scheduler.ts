// The `random` scheduler: every choice uniformly at random among its options (seeded), as the
// weighted-random simulation scheduler does for whole runs. Finds shallow races quickly, deep
// ones rarely; the baseline the other schedulers are measured against.

import { Prng } from '../../host/prng.js';
import type { Chooser } from '../choice.js';

export class RandomChooser implements Chooser {
  private readonly prng: Prng;
  constructor(seed: number) {
    this.prng = new Prng((seed ^ 0x7a3d) >>> 0 || 1);
  }
  choose(_kind: number, options: readonly number[]): number {
    return this.prng.below(options.length);
  }
}
