// Shrinking a failing schedule, dejafu style: while the same checker still fails, look for a
// schedule with fewer preemptions, then fewer context switches, then fewer choice points, and
// keep any candidate that is smaller in that order (preemptions, switches, length). Single-pick
// edits alone stop at local minima (two preemptions that only work together, a run of picks that
// can only go as a block), so each pass tries, in this order:
//   0. all but the last k non-default picks set to the default, k = 0, 1, 2, 4, ... (the choices
//      that make a failure are usually the last few before it);
//   1. delta debugging (Zeller's ddmin) over the non-default picks: set chunks of them to the
//      default at once, halving the chunk size when no chunk can go (preemptive picks first);
//   2. every non-default pick lowered to each smaller option;
//   3. ddmin over positions: delete chunks of picks (the rest of the run shifts up);
//   4. a non-default pick moved one choice point earlier or later (a preemption that only
//      needs to happen "about here" finds the place where it makes the fewest switches);
//   5. when 1-4 changed nothing: bounded exhaustive search (dfs) with one preemption fewer
//      than the best (none, when it has none but switches), for a schedule the local edits
//      cannot reach;
// and passes repeat until one changes nothing (a fixpoint) or the run budget is spent. Each
// accepted candidate is re-read from the run it produced, so the result is exactly what a
// replay does.

import { ReplayChooser } from '../choice.js';
import type { Bug } from './bugs.js';
import { DfsExplorer } from './dfs-scheduler.js';
import { runOnce, type RunOutcome } from './engine.js';
import type { Scenario } from './scenarios.js';

export interface ScheduleSize {
  preemptions: number;
  switches: number;
  /** Choice points until the failure. */
  length: number;
}

export interface ShrinkResult {
  picks: number[];
  before: ScheduleSize;
  after: ScheduleSize;
  /** Runs the shrinker spent. */
  runs: number;
  /** Passes over all four reductions (the last one changed nothing, unless the budget ran out). */
  passes: number;
  outcome: RunOutcome;
}

/** Most runs one bounded-search step (5) may spend. */
const DFS_RUNS = 400;

const sizeOf = (o: RunOutcome): ScheduleSize => ({ preemptions: o.preemptions, switches: o.switches, length: o.records.length });

export function smaller(a: ScheduleSize, b: ScheduleSize): boolean {
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  if (a.switches !== b.switches) return a.switches < b.switches;
  return a.length < b.length;
}

export function shrinkSchedule(scenario: Scenario, bug: Bug | null, picks: readonly number[], checker: string, maxRuns = 3000): ShrinkResult {
  let runs = 0;
  // Candidates run at most twice as many steps as the failing run took (a candidate that fails
  // only later is no smaller anyway): a candidate that does not fail would otherwise run the
  // whole scenario, which for a guest image is most of its cost. Not for liveness failures,
  // whose failure is running out of steps.
  let maxSteps: number | undefined;
  const attempt = (p: readonly number[]): RunOutcome | null => {
    runs++;
    const o = runOnce({ scenario, bug, chooser: new ReplayChooser(p), maxSteps });
    return o.failure !== null && o.failure.checker === checker ? o : null;
  };
  const first = attempt(picks);
  if (first === null) throw new Error(`shrink: the schedule does not fail ${checker} when replayed`);
  if (checker !== 'liveness') maxSteps = 2 * first.steps + 50;
  let best: RunOutcome = first;
  const before = sizeOf(best);
  let cur = best.records.map((r) => r.pick);
  const budgetLeft = (): boolean => runs < maxRuns;

  const tryCandidate = (cand: number[]): boolean => {
    if (!budgetLeft()) return false;
    const o = attempt(cand);
    if (o === null || !smaller(sizeOf(o), sizeOf(best))) return false;
    best = o;
    cur = o.records.map((r) => r.pick);
    return true;
  };

  /**
   * ddmin over a set of positions (recomputed from the current best after every success):
   * `apply` makes the candidate with a chunk of them edited. True when anything was accepted.
   */
  const ddmin = (positions: () => number[], apply: (c: number[], chunk: readonly number[]) => number[]): boolean => {
    let any = false;
    let pos = positions();
    let n = 2;
    while (pos.length > 0 && budgetLeft()) {
      const size = Math.ceil(pos.length / n);
      let hit = false;
      for (let s = 0; s < pos.length && !hit; s += size) {
        if (tryCandidate(apply(cur.slice(), pos.slice(s, s + size)))) hit = true;
      }
      if (hit) {
        any = true;
        pos = positions();
        n = Math.max(2, n - 1);
        continue;
      }
      if (size <= 1) break;
      n = Math.min(pos.length, n * 2);
    }
    return any;
  };

  const nonDefault = (preemptiveOnly: boolean) => (): number[] => {
    const out: number[] = [];
    best.records.forEach((r, i) => {
      if (r.pick !== 0 && (!preemptiveOnly || r.preemptive)) out.push(i);
    });
    return out;
  };
  const zero = (c: number[], chunk: readonly number[]): number[] => {
    for (const i of chunk) c[i] = 0;
    return c;
  };
  const remove = (c: number[], chunk: readonly number[]): number[] => {
    const drop = new Set(chunk);
    return c.filter((_, i) => !drop.has(i));
  };

  let passes = 0;
  for (let progress = true; progress && budgetLeft(); ) {
    passes++;
    progress = false;
    // 0. only the last k non-default picks kept (k = 0, 1, 2, 4, ...): a failure is usually made
    // by the last few choices before it, and a random search's schedule is mostly noise before
    // them (a guest image's run has hundreds of context switches). Cheap: log2 of their number.
    {
      const nd = nonDefault(false)();
      for (let k = 0; k < nd.length && budgetLeft(); k = k === 0 ? 1 : k * 2) {
        if (tryCandidate(zero(cur.slice(), nd.slice(0, nd.length - k)))) {
          progress = true;
          break;
        }
      }
    }
    // 1. fewer preemptions, then fewer switches: defaults in chunks.
    if (ddmin(nonDefault(true), zero)) progress = true;
    if (ddmin(nonDefault(false), zero)) progress = true;
    // 2. lower picks one by one (another actor, earlier in the option order).
    for (let i = cur.length - 1; i >= 0 && budgetLeft(); i--) {
      for (let v = 0; v < (cur[i] ?? 0); v++) {
        const c = cur.slice();
        c[i] = v;
        if (tryCandidate(c)) {
          progress = true;
          break;
        }
      }
    }
    // 3. shorter: delete chunks of choice points.
    if (ddmin(() => cur.map((_, i) => i), remove)) progress = true;
    // 4. move a non-default pick one point earlier or later.
    for (let i = cur.length - 1; i >= 0 && budgetLeft(); i--) {
      if (i >= cur.length || cur[i] === 0) continue;
      for (const j of [i - 1, i + 1]) {
        if (j < 0 || j >= cur.length || cur[j] !== 0) continue;
        const c = cur.slice();
        c[j] = c[i]!;
        c[i] = 0;
        if (tryCandidate(c)) {
          progress = true;
          break;
        }
      }
    }
    // 5. when the local edits are stuck: bounded exhaustive search (dfs) for any smaller
    // schedule that fails the same checker. Small scenarios have few such schedules.
    if (!progress && (best.preemptions > 0 || best.switches > 0) && budgetLeft()) {
      const dfs = new DfsExplorer(Math.max(0, best.preemptions - 1));
      const stop = Math.min(maxRuns, runs + DFS_RUNS);
      while (!dfs.exhausted && runs < stop) {
        runs++;
        const o = runOnce({ scenario, bug, chooser: dfs.chooser(), maxSteps });
        dfs.done(o.records);
        if (o.failure !== null && o.failure.checker === checker && smaller(sizeOf(o), sizeOf(best))) {
          best = o;
          cur = o.records.map((r) => r.pick);
          progress = true;
          break;
        }
      }
    }
  }
  let end = cur.length;
  while (end > 0 && cur[end - 1] === 0) end--;
  return { picks: cur.slice(0, end), before, after: sizeOf(best), runs, passes, outcome: best };
}
