// Shrinking gets past the local minima of single-pick edits: schedules a random search found
// (many preemptions, most of them irrelevant) shrink to the small schedule that still fails the
// same checker, the result is a fixpoint (shrinking it again finds nothing smaller), and the
// shrunk schedule replays to the identical failure.

import { describe, expect, it } from 'vitest';
import { decodeSchedule, ReplayChooser } from '../../src/sim/choice.js';
import { findBug } from '../../src/sim/explore/bugs.js';
import { runOnce } from '../../src/sim/explore/engine.js';
import { findScenario } from '../../src/sim/explore/scenarios.js';
import { shrinkSchedule } from '../../src/sim/explore/shrink.js';

function shrinkOf(text: string, checker: string) {
  const s = decodeSchedule(text);
  const scenario = findScenario(s.scenario)!;
  const bug = findBug(s.inject)!;
  const sh = shrinkSchedule(scenario, bug, s.picks, checker);
  return { scenario, bug, sh };
}

describe('shrinking', () => {
  // Found by `explore --scheduler random` (seed 2): 7 preemptions, 12 context switches. The
  // earlier single-pick shrinker stopped at 4 preemptions.
  it('no-retry-check: 7 preemptions down to 1, a fixpoint, replayed identically', () => {
    const { scenario, bug, sh } = shrinkOf('sv1:swap-fault:no-retry-check:b2a2ba3b3a2bab', 'hv-invariant-1');
    expect(sh.before).toMatchObject({ preemptions: 7, switches: 12 });
    expect(sh.after.preemptions).toBe(1);
    expect(sh.after.switches).toBeLessThanOrEqual(3);
    expect(sh.outcome.failure!.checker).toBe('hv-invariant-1');
    const again = shrinkSchedule(scenario, bug, sh.picks, 'hv-invariant-1');
    expect(again.after).toEqual(sh.after);
    const replay = runOnce({ scenario, bug, chooser: new ReplayChooser(sh.picks) });
    expect(replay.failure).toEqual(sh.outcome.failure);
  });

  // Seed 1: 4 preemptions; the single-pick shrinker left 2 context switches and 11 choice points.
  it('no-remote-tlb-flush: down to no preemption and no context switch', () => {
    const { sh } = shrinkOf('sv1:tlb-remote:no-remote-tlb-flush:b2a2bacb', 'hv-invariant-2');
    expect(sh.before.preemptions).toBe(4);
    expect(sh.after).toMatchObject({ preemptions: 0, switches: 0 });
    expect(sh.after.length).toBeLessThanOrEqual(5);
    expect(sh.outcome.failure!.checker).toBe('hv-invariant-2');
  });
});
