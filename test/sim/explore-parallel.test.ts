// The GNU parallel recipe (recipes/explore/gnu-parallel.sh) run for real: three shards as
// parallel jobs, then the recipe's own merge, equal to what one process running every seed
// prints. Needs GNU parallel: without it the test is skipped visibly, and under CI=true it
// fails (.ci/run installs parallel).

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/sim/explore/explorer.js';
import { summarize } from '../../src/sim/explore/summary.js';
import { BIN, cli, ROOT, tempDir } from '../cli/helpers.js';

const haveParallel = spawnSync('parallel', ['--version'], { encoding: 'utf8' }).stdout?.startsWith('GNU parallel') === true;
const inCi = Boolean(process.env.CI);

if (!haveParallel && !inCi) {
  console.warn('\n[explore-parallel] GNU parallel not found: SKIPPING the recipe test (apt-get install parallel; in CI it fails instead)\n');
}

describe('the GNU parallel recipe', () => {
  if (!haveParallel) {
    if (inCi) {
      it('requires GNU parallel in CI', () => {
        throw new Error('GNU parallel is not installed but CI is set: the recipe test cannot run. Install it (apt-get install -y parallel), as .ci/run does.');
      });
    } else {
      it.skip('GNU parallel not installed: recipe test skipped', () => {});
    }
    return;
  }

  it('3 shards under parallel merge into exactly one process\'s result', () => {
    const out = join(tempDir('sv-explore-par-'), 'results');
    const args = '--scenario dontneed-read';
    const r = spawnSync('bash', [join(ROOT, 'recipes/explore/gnu-parallel.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, SHARDS: '3', SEEDS: '1..60', ARGS: args, RESULTS: out, SV: `${process.execPath} ${BIN}` },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['shard-0.jsonl', 'shard-1.jsonl', 'shard-2.jsonl']);
    // The recipe's last line of output is its merge; one process over every seed, merged, is the same.
    const one = cli(['explore', '--scheduler', 'random', '--seeds', '1..60', ...args.split(' '), '--keep-going', '--json']);
    expect(one.status).toBe(0);
    const single = cli(['explore', '--merge', '-'], { input: one.stdout });
    expect(r.stdout).toBe(single.stdout);
    expect(r.stdout).toMatch(/^dontneed-read \(random\): 60 runs, 0 failing\n$/);
    // Every field of the summaries (faults, swap-ins, first failure), not only the text's.
    const runsOf = (text: string): RunReport[] =>
      text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunReport & { type: string }).filter((o) => o.type === 'run');
    const shards = [0, 1, 2].flatMap((i) => runsOf(readFileSync(join(out, `shard-${i}.jsonl`), 'utf8')));
    expect(shards).toHaveLength(60);
    expect(summarize(shards)).toEqual(summarize(runsOf(one.stdout)));
  });
});
