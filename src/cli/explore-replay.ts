// `explore --replay STR` and `trace --schedule STR`: one schedule string rerun exactly, choice by
// choice, with its outcome line or JSON object; with a trace, the run's events with each step
// marked (explore-replay-trace.ts) or, with --html DIR, trace --html's page with the schedule's
// steps and choice points on top.

import { parseCommandArgs, UsageError } from './args.js';
import type { ImageSpec } from '../sim/explore/image-scenario.js';
import { writeStderr, writeStdout } from './output.js';
import { CHOICE_PICK, decodeSchedule, encodeSchedule, ReplayChooser, ScheduleError, type Chooser, type Schedule } from '../sim/choice.js';
import { findBug, type Bug } from '../sim/explore/bugs.js';
import { runOnce, type RunOutcome } from '../sim/explore/engine.js';
import { report } from '../sim/explore/explorer.js';
import { findScenario, type Scenario } from '../sim/explore/scenarios.js';
import { EventRing, readEvents } from '../obs/event-ring.js';
import type { SlotLookup } from './trace-format.js';
import { prepareHtmlDir, writeTraceHtml } from './trace-html-file.js';
import { buildModel, DEFAULT_HTML_EVENTS } from './trace-html-model.js';
import { renderTraceHtml } from './trace-html.js';
import type { ScheduleStep, ScheduleView } from './trace-html-schedule.js';
import { chainHeading } from './trace-chains.js';
import { collectShadowStats } from './stats.js';
import type { RunResult } from '../machine/run-loop.js';
import { imageArgs, imageFromArgs, IMAGE_OPTIONS } from './explore-image.js';
import { printTrace } from './explore-replay-trace.js';

export function replayCommand(text: string, scenario: Scenario | null, bug: Bug | null, trace: boolean, json: boolean, image: ImageSpec | null = null, html: string | null = null): number {
  let sched: Schedule;
  try {
    sched = decodeSchedule(text);
  } catch (e) {
    if (e instanceof ScheduleError) throw new UsageError(`explore: ${e.message}`);
    throw e;
  }
  let sc = findScenario(sched.scenario);
  if (sched.scenario.startsWith('image-')) {
    if (image === null || scenario === null) throw new UsageError(`explore: schedule ${sched.scenario} is a guest image's: replay it with --image FILE and the options it was found with`);
    if (scenario.name !== sched.scenario) {
      throw new UsageError(`explore: the schedule was recorded for ${sched.scenario}, but this image and these options are ${scenario.name} (another image, --cmdline or size)`);
    }
    sc = scenario;
  } else if (image !== null) throw new UsageError(`explore: --image given, but the schedule is scenario ${sched.scenario}'s`);
  if (sc === undefined) throw new UsageError(`explore: the schedule names unknown scenario '${sched.scenario}'`);
  const b = sched.inject === '' ? null : findBug(sched.inject) ?? null;
  if (sched.inject !== '' && b === null) throw new UsageError(`explore: the schedule names unknown bug '${sched.inject}'`);
  if (scenario !== null && scenario !== sc) throw new UsageError(`explore: --scenario ${scenario.name} disagrees with the schedule's ${sc.name}`);
  if (bug !== null && bug !== b) throw new UsageError(`explore: --inject ${bug.name} disagrees with the schedule's ${sched.inject || 'none'}`);
  if (html !== null) prepareHtmlDir(html);
  const ring = trace ? new EventRing(1 << 16) : null;
  const marks: { seq: number; text: string }[] = [];
  const steps: ScheduleStep[] = [];
  const choices: { kind: number; pick: number; n: number; preemptive: boolean; chose: number }[] = [];
  const replay = new ReplayChooser(sched.picks);
  const chooser: Chooser = {
    choose: (kind, options, running, preemptive) => {
      const pick = replay.choose(kind, options);
      if (options.length > 1) choices.push({ kind, pick, n: options.length, preemptive, chose: options[pick] ?? options[0]! });
      return pick;
    },
  };
  let step = 0;
  let stepChoice = 0;
  let topActor = '';
  const t0 = performance.now();
  const o = runOnce({
    scenario: sc, bug: b, chooser, ring,
    onStep: ring === null ? undefined : (actor, inside) => {
      step++;
      marks.push({ seq: ring.emitted, text: `-- step ${step}: ${actor}${inside === null ? '' : ` (inside the host operation, at ${inside})`}` });
      // The choice that made this step: the latest one, if made since the last step and of the
      // kind that starts such a step (a pick; inside a host operation, a preemption for a vCPU).
      const c = choices[choices.length - 1];
      const made = c !== undefined && choices.length > stepChoice && (inside === null ? c.kind === CHOICE_PICK : c.kind !== CHOICE_PICK && c.pick !== 0);
      steps.push({ actor, inside, choice: made ? choices.length - 1 : -1, firstSeq: ring.emitted, lastSeq: -1 });
      stepChoice = choices.length;
      if (inside === null) topActor = actor;
    },
    // After a step inside a host operation the operation goes on: its events are its own row.
    onStepDone: ring === null ? undefined : (_actor, inside) => {
      if (inside !== null) steps.push({ actor: `${topActor} (goes on)`, inside: null, choice: -1, firstSeq: ring.emitted, lastSeq: -1 });
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (ring !== null && html !== null) {
    const names = o.actorNames;
    const view: ScheduleView = {
      text: encodeSchedule(sched),
      failure: o.failure === null ? null : `${o.failure.checker}: ${o.failure.message}`,
      replay: `shadowvisor explore --replay ${encodeSchedule(sched)}${image === null ? '' : ` ${imageArgs(image)}`}`,
      choices: choices.map((c) => ({ kind: c.kind === CHOICE_PICK ? 'pick' : 'preempt', pick: c.pick, n: c.n, preemptive: c.preemptive, chose: names[c.chose] ?? `task ${c.chose}` })),
      steps: steps.map((st, i) => {
        const end = (i + 1 < steps.length ? steps[i + 1]!.firstSeq : ring.emitted) - 1;
        return { ...st, firstSeq: end >= st.firstSeq ? st.firstSeq : -1, lastSeq: end >= st.firstSeq ? end : -1 };
      }),
    };
    const path = writeTraceHtml(html, schedulePage(o, ring, view, sc, b, seconds));
    writeStderr(`trace: wrote ${path}\n`);
  } else if (ring !== null) printTrace(o, ring, marks, json);
  const r = report({ scenario: sc, bug: b, scheduler: 'pct' }, 0, o);
  if (json && ring === null) writeStdout(JSON.stringify({ type: 'replay', ...r, scheduler: undefined, seed: undefined }) + '\n');
  else if (!json) {
    writeStdout(o.failure === null
      ? `${sc.name}${b === null ? '' : ` + ${b.name}`}: no failure (${o.steps} steps, ${o.preemptions} preemptions, ${o.switches} context switches)\n`
      : `${sc.name}${b === null ? '' : ` + ${b.name}`}: FAILED at step ${o.steps}: ${o.failure.checker}: ${o.failure.message}\n  (${o.preemptions} preemptions, ${o.switches} context switches, ${o.records.length} choice points)\n`);
  }
  return o.failure === null ? 0 : 1;
}

/** `shadowvisor trace --schedule STR [--json]`: the replay's trace view. */
export function traceScheduleCommand(argv: string[]): number {
  const { values: v } = parseCommandArgs('trace', argv, { schedule: { type: 'string' }, json: { type: 'boolean' }, html: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...IMAGE_OPTIONS } as const);
  if (v.schedule === undefined) throw new UsageError('trace: --schedule needs a schedule string');
  if (v.html !== undefined && v.json === true) throw new UsageError('trace: --schedule takes --html DIR or --json, not both');
  const img = imageFromArgs('trace', v);
  return replayCommand(v.schedule, img?.scenario ?? null, null, true, v.json === true, img?.spec ?? null, v.html ?? null);
}

/** The --html page of a replayed schedule: trace --html's page with the schedule section on top. */
function schedulePage(o: RunOutcome, ring: EventRing, view: ScheduleView, sc: Scenario, b: Bug | null, seconds: number): string {
  const events = readEvents(ring);
  const vm = o.vm;
  const slots: SlotLookup = (gfn) => {
    const s = vm.memslots.find(gfn);
    return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
  };
  const cpu = vm.vcpus[0]!.cpu;
  const result: RunResult = {
    exitCode: o.failure === null ? 0 : 1,
    reason: 'exit',
    message: o.failure === null ? 'no failure' : o.failure.message,
    instructions: vm.vcpus.reduce((n, v) => n + v.cpu.icount, 0),
    vtime: cpu.vtime(),
    eip: cpu.eip >>> 0,
  };
  const gfn = o.vm.staleRecords[0]?.gfn ?? Number(/gfn (\d+)/.exec(o.failure?.message ?? '')?.[1] ?? -1);
  const model = buildModel({
    command: `shadowvisor trace --schedule ${view.text}`,
    image: view.text,
    guest: `explorer scenario ${sc.name} (${sc.what})${b === null ? '' : `, bug ${b.name} injected`}; ${o.steps} steps, ${o.preemptions} preemptions, ${o.switches} context switches`,
    events,
    ring: { emitted: ring.emitted, held: ring.size, capacity: ring.capacity },
    cap: DEFAULT_HTML_EVENTS,
    stats: collectShadowStats({ result, vm, host: o.host }, seconds),
    slots,
    heading: (inv) => chainHeading(inv.n, inv),
    translations: [],
    selectGfn: gfn,
  });
  model.schedule = view;
  return renderTraceHtml(model, vm.vcpus.length);
}
