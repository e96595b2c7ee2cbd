// `explore --image`: a guest image as an explorer scenario on the simulation engine. The
// chooser drives every scheduling and preemption decision (a recorded run replays to the same
// run), the checkers find an injected bug in memhog's swapping and the shrunk schedule still
// fails identically, and the clean configuration finds nothing.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSchedule, ReplayChooser } from '../../src/sim/choice.js';
import { findBug } from '../../src/sim/explore/bugs.js';
import { runOnce } from '../../src/sim/explore/engine.js';
import { explore, report } from '../../src/sim/explore/explorer.js';
import { imageScenario, type ImageSpec } from '../../src/sim/explore/image-scenario.js';
import { RandomChooser } from '../../src/sim/explore/random-scheduler.js';
import { shrinkSchedule } from '../../src/sim/explore/shrink.js';
import { ChoiceRecorder } from '../../src/sim/choice.js';
import { FAIR_SLICE, Scheduler } from '../../src/sim/scheduler.js';

const ROOT = join(import.meta.dirname, '../..');
const spec = (over: Partial<ImageSpec> = {}): ImageSpec => ({
  file: 'memhog.elf',
  image: new Uint8Array(readFileSync(join(ROOT, 'guest-images/memhog.elf'))),
  cmdline: 'mib=1 iters=20',
  memBytes: 4 << 20,
  hostMemBytes: 512 << 10, // 128 frames for a 256-page working set: constant swapping
  swapBytes: 4 << 20,
  vcpus: 1,
  mode: 'notifier',
  ksm: false,
  slice: 2000,
  maxInsns: Infinity,
  maxSteps: 100_000,
  ...over,
});

describe('explore --image', () => {
  const scenario = imageScenario(spec());

  it('names the image and its options in the scenario', () => {
    expect(scenario.name).toMatch(/^image-[0-9a-f]{8}$/);
    expect(imageScenario(spec()).name).toBe(scenario.name);
    expect(imageScenario(spec({ cmdline: 'mib=1 iters=21' })).name).not.toBe(scenario.name);
    expect(imageScenario(spec({ hostMemBytes: 1 << 20 })).name).not.toBe(scenario.name);
  });

  it('a random run, its choices replayed, is the same run; the clean guest passes', () => {
    const a = runOnce({ scenario, bug: null, chooser: new RandomChooser(7) });
    expect(a.failure).toBeNull();
    expect(a.records.length).toBeGreaterThan(100); // kswapd against the vCPU, and preemption points
    expect(a.preemptions).toBeGreaterThan(0);
    expect(a.swapIns).toBeGreaterThan(0);
    const b = runOnce({ scenario, bug: null, chooser: new ReplayChooser(a.records.map((r) => r.pick)), checks: false });
    const cfg = { scenario, bug: null, scheduler: 'random' as const };
    expect(JSON.stringify(report(cfg, 0, b))).toBe(JSON.stringify(report(cfg, 0, a)));
    // A different chooser is a different interleaving of the same guest.
    const c = runOnce({ scenario, bug: null, chooser: new RandomChooser(8), checks: false });
    expect(c.failure).toBeNull();
    expect(report(cfg, 0, c).schedule).not.toBe(report(cfg, 0, a).schedule);
  });

  it('finds an injected bug, shrinks it, and the shrunk schedule replays to the same failure', () => {
    const bug = findBug('no-zap-in-start')!;
    const sum = explore({ scenario, bug, scheduler: 'random', seedFrom: 1, seedTo: 3, stopAtFirst: true });
    expect(sum.first, 'pct found nothing').not.toBeNull();
    const first = sum.first!;
    const sh = shrinkSchedule(scenario, bug, decodeSchedule(first.schedule).picks, first.checker!, 20);
    expect(sh.outcome.failure!.checker).toBe(first.checker);
    expect(sh.after.length).toBeLessThanOrEqual(sh.before.length);
    const again = runOnce({ scenario, bug, chooser: new ReplayChooser(sh.picks) });
    expect(again.failure).toEqual(sh.outcome.failure);
  });
});

describe('the simulation scheduler under a chooser', () => {
  it('lets a waiting task run after FAIR_SLICE steps of a spinning one, as a forced switch', () => {
    // A vCPU spinning on a barrier (always runnable) and the one it waits for: the default
    // schedule (keep the running task) would starve the second forever.
    const sched = new Scheduler(1);
    let spins = 0;
    let waiterSteps = 0;
    sched.add({ name: 'spinner', weight: 1, runnable: () => waiterSteps === 0, step: () => void spins++ });
    sched.add({ name: 'waiter', weight: 1, runnable: () => waiterSteps === 0, step: () => void waiterSteps++ });
    const rec = new ChoiceRecorder(new ReplayChooser([]));
    sched.recorder = rec;
    for (let i = 0; i < 10 * FAIR_SLICE && sched.stepOnce(); i++);
    expect(waiterSteps).toBe(1);
    expect(spins).toBe(FAIR_SLICE);
    expect(rec.preemptions).toBe(0); // the time slice is not the chooser's preemption
    expect(rec.records.every((r) => r.pick === 0)).toBe(true);
  });
});
