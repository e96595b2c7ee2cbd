// The worker-thread side of `explore --jobs N`: a worker of the built CLI runs the batches of seeds
// its parent posts (explore-sweep.ts) and posts back their run reports.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { findBug } from '../sim/explore/bugs.js';
import { explore, type RunReport, type SchedulerName } from '../sim/explore/explorer.js';
import { imageScenario, type ImageSpec } from '../sim/explore/image-scenario.js';
import { findScenario, type Scenario } from '../sim/explore/scenarios.js';

export const WORKER_KIND = 'explore-batch';

export interface BatchJob {
  id: number;
  scenario: string;
  inject: string;
  scheduler: SchedulerName;
  seeds: number[];
  depth: number;
  checks: boolean;
  stopAtFirst: boolean;
  image: ImageSpec | null;
}

/** True (and the worker loop started) when this thread is an explore worker. */
export function runExploreWorkerIfAny(): boolean {
  if (isMainThread || (workerData as { kind?: string } | null)?.kind !== WORKER_KIND || parentPort === null) return false;
  const port = parentPort;
  let imageSc: Scenario | null = null;
  port.on('message', (j: BatchJob) => {
    const out: RunReport[] = [];
    if (j.image !== null && imageSc === null) imageSc = imageScenario(j.image);
    explore({
      scenario: j.image !== null ? imageSc! : findScenario(j.scenario)!, bug: j.inject === '' ? null : findBug(j.inject)!, scheduler: j.scheduler,
      seedFrom: 0, seedTo: -1, seeds: j.seeds, depth: j.depth, checks: j.checks, stopAtFirst: j.stopAtFirst, onRun: (r) => out.push(r),
    });
    port.postMessage({ id: j.id, reports: out });
  });
  return true;
}
