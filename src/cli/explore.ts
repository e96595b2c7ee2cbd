// `shadowvisor explore`: its flags and driver. Searches the interleavings of host mm events and
// vCPU faults for one that breaks the mmu_notifier protocol, with or without an injected bug.
// The sweep (explore-sweep.ts, its worker threads explore-worker.ts), the replay of a schedule
// string (explore-replay.ts, also `trace --schedule STR`), --merge of shards' JSON lines
// (explore-merge.ts) and the --image options (explore-image.ts) each have their own file.

import { formatSize, parseCommandArgs, parseCount, UsageError } from './args.js';
import { IMAGE_DEFAULTS } from '../sim/explore/image-scenario.js';
import { writeStderr, writeStdout } from './output.js';
import { BUGS, bugJsonLines, findBug } from '../sim/explore/bugs.js';
import { DEFAULT_DEPTH, DEFAULT_PREEMPTION_BOUND, SCHEDULERS, type SchedulerName } from '../sim/explore/explorer.js';
import { findScenario, SCENARIOS } from '../sim/explore/scenarios.js';
import { shardSeeds } from '../sim/explore/summary.js';
import { imageFromArgs, IMAGE_OPTIONS } from './explore-image.js';
import { mergeCommand } from './explore-merge.js';
import { replayCommand } from './explore-replay.js';
import { interruptSweeps, sweep, sweepsInterrupted, type SweepOpts, type Target } from './explore-sweep.js';

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
  const onSigint = (): void => { interruptSweeps(); };
  process.on('SIGINT', onSigint);
  let failed = false;
  try {
    for (const t of targets) {
      if (await sweep(t, opts)) failed = true;
      if (sweepsInterrupted()) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (sweepsInterrupted()) writeStderr('explore: interrupted; the summary above covers the runs done so far\n');
  return failed ? 1 : 0;
}
