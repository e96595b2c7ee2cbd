// Sweep bookkeeping shared by one process, its worker threads and `explore --merge`: which seeds
// a shard runs, and the summary of a set of run reports. The summary depends only on the reports
// (not on their order or on which process ran them), so merging shard outputs gives exactly what
// one process running every seed prints.

import type { RunReport, SchedulerName } from './explorer.js';

/** Seeds of shard i of n over [from, to]: every n-th seed starting at the i-th (round robin, so
 *  shards get equal work even when later seeds take longer). */
export function shardSeeds(from: number, to: number, shard: number, of: number): number[] {
  if (!(of >= 1) || !(shard >= 0 && shard < of)) throw new RangeError(`shard ${shard}/${of}: need 0 <= i < n`);
  const out: number[] = [];
  for (let s = from + shard; s <= to; s += of) out.push(s);
  return out;
}

export interface SweepSummary {
  type: 'summary';
  scenario: string;
  inject: string;
  scheduler: SchedulerName;
  runs: number;
  failures: number;
  /** Lowest seed that failed, or -1. */
  firstFailingSeed: number;
  firstChecker: string | null;
  firstSchedule: string | null;
  faults: number;
  swapIns: number;
}

/** Summaries of run reports, one per (scenario, injection, scheduler), sorted; duplicates (the
 *  same seed twice) count once. */
export function summarize(reports: readonly RunReport[]): SweepSummary[] {
  const groups = new Map<string, Map<number, RunReport>>();
  for (const r of reports) {
    const key = `${r.scenario}\u0000${r.inject}\u0000${r.scheduler}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = new Map()));
    if (!g.has(r.seed)) g.set(r.seed, r);
  }
  const out: SweepSummary[] = [];
  for (const key of [...groups.keys()].sort()) {
    const runs = [...groups.get(key)!.values()].sort((a, b) => a.seed - b.seed);
    const first = runs.find((r) => r.failed) ?? null;
    out.push({
      type: 'summary',
      scenario: runs[0]!.scenario,
      inject: runs[0]!.inject,
      scheduler: runs[0]!.scheduler,
      runs: runs.length,
      failures: runs.filter((r) => r.failed).length,
      firstFailingSeed: first?.seed ?? -1,
      firstChecker: first?.checker ?? null,
      firstSchedule: first?.schedule ?? null,
      faults: runs.reduce((a, r) => a + r.faults, 0),
      swapIns: runs.reduce((a, r) => a + r.swapIns, 0),
    });
  }
  return out;
}
