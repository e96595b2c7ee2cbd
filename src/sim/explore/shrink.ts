// Shrinking a failing schedule, dejafu style: while the same checker still fails, try schedules
// with fewer preemptions first, then fewer context switches, then fewer choice points, and keep
// any candidate that is smaller in that order (preemptions, switches, length). Each accepted
// candidate is re-read from the run it produced, so the result is exactly what a replay does.

import { ReplayChooser } from '../choice.js';
import type { Bug } from './bugs.js';
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
  outcome: RunOutcome;
}

const sizeOf = (o: RunOutcome): ScheduleSize => ({ preemptions: o.preemptions, switches: o.switches, length: o.records.length });

function smaller(a: ScheduleSize, b: ScheduleSize): boolean {
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  if (a.switches !== b.switches) return a.switches < b.switches;
  return a.length < b.length;
}

export function shrinkSchedule(scenario: Scenario, bug: Bug | null, picks: readonly number[], checker: string, maxRuns = 3000): ShrinkResult {
  let runs = 0;
  const attempt = (p: readonly number[]): RunOutcome | null => {
    runs++;
    const o = runOnce({ scenario, bug, chooser: new ReplayChooser(p) });
    return o.failure !== null && o.failure.checker === checker ? o : null;
  };
  let best = attempt(picks);
  if (best === null) throw new Error(`shrink: the schedule does not fail ${checker} when replayed`);
  const before = sizeOf(best);
  let cur = best.records.map((r) => r.pick);

  const tryCandidate = (cand: number[]): boolean => {
    if (runs >= maxRuns) return false;
    const o = attempt(cand);
    if (o === null || !smaller(sizeOf(o), sizeOf(best!))) return false;
    best = o;
    cur = o.records.map((r) => r.pick);
    return true;
  };

  // Phase 1: drop preemptions; phase 2: lower the other non-default picks; phase 3: delete picks.
  for (let phase = 1; phase <= 3; phase++) {
    let progress = true;
    while (progress && runs < maxRuns) {
      progress = false;
      for (let i = cur.length - 1; i >= 0 && !progress; i--) {
        const rec = best.records[i]!;
        if (phase === 1) {
          if (rec.pick === 0 || !rec.preemptive) continue;
          const c = cur.slice();
          c[i] = 0;
          progress = tryCandidate(c);
        } else if (phase === 2) {
          if (rec.pick === 0) continue;
          for (let v = 0; v < rec.pick && !progress; v++) {
            const c = cur.slice();
            c[i] = v;
            progress = tryCandidate(c);
          }
        } else {
          const c = cur.slice();
          c.splice(i, 1);
          progress = tryCandidate(c);
        }
      }
    }
  }
  let end = cur.length;
  while (end > 0 && cur[end - 1] === 0) end--;
  return { picks: cur.slice(0, end), before, after: sizeOf(best), runs, outcome: best };
}
