// The explorer: runs one scenario (with or without an injected bug) under a scheduler over a
// range of explorer seeds (random, pct) or through the bounded schedule space (dfs), reports
// every run, and stops at the first failure when asked. A run is reproducible from (scenario,
// injection, scheduler, seed) and, independently of all of those, from its schedule string.

import { encodeSchedule, ReplayChooser, type Chooser } from '../choice.js';
import type { Bug } from './bugs.js';
import { DfsExplorer } from './dfs-scheduler.js';
import { runOnce, type RunOutcome } from './engine.js';
import { PctChooser, pctRunsFor } from './pct-scheduler.js';
import { RandomChooser } from './random-scheduler.js';
import type { Scenario } from './scenarios.js';

export type SchedulerName = 'random' | 'pct' | 'dfs';
export const SCHEDULERS: readonly SchedulerName[] = ['random', 'pct', 'dfs'];

export interface ExploreConfig {
  scenario: Scenario;
  bug: Bug | null;
  scheduler: SchedulerName;
  /** Seeds [seedFrom, seedTo] (random, pct); for dfs, at most seedTo - seedFrom + 1 runs. */
  seedFrom: number;
  seedTo: number;
  /** PCT bug depth d (d - 1 priority change points). */
  depth?: number;
  /** DFS preemption bound. */
  preemptionBound?: number;
  stopAtFirst?: boolean;
  /** Checkers after every step (default on). */
  checks?: boolean;
  onRun?: (r: RunReport) => void;
  /** Polled between runs (Ctrl-C): true ends the sweep with what was done so far. */
  shouldStop?: () => boolean;
  /** Run exactly these seeds instead of [seedFrom, seedTo] (a shard's share). */
  seeds?: readonly number[];
  /** dfs: continue this search (a sweep run in batches) instead of starting a new one. */
  dfs?: DfsExplorer;
}

/** One run, as `--json` prints it. */
export interface RunReport {
  scenario: string;
  inject: string;
  scheduler: SchedulerName;
  seed: number;
  failed: boolean;
  checker: string | null;
  message: string | null;
  steps: number;
  preemptions: number;
  switches: number;
  faults: number;
  swapIns: number;
  schedule: string;
}

export interface PctBound {
  actors: number;
  steps: number;
  depth: number;
  /** n * k^(d-1): runs after which a depth-d bug is found with probability >= 1 - 1/e. */
  runs: number;
}

export interface ExploreSummary {
  scenario: string;
  inject: string;
  scheduler: SchedulerName;
  runs: number;
  failures: number;
  first: RunReport | null;
  /** 1-based index of the run that first failed, or -1. */
  firstAt: number;
  faults: number;
  swapIns: number;
  /** dfs: every schedule within the preemption bound was run. */
  exhausted: boolean;
  pct: PctBound | null;
  interrupted: boolean;
}

export const DEFAULT_DEPTH = 3;
export const DEFAULT_PREEMPTION_BOUND = 2;

export function report(cfg: { scenario: Scenario; bug: Bug | null; scheduler: SchedulerName }, seed: number, o: RunOutcome): RunReport {
  return {
    scenario: cfg.scenario.name,
    inject: cfg.bug?.name ?? '',
    scheduler: cfg.scheduler,
    seed,
    failed: o.failure !== null,
    checker: o.failure?.checker ?? null,
    message: o.failure?.message ?? null,
    steps: o.steps,
    preemptions: o.preemptions,
    switches: o.switches,
    faults: o.faults,
    swapIns: o.swapIns,
    schedule: encodeSchedule({ scenario: cfg.scenario.name, inject: cfg.bug?.name ?? '', picks: o.records.map((r) => r.pick) }),
  };
}

/** The PCT parameters for a scenario: actors, and k from a run with every choice left at its default. */
const probes = new WeakMap<Scenario, RunOutcome>();

export function pctBoundFor(scenario: Scenario, bug: Bug | null, depth: number): PctBound {
  // One probe per scenario (a sweep calls this per batch; a guest image's run is not cheap).
  let probe = probes.get(scenario);
  if (probe === undefined) probes.set(scenario, (probe = runOnce({ scenario, bug: null, chooser: new ReplayChooser([]) })));
  void bug;
  const actors = probe.actors;
  // k: the choice points of a run that takes every default. A run that preempts meets more, but
  // change points past the interleaving that matters are wasted: a larger k only spreads them
  // thinner (a depth-3 bug's chance per run falls with 1/k^2).
  const steps = Math.max(4, probe.records.length);
  return { actors, steps, depth, runs: pctRunsFor(actors, steps, depth) };
}

export function explore(cfg: ExploreConfig): ExploreSummary {
  const sum: ExploreSummary = {
    scenario: cfg.scenario.name,
    inject: cfg.bug?.name ?? '',
    scheduler: cfg.scheduler,
    runs: 0,
    failures: 0,
    first: null,
    firstAt: -1,
    faults: 0,
    swapIns: 0,
    exhausted: false,
    pct: null,
    interrupted: false,
  };
  const depth = cfg.depth ?? DEFAULT_DEPTH;
  if (cfg.scheduler === 'pct') sum.pct = pctBoundFor(cfg.scenario, cfg.bug, depth);
  const dfs = cfg.scheduler === 'dfs' ? cfg.dfs ?? new DfsExplorer(cfg.preemptionBound ?? DEFAULT_PREEMPTION_BOUND) : null;
  const seeds = cfg.seeds ?? null;
  const count = seeds === null ? cfg.seedTo - cfg.seedFrom + 1 : seeds.length;
  for (let k = 0; k < count; k++) {
    const seed = seeds === null ? cfg.seedFrom + k : seeds[k]!;
    if (dfs !== null && dfs.exhausted) {
      sum.exhausted = true;
      break;
    }
    if (cfg.shouldStop?.() === true) {
      sum.interrupted = true;
      break;
    }
    let chooser: Chooser;
    if (dfs !== null) chooser = dfs.chooser();
    else if (cfg.scheduler === 'pct') chooser = new PctChooser(seed, sum.pct!.actors, sum.pct!.steps, depth);
    else chooser = new RandomChooser(seed);
    const o = runOnce({ scenario: cfg.scenario, bug: cfg.bug, chooser, checks: cfg.checks });
    const r = report(cfg, seed, o);
    sum.runs++;
    sum.faults += o.faults;
    sum.swapIns += o.swapIns;
    cfg.onRun?.(r);
    if (r.failed) {
      sum.failures++;
      if (sum.first === null) {
        sum.first = r;
        sum.firstAt = sum.runs;
      }
      if (cfg.stopAtFirst === true) break;
    }
    if (dfs !== null && !dfs.exhausted) {
      dfs.done(o.records);
      if (dfs.exhausted) {
        sum.exhausted = true;
        break;
      }
    }
  }
  return sum;
}
