// `shadowvisor explore`: search the interleavings of host mm events and vCPU faults for one that
// breaks the mmu_notifier protocol, with or without an injected bug; shrink a failing schedule;
// replay a schedule string exactly (also as a trace: `trace --schedule STR`). Sweeps split into
// shards (--shard i/n, one per machine or job) and worker threads (--jobs N); their JSON lines
// merge (--merge) into exactly what one process prints.

import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { formatSize, parseCommandArgs, parseCount, parseSize, UsageError } from './args.js';
import { readInputFile } from './input-file.js';
import { ImageError } from '../machine/image-error.js';
import { IMAGE_DEFAULTS, imageScenario, type ImageSpec } from '../sim/explore/image-scenario.js';
import { MEMORY_MODES, type MemoryMode } from '../hv/shadow/page-fault.js';
import { MULTIBOOT_CMDLINE_MAX } from '../machine/multiboot.js';
import { writeStderr, writeStdout } from './output.js';
import { CHOICE_PICK, decodeSchedule, encodeSchedule, ReplayChooser, ScheduleError, type Chooser, type Schedule } from '../sim/choice.js';
import { BUGS, bugJsonLines, findBug, type Bug } from '../sim/explore/bugs.js';
import { DfsExplorer } from '../sim/explore/dfs-scheduler.js';
import { runOnce, type RunOutcome } from '../sim/explore/engine.js';
import {
  DEFAULT_DEPTH, DEFAULT_PREEMPTION_BOUND, explore, pctBoundFor, report, SCHEDULERS,
  type RunReport, type SchedulerName,
} from '../sim/explore/explorer.js';
import { findScenario, SCENARIOS, type Scenario } from '../sim/explore/scenarios.js';
import { shrinkSchedule } from '../sim/explore/shrink.js';
import { shardSeeds, summarize, type SweepSummary } from '../sim/explore/summary.js';
import { EventRing, readEvents, type TraceEvent } from '../obs/event-ring.js';
import { EV_GUP, EV_INV_END, EV_INV_START, EV_RELEASE, EV_SPTE_SET, EV_SPTE_ZAP, EV_STALE } from '../obs/events.js';
import { lineFormatterFor, type LineFormatter, type SlotLookup } from './trace-format.js';
import { prepareHtmlDir, writeTraceHtml } from './trace-html-file.js';
import { buildModel, DEFAULT_HTML_EVENTS } from './trace-html-model.js';
import { renderTraceHtml } from './trace-html.js';
import type { ScheduleStep, ScheduleView } from './trace-html-schedule.js';
import { chainHeading } from './trace-chains.js';
import { collectShadowStats } from './stats.js';
import type { RunResult } from '../machine/run-loop.js';
import { PAGE_SIZE } from '../host/constants.js';

export const EXPLORE_HELP = `Usage: shadowvisor explore [options]

Search the interleavings of host memory-management events (swap-out, KSM, fork, MADV_DONTNEED,
mprotect, exit, memslot deletion) against vCPU faults for one that breaks the mmu_notifier
protocol. Every scheduling decision is a recorded choice; a run is reproducible from its seed or
from its schedule string. Checkers run after every step: the stale-access detector, the
hypervisor and host invariant checkers, and the guests' data checks.

Selection:
  --scenario NAME      one scenario (--list-scenarios); default: the --inject bug's own
                       scenario, or every scenario when neither is given
  --inject NAME        switch one catalogued bug on (--list-bugs)
  --list-bugs          the catalogue: name, kind (correctness|performance|control), what it
                       breaks, the kernel rule it violates (--json: one object per line)
  --list-scenarios     the scenarios, one per line

A guest of one's own (instead of --scenario): the image boots on the engine 'run' uses, the
chooser makes every scheduling and host preemption decision, the checkers run after every step,
and the guest's exit status is its own data check (non-zero: a failure). Its schedule strings
name the image by a hash of it and these options: replay them with the same options.
  --image FILE         the guest (an ELF32 Multiboot kernel)
  --cmdline STR        its command line (e.g. 'mib=1 iters=40' for memhog)
  --mem SIZE           guest RAM (default ${formatSize(IMAGE_DEFAULTS.memBytes)})
  --host-mem SIZE      host RAM (default ${formatSize(IMAGE_DEFAULTS.hostMemBytes)}: the host must be short of memory
                       for reclaim to race the guest's faults)
  --swap SIZE          host swap (default: the guest RAM)
  --vcpus N, --mode MODE, --ksm   as for 'run'
  --mmu MMU                       shadow (default) or tdp, as for 'run'
  --slice N            guest instructions per scheduling step (default ${IMAGE_DEFAULTS.slice})
  --max-insns N        end each run (cleanly) after N guest instructions
  --max-steps N        most scheduling steps of a run (default ${IMAGE_DEFAULTS.maxSteps}; more is a liveness failure)

Search:
  --scheduler S        random | pct | dfs (default pct)
  --seeds A..B         explorer seeds (default 1..100); dfs: at most B-A+1 runs
  --runs N             the same as --seeds 1..N
  --depth D            pct: bug depth (default ${DEFAULT_DEPTH}; D-1 priority change points)
  --preemption-bound P dfs: most preemptions per schedule (default ${DEFAULT_PREEMPTION_BOUND})
  --keep-going         run every seed instead of stopping at the first failure
  --no-shrink          print the failing schedule as found
  --no-check           checkers only at the end of each run (faster, finds less)

Replay:
  --replay STR         rerun one schedule exactly (--schedule STR is the same); exit 1 if it fails
  --trace              with --replay: print the hypervisor's events of the run, each step marked
                       (what 'shadowvisor trace --schedule STR' prints; 'trace --schedule STR
                       --html DIR' writes it as trace's page with the schedule's choice points)

Scale:
  --json               one JSON object per run on stdout, then one summary object per sweep
  --shard i/n          run only shard i of n of the seeds (every n-th, from the i-th)
  --jobs N             worker threads (random and pct; needs the built CLI)
  --merge FILE...      combine --json outputs of shards ('-' is stdin) into the summaries one
                       process would print

Exit status: 0 no failure found, 1 a failure was found (its minimal schedule printed), 2 bad
usage. Progress goes to stderr; Ctrl-C stops a sweep and still prints what was done.
Try: shadowvisor explore --inject no-retry-check
`;

interface Target {
  scenario: Scenario;
  bug: Bug | null;
}

function parseSeeds(text: string): [number, number] {
  const m = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (m === null) throw new UsageError(`explore: --seeds: expected A..B, got '${text}'`);
  const a = parseCount('--seeds', m[1]!, 0, 2 ** 31 - 1);
  const b = parseCount('--seeds', m[2]!, 0, 2 ** 31 - 1);
  if (b < a) throw new UsageError(`explore: --seeds: ${a}..${b} is empty`);
  return [a, b];
}

function parseShard(text: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) throw new UsageError(`explore: --shard: expected i/n, got '${text}'`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && n <= 100000) || i >= n) throw new UsageError(`explore: --shard ${text}: need 0 <= i < n`);
  return [i, n];
}

const IMAGE_OPTIONS = {
  image: { type: 'string' },
  cmdline: { type: 'string' },
  mem: { type: 'string' },
  'host-mem': { type: 'string' },
  swap: { type: 'string' },
  vcpus: { type: 'string' },
  mode: { type: 'string' },
  mmu: { type: 'string' },
  ksm: { type: 'boolean' },
  slice: { type: 'string' },
  'max-insns': { type: 'string' },
  'max-steps': { type: 'string' },
} as const;

type ImageValues = { [K in keyof typeof IMAGE_OPTIONS]?: (typeof IMAGE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** The --image scenario of these options, or null without --image (its options then refused). */
function imageFromArgs(cmd: string, v: ImageValues): { scenario: Scenario; spec: ImageSpec } | null {
  if (v.image === undefined) {
    const stray = (Object.keys(IMAGE_OPTIONS) as (keyof ImageValues)[]).find((k) => v[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`${cmd}: --${stray} needs --image FILE`);
    return null;
  }
  const memBytes = v.mem === undefined ? IMAGE_DEFAULTS.memBytes : parseSize('--mem', v.mem, { min: 2 << 20, max: 256 << 20, multiple: 4096 });
  const hostMemBytes = v['host-mem'] === undefined ? IMAGE_DEFAULTS.hostMemBytes : parseSize('--host-mem', v['host-mem'], { min: 64 << 10, max: 1 << 30, multiple: 4096 });
  const swapBytes = v.swap === undefined ? memBytes : parseSize('--swap', v.swap, { max: 1 << 30, multiple: 4096 });
  if (memBytes > hostMemBytes + swapBytes) throw new UsageError(`${cmd}: guest memory (${formatSize(memBytes)}) is more than host RAM + swap (${formatSize(hostMemBytes + swapBytes)})`);
  const mode = (v.mode ?? 'notifier') as MemoryMode;
  if (!MEMORY_MODES.includes(mode)) throw new UsageError(`--mode: unknown mode '${mode}' (${MEMORY_MODES.join(', ')})`);
  const mmu = v.mmu ?? 'shadow';
  if (mmu !== 'shadow' && mmu !== 'tdp') throw new UsageError(`--mmu: unknown MMU '${mmu}' (shadow or tdp)`);
  const cmdline = v.cmdline ?? '';
  if (new TextEncoder().encode(cmdline).length > MULTIBOOT_CMDLINE_MAX) throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  const spec: ImageSpec = {
    file: v.image,
    image: readInputFile('image', v.image),
    cmdline,
    memBytes,
    hostMemBytes,
    swapBytes,
    vcpus: v.vcpus === undefined ? 1 : parseCount('--vcpus', v.vcpus, 1, 16),
    mode,
    ...(mmu === 'tdp' ? { mmu } : {}),
    ksm: v.ksm === true,
    slice: v.slice === undefined ? IMAGE_DEFAULTS.slice : parseCount('--slice', v.slice, 1, 1 << 24),
    maxInsns: v['max-insns'] === undefined ? Infinity : parseCount('--max-insns', v['max-insns'], 1),
    maxSteps: v['max-steps'] === undefined ? IMAGE_DEFAULTS.maxSteps : parseCount('--max-steps', v['max-steps'], 1, 1 << 30),
  };
  let scenario: Scenario;
  try {
    scenario = imageScenario(spec);
    // A build error (a bad image, sizes that cannot fit) is one line now, not once per run.
    runOnce({ scenario, bug: null, chooser: new ReplayChooser([]), checks: false, maxSteps: 1 });
  } catch (e) {
    if (e instanceof RangeError || e instanceof ImageError) throw new UsageError(`${cmd}: ${v.image}: ${(e as Error).message}`);
    throw e;
  }
  return { scenario, spec };
}

/** The options that rebuild an --image scenario, as a command line. */
function imageArgs(spec: ImageSpec): string {
  const q = (t: string): string => (/^[A-Za-z0-9_./=:,+-]+$/.test(t) ? t : `'${t.replace(/'/g, `'\\''`)}'`);
  const a = [`--image ${q(spec.file)}`];
  if (spec.cmdline !== '') a.push(`--cmdline ${q(spec.cmdline)}`);
  if (spec.memBytes !== IMAGE_DEFAULTS.memBytes) a.push(`--mem ${formatSize(spec.memBytes)}`);
  if (spec.hostMemBytes !== IMAGE_DEFAULTS.hostMemBytes) a.push(`--host-mem ${formatSize(spec.hostMemBytes)}`);
  if (spec.swapBytes !== spec.memBytes) a.push(`--swap ${formatSize(spec.swapBytes)}`);
  if (spec.vcpus !== 1) a.push(`--vcpus ${spec.vcpus}`);
  if (spec.mode !== 'notifier') a.push(`--mode ${spec.mode}`);
  if (spec.mmu === 'tdp') a.push('--mmu tdp');
  if (spec.ksm) a.push('--ksm');
  if (spec.slice !== IMAGE_DEFAULTS.slice) a.push(`--slice ${spec.slice}`);
  if (spec.maxInsns !== Infinity) a.push(`--max-insns ${spec.maxInsns}`);
  if (spec.maxSteps !== IMAGE_DEFAULTS.maxSteps) a.push(`--max-steps ${spec.maxSteps}`);
  return a.join(' ');
}

/** Replays of a shrink: a guest image's run costs far more than a scripted scenario's. */
const SHRINK_RUNS = 3000;
const SHRINK_RUNS_IMAGE = 100;

const OPTIONS = {
  scenario: { type: 'string' },
  inject: { type: 'string' },
  'list-bugs': { type: 'boolean' },
  'list-scenarios': { type: 'boolean' },
  scheduler: { type: 'string' },
  seeds: { type: 'string' },
  runs: { type: 'string' },
  depth: { type: 'string' },
  'preemption-bound': { type: 'string' },
  'keep-going': { type: 'boolean' },
  'no-shrink': { type: 'boolean' },
  'no-check': { type: 'boolean' },
  replay: { type: 'string' },
  schedule: { type: 'string' },
  trace: { type: 'boolean' },
  json: { type: 'boolean' },
  shard: { type: 'string' },
  jobs: { type: 'string' },
  merge: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...IMAGE_OPTIONS,
} as const;

let interrupted = false;

export async function exploreCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs('explore', argv, OPTIONS);
  if (v.help === true) {
    writeStdout(EXPLORE_HELP);
    return 0;
  }
  if (v.merge === true) return mergeCommand(positionals, v.json === true);
  if (positionals.length > 0) throw new UsageError(`explore: unexpected argument '${positionals[0]}' (try 'shadowvisor explore --help')`);
  if (v['list-bugs'] === true) {
    if (v.json === true) writeStdout(bugJsonLines().join('\n') + '\n');
    else for (const b of BUGS) writeStdout(`${b.name.padEnd(40)} ${b.kind.padEnd(12)} ${b.what}\n${''.padEnd(53)}violates: ${b.rule}\n${''.padEnd(53)}scenario: ${b.scenario}\n`);
    return 0;
  }
  if (v['list-scenarios'] === true) {
    for (const s of SCENARIOS) writeStdout(`${s.name.padEnd(16)} ${s.what}\n`);
    return 0;
  }
  const bug = v.inject === undefined ? null : findBug(v.inject) ?? null;
  if (v.inject !== undefined && bug === null) throw new UsageError(`explore: unknown bug '${v.inject}' (try 'shadowvisor explore --list-bugs')`);
  let scenario = v.scenario === undefined ? null : findScenario(v.scenario) ?? null;
  if (v.scenario !== undefined && scenario === null) throw new UsageError(`explore: unknown scenario '${v.scenario}' (try 'shadowvisor explore --list-scenarios')`);
  if (v.scenario !== undefined && v.image !== undefined) throw new UsageError('explore: give --scenario or --image, not both');
  const img = imageFromArgs('explore', v);
  if (img !== null) scenario = img.scenario;

  const replay = v.replay ?? v.schedule;
  if (replay !== undefined) return replayCommand(replay, scenario, bug, v.trace === true, v.json === true, img?.spec ?? null);
  if (v.trace === true) throw new UsageError('explore: --trace needs --replay STR');

  const scheduler = (v.scheduler ?? 'pct') as SchedulerName;
  if (!SCHEDULERS.includes(scheduler)) throw new UsageError(`explore: --scheduler: expected random, pct or dfs, got '${v.scheduler}'`);
  if (v.seeds !== undefined && v.runs !== undefined) throw new UsageError('explore: give --seeds or --runs, not both');
  const [from, to] = v.seeds !== undefined ? parseSeeds(v.seeds) : v.runs !== undefined ? [1, parseCount('--runs', v.runs, 1, 2 ** 31 - 1)] : [1, 100];
  const depth = v.depth === undefined ? DEFAULT_DEPTH : parseCount('--depth', v.depth, 1, 10);
  const bound = v['preemption-bound'] === undefined ? DEFAULT_PREEMPTION_BOUND : parseCount('--preemption-bound', v['preemption-bound'], 0, 20);
  const shard = v.shard === undefined ? null : parseShard(v.shard);
  const jobs = v.jobs === undefined ? 1 : parseCount('--jobs', v.jobs, 1, 256);
  if (jobs > 1 && scheduler === 'dfs') throw new UsageError('explore: --jobs needs --scheduler random or pct (dfs is one sequential search)');
  if (shard !== null && scheduler === 'dfs') throw new UsageError('explore: --shard needs --scheduler random or pct');
  if (jobs > 1 && !import.meta.url.endsWith('.mjs')) throw new UsageError('explore: --jobs needs the built CLI (node scripts/build.mjs)');

  const targets: Target[] = scenario !== null ? [{ scenario, bug }]
    : bug !== null ? [{ scenario: findScenario(bug.scenario)!, bug }]
    : SCENARIOS.map((s) => ({ scenario: s, bug: null }));
  const seeds = shard === null ? null : shardSeeds(from, to, shard[0], shard[1]);
  const opts: SweepOpts = {
    scheduler, from, to, seeds, depth, bound, jobs, image: img?.spec ?? null,
    keepGoing: v['keep-going'] === true, shrink: v['no-shrink'] !== true, checks: v['no-check'] !== true, json: v.json === true,
  };
  const onSigint = (): void => { interrupted = true; };
  process.on('SIGINT', onSigint);
  let failed = false;
  try {
    for (const t of targets) {
      if (await sweep(t, opts)) failed = true;
      if (interrupted) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) writeStderr('explore: interrupted; the summary above covers the runs done so far\n');
  return failed ? 1 : 0;
}

interface SweepOpts {
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
async function sweep(t: Target, o: SweepOpts): Promise<boolean> {
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
    const rate = rateText(summary.runs, seconds);
    let line = `${label}: ${summary.runs} runs, ${summary.failures} failing, ${rate} runs/s`;
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

// ---- replay and its trace ----------------------------------------------------------------------

function replayCommand(text: string, scenario: Scenario | null, bug: Bug | null, trace: boolean, json: boolean, image: ImageSpec | null = null, html: string | null = null): number {
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

/** The run's events with each step marked, then the failure's story: which frame, and what the host did with it. */
function printTrace(o: RunOutcome, ring: EventRing, marks: { seq: number; text: string }[], json: boolean): void {
  const events = readEvents(ring);
  const vm = o.vm;
  const slots: SlotLookup = (gfn) => {
    const s = vm.memslots.find(gfn);
    return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
  };
  const fmt = lineFormatterFor(events, slots);
  let m = 0;
  for (const e of events) {
    while (m < marks.length && marks[m]!.seq <= e.seq) {
      if (!json) writeStdout(marks[m]!.text + '\n');
      fmt.reset();
      m++;
    }
    writeStdout((json ? JSON.stringify({ seq: e.seq, kind: e.kind, vcpu: e.vcpu, f: Array.from(e.f) }) : fmt.line(e)) + '\n');
  }
  if (json || o.failure === null) return;
  writeStdout(`== failure: ${o.failure.checker}: ${o.failure.message}\n`);
  // The gfn and frame the failure is about: the detector's record, else the checker's message.
  const st = vm.staleRecords[0];
  const gfn = st?.gfn ?? Number(/gfn (\d+)/.exec(o.failure.message)?.[1] ?? -1);
  const frame = st?.frame ?? Number(/frame (\d+)/.exec(o.failure.message)?.[1] ?? -1);
  if (gfn < 0) return;
  for (const line of failureStory(events, gfn, frame, fmt)) writeStdout(line + '\n');
  if (frame < 0) return;
  const h = o.host;
  const owners: string[] = [];
  for (let e = h.rmap.first(frame); e !== -1; e = h.rmap.entryNext(e)) owners.push(`mm ${h.rmap.entryMm(e)} at 0x${(h.rmap.entryVpn(e) * PAGE_SIZE).toString(16)}`);
  const now = h.ft.refcount[frame] === 0 ? 'free (on the allocator\'s free list, the next allocation may hand it to anyone)'
    : owners.length > 0 ? `mapped by ${owners.join(', ')}${owners.some((x) => x.startsWith(`mm ${vm.mm.id} `)) ? '' : ' (not the VM process)'}`
    : 'held only by references (swap cache or a pin), mapped by no process';
  writeStdout(`== the frame's owner now: host frame ${frame} is ${now}\n`);
}

/** The causal chain of a failure on gfn: the invalidation that should have kept the translation
 *  away, the fault that raced it (gup before, spte after), and the stale use. */
function failureStory(events: readonly TraceEvent[], gfn: number, frame: number, fmt: LineFormatter): string[] {
  const out: string[] = [];
  const invs = events.filter((e) => e.kind === EV_INV_START && e.f[3]! <= gfn && gfn < e.f[4]!);
  const sets = events.filter((e) => e.kind === EV_SPTE_SET && e.f[1] === gfn && (frame < 0 || e.f[2] === frame));
  const set = sets[sets.length - 1];
  fmt.reset();
  const gup = set === undefined ? undefined : [...events].reverse().find((e) => e.kind === EV_GUP && e.seq < set.seq && e.f[0] === gfn);
  const raced = set === undefined || gup === undefined ? [] : invs.filter((e) => e.seq > gup.seq && e.seq < set.seq);
  if (set !== undefined && raced.length > 0) {
    out.push(`== the racing fault: it got frame ${set.f[2]} from the host before the invalidation and mapped it after:`);
    if (gup !== undefined) out.push(fmt.line(gup, '     '));
    for (const inv of raced) {
      out.push(fmt.line(inv, '     '));
      const end = events.find((e) => e.kind === EV_INV_END && e.seq > inv.seq && e.f[1] === inv.f[1] && e.f[2] === inv.f[2]);
      if (end !== undefined && end.seq < set.seq) out.push(fmt.line(end, '     '));
    }
    out.push(fmt.line(set, '     '));
    out.push('== the retry check under mmu_lock should have turned that SPTE_SET into a RETRY (seq moved, or an invalidation in progress)');
    return [...out, ...staleLines(events, gfn, fmt)];
  }
  if (set !== undefined) {
    out.push(`== the translation: gfn ${gfn} -> frame ${set.f[2]}, mapped before the host changed the page:`);
    out.push(fmt.line(set, '     '));
  }
  const after = invs.filter((e) => set === undefined || e.seq > set.seq);
  const release = events.find((e) => e.kind === EV_RELEASE && (set === undefined || e.seq > set.seq));
  if (after.length > 0) {
    const inv = after[after.length - 1]!;
    const zapped = events.some((e) => e.kind === EV_SPTE_ZAP && e.seq > inv.seq && e.f[0] === gfn);
    out.push(`== the invalidation that should have zapped it${zapped ? '' : ' (no SPTE_ZAP for this gfn follows it)'}:`);
    out.push(fmt.line(inv, '     '));
  } else if (release !== undefined) {
    out.push('== the release (exit_mmap) that should have zapped every spte:');
    out.push(fmt.line(release, '     '));
  }
  return [...out, ...staleLines(events, gfn, fmt)];
}

function staleLines(events: readonly TraceEvent[], gfn: number, fmt: LineFormatter): string[] {
  const out: string[] = [];
  const stale = events.find((e) => e.kind === EV_STALE && e.f[1] === gfn);
  if (stale !== undefined) {
    out.push('== the stale access:');
    out.push(fmt.line(stale, '     '));
  }
  return out;
}

// ---- --merge -----------------------------------------------------------------------------------

function mergeCommand(files: string[], json: boolean): number {
  if (files.length === 0) throw new UsageError('explore: --merge needs at least one FILE (or - for stdin)');
  const reports: RunReport[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (e) {
      throw new UsageError(`explore: --merge: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let o: { type?: string } & Partial<RunReport>;
      try {
        o = JSON.parse(line) as typeof o;
      } catch {
        throw new UsageError(`explore: --merge: ${f}:${i + 1}: not JSON`);
      }
      if (o.type !== 'run') return;
      if (typeof o.scenario !== 'string' || typeof o.seed !== 'number' || typeof o.failed !== 'boolean') {
        throw new UsageError(`explore: --merge: ${f}:${i + 1}: not a run object`);
      }
      reports.push(o as RunReport);
    });
  }
  const sums = summarize(reports);
  for (const s of sums) {
    if (json) writeStdout(JSON.stringify(s) + '\n');
    else writeStdout(`${s.scenario}${s.inject === '' ? '' : ` + ${s.inject}`} (${s.scheduler}): ${s.runs} runs, ${s.failures} failing${s.firstFailingSeed >= 0 ? `; first at seed ${s.firstFailingSeed}: ${s.firstChecker}; schedule ${s.firstSchedule}` : ''}\n`);
  }
  return sums.some((s) => s.failures > 0) ? 1 : 0;
}

// ---- worker threads ----------------------------------------------------------------------------

const WORKER_KIND = 'explore-batch';

interface BatchJob {
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
