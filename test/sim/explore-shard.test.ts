// Sharded sweeps: the shard arithmetic covers every seed exactly once, and the shipped recipes
// agree with themselves.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shardSeeds, summarize } from '../../src/sim/explore/summary.js';
import { ROOT } from '../cli/helpers.js';

describe('shard arithmetic', () => {
  it('every seed lands in exactly one shard, in round-robin order', () => {
    for (const [from, to, n] of [[1, 100, 7], [5, 5, 3], [0, 9999, 16], [10, 12, 1]] as const) {
      const seen = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const part = shardSeeds(from, to, i, n);
        for (const s of part) seen.set(s, (seen.get(s) ?? 0) + 1);
        for (let k = 1; k < part.length; k++) expect(part[k]! - part[k - 1]!).toBe(n);
        if (part.length > 0) expect(part[0]).toBe(from + i);
      }
      expect(seen.size).toBe(to - from + 1);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
      // Sizes differ by at most one.
      const sizes = Array.from({ length: n }, (_, i) => shardSeeds(from, to, i, n).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(() => shardSeeds(1, 10, 3, 3)).toThrow(RangeError);
  });

  it('summaries do not depend on the order or duplication of run reports', () => {
    const r = (seed: number, failed: boolean) => ({
      scenario: 's', inject: '', scheduler: 'pct' as const, seed, failed, checker: failed ? 'stale' : null, message: null,
      steps: 1, preemptions: 0, switches: 0, faults: seed, swapIns: 1, schedule: `sv1:s:-:${seed}`,
    });
    const a = summarize([r(1, false), r(2, true), r(3, true)]);
    const b = summarize([r(3, true), r(1, false), r(2, true), r(2, true)]);
    expect(b).toEqual(a);
    expect(a[0]).toMatchObject({ runs: 3, failures: 2, firstFailingSeed: 2, faults: 6, swapIns: 3 });
  });

  it('the recipes use one shard count each and end in the merge', () => {
    const k8s = readFileSync(join(ROOT, 'recipes/explore/k8s-indexed-job.yaml'), 'utf8');
    const completions = Number(/completions: (\d+)/.exec(k8s)![1]);
    expect(Number(/parallelism: (\d+)/.exec(k8s)![1])).toBe(completions);
    expect(k8s).toContain(`--shard \${JOB_COMPLETION_INDEX}/${completions}`);
    expect(k8s).toContain('completionMode: Indexed');
    expect(k8s).toContain('explore --merge');
    const slurm = readFileSync(join(ROOT, 'recipes/explore/slurm-array.sh'), 'utf8');
    const [, lo, hi] = /--array=(\d+)-(\d+)/.exec(slurm)!;
    expect(Number(/SHARDS=(\d+)/.exec(slurm)![1])).toBe(Number(hi) - Number(lo) + 1);
    expect(slurm).toContain('--shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}"');
    const par = readFileSync(join(ROOT, 'recipes/explore/gnu-parallel.sh'), 'utf8');
    expect(par).toContain('--shard {}/$SHARDS');
    expect(par).toContain('--sshlogin');
    expect(par).toMatch(/explore --merge "\$RESULTS"\/shard-\*\.jsonl\s*$/);
  });
});

// The local parallel run whose merge equals one process's: test/sim/explore-parallel.test.ts
// (the GNU parallel recipe itself, three shards).
