// A guest of one's own as an explorer scenario (`explore --image FILE --cmdline ...`): the image
// boots on the same simulation engine `run` uses (sim/simulation.ts), with the explorer's
// Chooser making every scheduling decision (vCPUs, kswapd, ksmd) and every host preemption
// decision, recorded. The checkers run after every step: the stale-access detector (stops the VM),
// the hypervisor's and the host's invariant checkers, the invalidation-window rule inside host
// operations, and the guest's own data check, which is its exit status (memhog exits non-zero
// when it reads back a word it did not write). The scenario's name carries a hash of the image
// and the options, so a schedule string replays only against the run it was recorded for.

import { nullLogger } from '../../obs/log.js';
import { EXIT_STATUS_STALE } from '../../obs/exit-status.js';
import type { MemoryMode } from '../../hv/shadow/page-fault.js';
import { prepareGuest } from '../run-guest.js';
import { checkWindow } from './checkers.js';
import type { RunOptions, RunOutcome } from './engine.js';
import type { Failure } from './checkers.js';
import type { Scenario } from './scenarios.js';

export interface ImageSpec {
  /** The image's file name, for messages only (not part of its identity). */
  file: string;
  image: Uint8Array;
  cmdline: string;
  memBytes: number;
  hostMemBytes: number;
  swapBytes: number;
  vcpus: number;
  mode: MemoryMode;
  /** The hypervisor's MMU (absent: shadow). */
  mmu?: 'shadow' | 'tdp';
  ksm: boolean;
  /** Guest instructions per scheduling step: smaller interleaves host work more finely. */
  slice: number;
  /** Stop (a clean end) after this many guest instructions; Infinity: run to the guest's exit. */
  maxInsns: number;
  /** Most scheduling steps of one run; a run that needs more is a liveness failure. */
  maxSteps: number;
}

export const IMAGE_DEFAULTS = {
  memBytes: 4 << 20,
  hostMemBytes: 1 << 20,
  slice: 2000,
  maxSteps: 200_000,
} as const;

/** FNV-1a over the image and the options that shape a run: the scenario's identity. */
export function imageId(s: ImageSpec): string {
  let h = 0x811c9dc5;
  const mix = (b: number): void => {
    h = Math.imul(h ^ (b & 0xff), 0x01000193);
  };
  for (const b of s.image) mix(b);
  const opts = `${s.cmdline}\0${s.memBytes}\0${s.hostMemBytes}\0${s.swapBytes}\0${s.vcpus}\0${s.mode}\0${s.ksm}\0${s.slice}\0${s.maxInsns}\0${s.maxSteps}${s.mmu === 'tdp' ? '\0tdp' : ''}`;
  for (let i = 0; i < opts.length; i++) mix(opts.charCodeAt(i));
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function imageScenario(spec: ImageSpec): Scenario {
  return {
    name: `image-${imageId(spec)}`,
    what: `${spec.file}${spec.cmdline === '' ? '' : ` '${spec.cmdline}'`} on a ${spec.hostMemBytes >> 10} KiB host`,
    run: (o) => runImage(spec, o),
  };
}

function runImage(spec: ImageSpec, o: RunOptions): RunOutcome {
  const checks = o.checks !== false;
  let lastLine = '';
  let line = '';
  const p = prepareGuest({
    image: spec.image,
    memBytes: spec.memBytes,
    hostMemBytes: spec.hostMemBytes,
    swapBytes: spec.swapBytes,
    vcpus: spec.vcpus,
    mode: spec.mode,
    mmu: spec.mmu,
    ksm: spec.ksm,
    // The stale detector stops the VM at the first stale access, checks or not (it costs nothing).
    check: true,
    seed: 1,
    maxInsns: spec.maxInsns,
    cmdline: spec.cmdline,
    slice: spec.slice,
    output: {
      write: (b: number) => {
        if (b === 10) {
          if (line !== '') lastLine = line;
          line = '';
        } else if (line.length < 200) line += String.fromCharCode(b);
      },
    },
    log: nullLogger,
    ring: o.ring ?? undefined,
    checkInvariants: checks,
    chooser: o.chooser,
    checkInside: checkWindow,
  });
  const { host, vm, sim, run } = p;
  if (o.bug !== null) o.bug.apply(vm.inject, host);
  const maxSteps = o.maxSteps ?? spec.maxSteps;
  let failure: Failure | null = null;
  try {
    sim.runUntilDone(() => sim.sched.steps >= maxSteps);
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    failure = { checker: 'crash', message: e.message };
  }
  const rec = sim.recorder!;
  const swapIns = host.stats.swapIns + host.stats.swapInsFromCache;
  if (failure === null) failure = judge(sim.failure, run.result, sim.sched.steps >= maxSteps, maxSteps, lastLine || line);
  if (run.result === null) run.finish(0, 'exit', 'explorer run ended');
  return {
    failure,
    records: rec.records,
    steps: sim.sched.steps,
    preemptions: rec.preemptions,
    switches: rec.switches,
    faults: vm.stats.pf_taken,
    swapIns,
    host,
    vm,
    actors: sim.sched.tasks.length,
    actorNames: sim.sched.tasks.map((t) => t.name),
  };
}

type Result = { exitCode: number; reason: string; message: string } | null;

/** Which checker a run's end is: the checkers' own failure, the detector, or the guest's status. */
function judge(broken: Failure | null, r: Result, outOfSteps: boolean, maxSteps: number, lastLine: string): Failure | null {
  if (broken !== null) return broken;
  if (r === null) {
    return outOfSteps ? { checker: 'liveness', message: `the guest did not finish within ${maxSteps} scheduling steps` } : null;
  }
  if (r.exitCode === 0 || r.reason === 'budget') return null;
  if (r.exitCode === EXIT_STATUS_STALE && r.message.startsWith('stale access')) return { checker: 'stale', message: r.message };
  if (r.reason === 'exit') {
    return { checker: 'guest-exit', message: `the guest exited with status ${r.exitCode}${lastLine === '' ? '' : ` (its last line: ${lastLine})`}` };
  }
  return { checker: r.reason, message: r.message };
}
