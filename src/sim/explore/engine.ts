// One explorer run: build the scenario's world, then let a Chooser make every scheduling decision
// (which actor steps next; at each host preemption point, whether a vCPU runs inside the host
// operation) while the checkers look at the state after every step. Everything is deterministic:
// the same scenario, injection and picks give the same run, step for step, on any machine.

import { CHOICE_PICK, CHOICE_PREEMPT, type ChoiceRecord, type Chooser } from '../choice.js';
import type { HostPreemptPoint } from '../../host/preempt-points.js';
import type { EventRing } from '../../obs/event-ring.js';
import type { Bug } from './bugs.js';
import { ChangeStamp, checkEnd, checkStep, type Failure } from './checkers.js';
import type { Scenario } from './scenarios.js';
import type { Host } from '../../host/host.js';
import type { Vm } from '../../hv/vm.js';

export interface RunOptions {
  scenario: Scenario;
  bug: Bug | null;
  chooser: Chooser;
  /** Run the checkers after every step (default true); off, only the end-of-run checks run. */
  checks?: boolean;
  maxSteps?: number;
  /** Most vCPU steps one preemption point may run before the host operation goes on. */
  maxInside?: number;
  ring?: EventRing | null;
  /** Called before each step with the actor's name (trace). */
  onStep?: (actor: string, inside: HostPreemptPoint | null) => void;
  /** Called after each step (trace --html: a host operation goes on after a step inside it). */
  onStepDone?: (actor: string, inside: HostPreemptPoint | null) => void;
}

export interface RunOutcome {
  failure: Failure | null;
  records: ChoiceRecord[];
  steps: number;
  preemptions: number;
  switches: number;
  /** Guest page faults taken (KVM pf_taken): refaults after zaps show here. */
  faults: number;
  /** Host swap-ins (from the device or the swap cache). */
  swapIns: number;
  /** The host and VM the run ended with (trace, the failure's story). */
  host: Host;
  vm: Vm;
  /** Actors (scheduler tasks) the run had: n of the PCT bound. */
  actors: number;
  /** Their names by actor id (the options of a choice are actor ids). */
  actorNames: string[];
}

class StopRun {}
const STOP = new StopRun();

export function runOnce(o: RunOptions): RunOutcome {
  if (o.scenario.run !== undefined) return o.scenario.run(o);
  const world = o.scenario.build!(o.bug, o.ring ?? null);
  const { host, actors } = world;
  const checks = o.checks !== false;
  const maxSteps = o.maxSteps ?? 2000;
  const maxInside = o.maxInside ?? 3;
  const records: ChoiceRecord[] = [];
  // Separate stamps: a host check skipped inside an operation must still run between operations.
  const insideStamp = new ChangeStamp();
  const topStamp = new ChangeStamp();
  let failure: Failure | null = null;
  let running = -1;
  /** The actor that made the last step (inside a host operation, the vCPU that ran there). */
  let lastActor = -1;
  let inside = false;
  let steps = 0;
  let preemptions = 0;
  let switches = 0;

  const choose = (kind: number, options: number[], preemptive: boolean): number => {
    if (options.length < 2) return 0; // forced: not a choice, not recorded
    let pick = o.chooser.choose(kind, options, lastActor, preemptive);
    if (!(pick >= 0 && pick < options.length)) pick = 0;
    records.push({ kind, n: options.length, pick, preemptive });
    return pick;
  };

  host.onPreempt = (point) => {
    if (inside || failure !== null) return;
    inside = true;
    try {
      // The first vCPU step here preempts the host operation (one preemption, a switch there and
      // one back); further steps of the same vCPU continue it, another vCPU is one more switch.
      let last = -1;
      for (let k = 0; k < maxInside; k++) {
        const options = [running];
        for (const a of actors) if (a.id !== running && a.eligibleInside(point, world.gupInWindow)) options.push(a.id);
        if (options.length < 2) break;
        const pick = choose(CHOICE_PREEMPT, options, last < 0);
        if (pick === 0) break;
        const a = actors[options[pick]!]!;
        if (last < 0) {
          preemptions++;
          switches += 2;
        } else if (a.id !== last) switches++;
        last = a.id;
        lastActor = a.id;
        steps++;
        o.onStep?.(a.name, point);
        a.step();
        o.onStepDone?.(a.name, point);
        if (checks) {
          const f = checkStep(world, false, insideStamp);
          if (f !== null) {
            failure = f;
            throw STOP;
          }
        }
      }
    } finally {
      inside = false;
    }
  };

  let outOfSteps = false;
  try {
    for (;;) {
      if (steps >= maxSteps) {
        outOfSteps = true;
        break;
      }
      const runnable = actors.filter((a) => a.runnable());
      if (runnable.length === 0) break;
      const cur = runnable.find((a) => a.id === running);
      const options = cur === undefined ? runnable.map((a) => a.id) : [cur.id, ...runnable.filter((a) => a !== cur).map((a) => a.id)];
      const pick = choose(CHOICE_PICK, options, cur !== undefined);
      const next = options[pick]!;
      if (next !== running) {
        if (running >= 0) switches++;
        if (cur !== undefined) preemptions++;
      }
      running = next;
      lastActor = next;
      steps++;
      o.onStep?.(actors[next]!.name, null);
      actors[next]!.step();
      o.onStepDone?.(actors[next]!.name, null);
      if (checks) {
        failure = checkStep(world, true, topStamp);
        if (failure !== null) break;
      }
    }
  } catch (e) {
    if (e !== STOP) {
      if (!(e instanceof Error)) throw e;
      failure = { checker: 'crash', message: e.message };
    }
  } finally {
    host.onPreempt = null;
  }
  // Before the end checks, whose reads of guest memory through the host may swap pages in.
  const swapIns = host.stats.swapIns + host.stats.swapInsFromCache;
  const faults = world.vm.stats.pf_taken;
  if (failure === null) {
    if (!checks) failure = checkStep(world, true);
    if (failure === null) failure = checkEnd(world, outOfSteps);
  }
  for (const g of world.guests) g.abort();
  return {
    failure,
    records,
    steps,
    preemptions,
    switches,
    faults,
    swapIns,
    host: world.host,
    vm: world.vm,
    actors: actors.length,
    actorNames: actors.map((a) => a.name),
  };
}
