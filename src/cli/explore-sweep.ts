// One explore sweep: a target's seeds run in batches (in this thread, or on --jobs worker threads
// with the results put back in seed order), progress on stderr, the summary line or JSON object,
// the first failure shrunk to a minimal schedule, and for performance bugs and the control the
// same seeds run clean beside them. Ctrl-C (interruptSweeps) stops a sweep between batches.

import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { writeStderr, writeStdout } from './output.js';
import type { ImageSpec } from '../sim/explore/image-scenario.js';
import { decodeSchedule, encodeSchedule } from '../sim/choice.js';
import type { Bug } from '../sim/explore/bugs.js';
import { DfsExplorer } from '../sim/explore/dfs-scheduler.js';
import { explore, pctBoundFor, type RunReport, type SchedulerName } from '../sim/explore/explorer.js';
import type { Scenario } from '../sim/explore/scenarios.js';
import { shrinkSchedule } from '../sim/explore/shrink.js';
import { summarize, type SweepSummary } from '../sim/explore/summary.js';
import { imageArgs } from './explore-image.js';
import { WORKER_KIND, type BatchJob } from './explore-worker.js';

export interface Target {
  scenario: Scenario;
  bug: Bug | null;
}

/** Replays of a shrink: a guest image's run costs far more than a scripted scenario's. */
const SHRINK_RUNS = 3000;
const SHRINK_RUNS_IMAGE = 100;

let interrupted = false;

/** Ctrl-C: the running sweep stops after its current batch, and no further target starts. */
export function interruptSweeps(): void {
  interrupted = true;
}

export function sweepsInterrupted(): boolean {
  return interrupted;
}

export interface SweepOpts {
  scheduler: SchedulerName;
  from: number;
  to: number;
  seeds: number[] | null;
  depth: number;
  bound: number;
  jobs: number;
  keepGoing: boolean;
  shrink: boolean;
  checks: boolean;
  json: boolean;
  /** The --image guest (its scenario is the target's), for workers and the printed commands. */
  image: ImageSpec | null;
}

/** Runs between returns to the event loop (Ctrl-C, progress): a guest image's run takes as long
 *  as 25 scripted ones, so an --image sweep goes one run at a time. */
const BATCH = 25;

/** Runs per second, with a decimal when slow (a guest image's runs take a second or more). */
function rateText(runs: number, seconds: number): string {
  const r = runs / Math.max(seconds, 1e-9);
  return r < 10 ? r.toFixed(1) : r.toFixed(0);
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs one target's sweep; true when a correctness failure was found. */
export async function sweep(t: Target, o: SweepOpts): Promise<boolean> {
  const label = `${t.scenario.name}${t.bug === null ? '' : ` + ${t.bug.name}`} (${o.scheduler})`;
  const all = o.seeds ?? range(o.from, o.to);
  const reports: RunReport[] = [];
  const t0 = performance.now();
  let lastProgress = t0;
  let exhausted = false;
  const emit = (r: RunReport): void => {
    reports.push(r);
    if (o.json) writeStdout(JSON.stringify({ type: 'run', ...r }) + '\n');
  };
  const progress = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastProgress < 1000) return;
    lastProgress = now;
    const f = reports.filter((r) => r.failed).length;
    writeStderr(`explore: ${label}: ${reports.length}/${all.length} runs, ${f} failing, ${rateText(reports.length, (now - t0) / 1000)} runs/s\n`);
  };
  if (o.jobs > 1) {
    await sweepParallel(t, o, all, emit, progress);
  } else {
    const dfs = o.scheduler === 'dfs' ? new DfsExplorer(o.bound) : undefined;
    const batch = o.image === null ? BATCH : 1;
    for (let i = 0; i < all.length && !interrupted; i += batch) {
      const part = all.slice(i, i + batch);
      const sum = explore({
        scenario: t.scenario, bug: t.bug, scheduler: o.scheduler, seedFrom: 0, seedTo: -1, seeds: part,
        depth: o.depth, dfs, checks: o.checks, stopAtFirst: !o.keepGoing, onRun: emit,
      });
      if (sum.exhausted) {
        exhausted = true;
        break;
      }
      if (!o.keepGoing && sum.failures > 0) break;
      progress();
      await tick();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const [s] = summarize(reports);
  const summary: SweepSummary = s ?? {
    type: 'summary', scenario: t.scenario.name, inject: t.bug?.name ?? '', scheduler: o.scheduler, runs: 0, failures: 0,
    firstFailingSeed: -1, firstChecker: null, firstSchedule: null, faults: 0, swapIns: 0,
  };
  const extra: Record<string, unknown> = { exhausted, interrupted, seconds: Number(seconds.toFixed(3)) };
  if (o.scheduler === 'pct') extra.pctBound = pctBoundFor(t.scenario, t.bug, o.depth);
  if (o.json) writeStdout(JSON.stringify({ ...summary, ...extra }) + '\n');
  else {
    // stdout is the result, identical for the same options and seeds; the speed goes to stderr.
    writeStderr(`explore: ${label}: ${summary.runs} runs in ${seconds.toFixed(1)} s, ${rateText(summary.runs, seconds)} runs/s\n`);
    let line = `${label}: ${summary.runs} runs, ${summary.failures} failing`;
    if (o.scheduler === 'dfs') line += exhausted ? `; schedule space exhausted (preemption bound ${o.bound})` : `; not exhausted (preemption bound ${o.bound}: raise --seeds for more runs)`;
    if (o.scheduler === 'pct') {
      const b = extra.pctBound as { actors: number; steps: number; depth: number; runs: number };
      line += `; PCT bound: ${b.runs} runs for a depth-${b.depth} bug (n=${b.actors} actors, k=${b.steps} steps)`;
    }
    writeStdout(line + '\n');
  }
  const bug = t.bug;
  if (bug !== null && bug.kind !== 'correctness') compareWithClean(t, o, all, summary);
  if (summary.failures === 0) return false;
  const first = reports.filter((r) => r.failed).sort((a, b) => a.seed - b.seed)[0]!;
  if (!o.json) {
    writeStdout(`  first failure: seed ${first.seed}: ${first.checker}: ${first.message}\n`);
    let picks = decodeSchedule(first.schedule).picks;
    if (o.shrink) {
      const sh = shrinkSchedule(t.scenario, t.bug, picks, first.checker!, o.image === null ? SHRINK_RUNS : SHRINK_RUNS_IMAGE);
      picks = sh.picks;
      const fmt = (x: { preemptions: number; switches: number; length: number }): string =>
        `${x.preemptions} preemption${x.preemptions === 1 ? '' : 's'}, ${x.switches} context switches, ${x.length} choice points`;
      writeStdout(`  shrunk (fewer preemptions, then context switches, then choice points; ${sh.runs} replays):\n`);
      writeStdout(`    before: ${fmt(sh.before)}, schedule ${first.schedule.length} characters\n`);
      const text = encodeSchedule({ scenario: t.scenario.name, inject: bug?.name ?? '', picks });
      writeStdout(`    after:  ${fmt(sh.after)}, schedule ${text.length} characters\n`);
      writeStdout(`    still fails: ${sh.outcome.failure!.checker}: ${sh.outcome.failure!.message}\n`);
    }
    const text = encodeSchedule({ scenario: t.scenario.name, inject: bug?.name ?? '', picks });
    const img = o.image === null ? '' : ` ${imageArgs(o.image)}`;
    writeStdout(`  minimal schedule: ${text}\n  replay: shadowvisor explore --replay ${text}${img}\n  trace:  shadowvisor trace --schedule ${text}${img}\n`);
  }
  // A control or performance "bug" that fails is a real finding too: report it as one.
  return true;
}

/** Performance bugs and the control: the same seeds without the injection, side by side. */
function compareWithClean(t: Target, o: SweepOpts, seeds: number[], withBug: SweepSummary): void {
  const reports: RunReport[] = [];
  explore({ scenario: t.scenario, bug: null, scheduler: o.scheduler, seedFrom: 0, seedTo: -1, seeds: seeds.slice(0, withBug.runs), depth: o.depth, checks: o.checks, onRun: (r) => reports.push(r) });
  const [clean] = summarize(reports);
  if (clean === undefined) return;
  if (o.json) {
    writeStdout(JSON.stringify({ type: 'compare', scenario: t.scenario.name, inject: t.bug!.name, scheduler: o.scheduler, runs: clean.runs, swapIns: withBug.swapIns, cleanSwapIns: clean.swapIns, faults: withBug.faults, cleanFaults: clean.faults }) + '\n');
    return;
  }
  writeStdout(`  the same ${clean.runs} seeds without the injection: swap-ins ${withBug.swapIns} vs ${clean.swapIns} (${signed(withBug.swapIns - clean.swapIns)}), guest faults ${withBug.faults} vs ${clean.faults} (${signed(withBug.faults - clean.faults)})\n`);
}

const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let s = a; s <= b; s++) out.push(s);
  return out;
}

/** Batches of seeds on N workers; results are emitted in seed order, so the output is the same
 *  for any N. Without --keep-going, batches past the first failing one are not started. */
async function sweepParallel(t: Target, o: SweepOpts, all: number[], emit: (r: RunReport) => void, progress: () => void): Promise<void> {
  const batches: number[][] = [];
  const batch = o.image === null ? BATCH : 1;
  for (let i = 0; i < all.length; i += batch) batches.push(all.slice(i, i + batch));
  const results: (RunReport[] | undefined)[] = new Array(batches.length);
  const entry = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: Math.min(o.jobs, batches.length) }, () => new Worker(entry, { workerData: { kind: WORKER_KIND } }));
  let next = 0;
  let emitted = 0;
  let stopAfter = Infinity;
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      const feed = (): void => {
        if (interrupted || next >= batches.length || next > stopAfter) return resolve();
        const id = next++;
        w.postMessage({
          id, scenario: t.scenario.name, inject: t.bug?.name ?? '', scheduler: o.scheduler, seeds: batches[id]!,
          depth: o.depth, checks: o.checks, stopAtFirst: !o.keepGoing, image: o.image,
        } satisfies BatchJob);
      };
      w.on('message', (m: { id: number; reports: RunReport[] }) => {
        results[m.id] = m.reports;
        if (!o.keepGoing && m.reports.some((r) => r.failed)) stopAfter = Math.min(stopAfter, m.id);
        while (emitted < batches.length && results[emitted] !== undefined && emitted <= stopAfter) {
          for (const r of results[emitted]!) emit(r);
          emitted++;
        }
        progress();
        feed();
      });
      w.on('error', reject);
      feed();
    })));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
