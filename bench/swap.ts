// `shadowvisor bench swap`: the headline. K VMs run an integrity guest (memhog) on one host
// whose RAM is their total memory divided by the overcommit ratio, once per memory-coherence mode:
// notifier (mmu_notifier: swap works, nothing goes stale), pin (KVM before notifiers: pinned
// memory cannot be reclaimed, the host stalls or OOM-kills), none (no pins, no notifier: guests
// read freed frames and lose writes, and both the stale-access detector and the guests' own checks
// say so). One row per (mode, ratio) cell; a table, JSON lines, an HTML report; shardable.

import { fileURLToPath } from 'node:url';
import { UsageError, formatSize, parseCommandArgs, parseCount, parseSize } from '../src/cli/args.js';
import { preparePageDir } from '../src/cli/html-file.js';
import { MAX_IMAGE_BYTES, readCapped } from '../src/cli/input-file.js';
import { parseElf32 } from '../src/machine/elf-loader.js';
import { ImageError } from '../src/machine/image-error.js';
import { MULTIBOOT_CMDLINE_MAX, findMultibootHeader } from '../src/machine/multiboot.js';
import { EXIT_STATUS_BAD_INPUT, EXIT_STATUS_INTERRUPTED } from '../src/obs/exit-status.js';
import { nullLogger } from '../src/obs/log.js';
import { classifyOutcome, SwapCellRun, type SwapCellOutcome, type SwapCellSpec } from '../src/sim/swap-cell.js';
import type { BenchOut } from './index.js';
import { Progress } from './progress.js';
import { poolAvailable, SwapPool } from './swap-pool.js';
import { renderReport, writeReport } from './swap-report.js';
import {
  MEMORY_MODES,
  ZERO_COUNTERS,
  buildGrid,
  formatTable,
  parseModes,
  parseRatios,
  parseShard,
  rowToJson,
  shardCells,
  type MemoryMode,
  type SwapCell,
  type SwapRow,
} from './swap-rows.js';
import type { HvMmuKind } from '../src/hv/vm.js';

const HELP = `Usage: shadowvisor bench swap [options]

K VMs run the memhog integrity guest on an overcommitted host, in each memory-coherence mode and
at each overcommit ratio (total guest RAM / host RAM). Prints one row per cell.

Options:
  --vms K               VMs per cell (default 3)
  --guest-mem SIZE      RAM of each VM (default 16M; K/M/G)
  --host-mem SIZE       fix host RAM instead; then each VM gets ratio * host / K (rounded to 1M)
  --swap SIZE           swap device (default: the total guest RAM)
  --modes LIST          some of notifier,pin,none (default: all three)
  --mmu MMU             the hypervisor's MMU for every cell: shadow (default) or tdp (EPT-like
                        two-dimensional paging; the same notifier protocol on a gpa->hpa table)
  --overcommit LIST     ratios (default 0.5,1,1.5,2,3)
  --insns N             guest instructions per VM (default 40000000; --quick 16000000)
  --ksm                 guest RAM mergeable, ksmd running
  --fork-every N        fork a VM process every N scheduler steps (default 0: never)
  --dontneed-every N    MADV_DONTNEED memhog's scratch pages every N scheduler steps (default 0)
  --mprotect-every N    write-protect a run of guest RAM and restore it every N steps (default 0)
  --mp                  use memhog-mp (4 address spaces per guest, CR3 switches) instead of memhog
  --image PATH          run another integrity guest; it must print 'verified=N corrupt=M'
                        progress lines (memhog's format) and may take --cmdline
  --cmdline STR         that guest's Multiboot command line (each VM also gets ' seed=N')
  --seed N              seed (default 1): same flags and seed, same counters
  --jobs N              run grid cells on N worker threads (default 1; rows are the same)
  --quick               a reduced grid that runs in well under a minute
  --shard i/n           run only cells whose index % n == i-1 (merge shards with 'bench merge')
  --json                JSON lines (one object per cell) instead of the table
  --report DIR          also write DIR/index.html, a self-contained report with plots
  -h, --help            show this help

Every option is checked for every cell (image, sizes, command line, --report DIR) before the
first cell runs: a bad one is one line and exit status 2. Ctrl-C stops after the current chunk
(exit status 130): the cell it stopped has outcome 'interrupted' in the table and the JSON, the
table ends with a PARTIAL RESULTS line, and the report says so.

Columns (see README): completed = every VM ran its budget with no OOM kill, stall, crash or
corruption; speed = guest instructions/s relative to an unpressured notifier run; then swap-outs,
swap-ins, reclaim failures caused by pins, KSM merges, COW breaks, notifier invalidations, sptes
zapped, remote TLB flushes, fault retries, stale accesses caught by the detector, corrupt pages
reported by the guests themselves.
`;

const imageUrl = (name: string): string => fileURLToPath(new URL(`../guest-images/${name}`, import.meta.url));
const MIB = 1024 * 1024;

interface Settings {
  vms: number;
  guestMem: number;
  hostMem: number | null;
  swap: number | null;
  modes: MemoryMode[];
  mmu: HvMmuKind;
  ratios: number[];
  insns: number;
  ksm: boolean;
  forkEvery: number;
  dontneedEvery: number;
  mprotectEvery: number;
  mp: boolean;
  image: string | null;
  cmdline: string | null;
  seed: number;
  jobs: number;
  shard: { index: number; count: number } | null;
  json: boolean;
  report: string | null;
}

function parse(argv: string[]): Settings | 'help' {
  const { values } = parseCommandArgs('bench swap', argv, {
    vms: { type: 'string' },
    'guest-mem': { type: 'string' },
    'host-mem': { type: 'string' },
    swap: { type: 'string' },
    modes: { type: 'string' },
    mmu: { type: 'string' },
    overcommit: { type: 'string' },
    insns: { type: 'string' },
    ksm: { type: 'boolean' },
    'fork-every': { type: 'string' },
    'dontneed-every': { type: 'string' },
    'mprotect-every': { type: 'string' },
    mp: { type: 'boolean' },
    image: { type: 'string' },
    cmdline: { type: 'string' },
    seed: { type: 'string' },
    jobs: { type: 'string' },
    quick: { type: 'boolean' },
    shard: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const quick = values.quick === true;
  const mem = { multiple: 4096, max: MAX_MEM };
  const s: Settings = {
    vms: parseCount('--vms', values.vms ?? (quick ? '2' : '3'), 1, 64),
    guestMem: parseSize('--guest-mem', values['guest-mem'] ?? (quick ? '8M' : '16M'), { ...mem, max: MAX_GUEST_MEM }),
    hostMem: values['host-mem'] === undefined ? null : parseSize('--host-mem', values['host-mem'], { ...mem, min: MIN_HOST_MEM }),
    swap: values.swap === undefined ? null : parseSize('--swap', values.swap, mem),
    modes: parseModes(values.modes ?? MEMORY_MODES.join(',')),
    mmu: parseMmu(values.mmu ?? 'shadow'),
    ratios: parseRatios(values.overcommit ?? (quick ? '0.5,1.5,3' : '0.5,1,1.5,2,3')),
    insns: parseCount('--insns', values.insns ?? (quick ? '16000000' : '40000000'), 1000, 1e12),
    ksm: values.ksm === true,
    forkEvery: parseCount('--fork-every', values['fork-every'] ?? '0', 0, 1e9),
    dontneedEvery: parseCount('--dontneed-every', values['dontneed-every'] ?? '0', 0, 1e9),
    mprotectEvery: parseCount('--mprotect-every', values['mprotect-every'] ?? '0', 0, 1e9),
    mp: values.mp === true,
    image: values.image ?? null,
    cmdline: values.cmdline ?? null,
    seed: parseCount('--seed', values.seed ?? '1', 0, 2 ** 31 - 1),
    jobs: parseCount('--jobs', values.jobs ?? '1', 1, 64),
    shard: values.shard === undefined ? null : parseShard(values.shard),
    json: values.json === true,
    report: values.report ?? null,
  };
  if (s.image !== null && s.mp) throw new UsageError('--image and --mp: choose one guest');
  if (s.cmdline !== null && s.image === null) throw new UsageError('--cmdline goes with --image (memhog gets its options from the grid)');
  if (s.jobs > 1 && !poolAvailable()) throw new UsageError('--jobs needs the built CLI (node dist/shadowvisor.mjs bench swap ...)');
  if (s.guestMem < (s.mp ? 10 : 4) * MIB) throw new UsageError(`--guest-mem: at least ${s.mp ? 10 : 4}M (memhog needs room above its image)`);
  if (s.report === '') throw new UsageError('--report: expected a directory');
  return s;
}

function parseMmu(text: string): HvMmuKind {
  if (text !== 'shadow' && text !== 'tdp') throw new UsageError(`--mmu: unknown MMU '${text}' (shadow or tdp)`);
  return text;
}

/** Largest guest RAM per VM (as `run --mem`) and largest host RAM or swap (as `run --host-mem`). */
const MAX_GUEST_MEM = 2 * 1024 * MIB;
const MAX_MEM = 16 * 1024 * MIB;
const MIN_HOST_MEM = 64 * 1024;

/**
 * Everything a cell could refuse, checked for every cell before the first one runs, so a bad
 * option is one line and status 2 instead of an internal error (or a lost sweep) later: the image
 * must be an ELF Multiboot kernel that fits each cell's guest RAM, the command line must fit the
 * Multiboot limit with the seed the grid appends, each cell's host must be buildable and able to
 * hold its guests with swap, and the report directory must be writable.
 */
function validate(s: Settings, image: Uint8Array, imageName: string, cells: SwapCell[]): void {
  const seen = new Set<number>();
  // The unpressured baseline runs first, at ratio 0.5 (index -1 here).
  for (const cell of [{ index: -1, mode: 'notifier' as const, overcommit: 0.5 }, ...cells]) {
    const z = sizes(s, cell.overcommit);
    const where = cell.index < 0 ? 'the unpressured baseline (notifier x0.5)' : `cell ${cell.index} (${cell.mode} x${cell.overcommit})`;
    if (z.host < MIN_HOST_MEM) {
      throw new UsageError(`${where}: host RAM of ${z.host} bytes is too small (at least 64K); lower --overcommit or raise --guest-mem/--vms`);
    }
    if (z.guest > MAX_GUEST_MEM) throw new UsageError(`${where}: ${formatSize(z.guest)} per VM is more than 2G`);
    if (z.host > MAX_MEM) throw new UsageError(`${where}: host RAM of ${formatSize(z.host)} is more than 16G; raise --overcommit or lower --guest-mem/--vms`);
    if (s.hostMem !== null && z.guest !== Math.round((cell.overcommit * s.hostMem) / s.vms / MIB) * MIB) {
      throw new UsageError(
        `${where}: --host-mem ${formatSize(s.hostMem)} shared by ${s.vms} VMs at ratio ${cell.overcommit} leaves less than the ` +
          `${formatSize(z.guest)} per VM the guest needs; raise --host-mem or lower --vms`,
      );
    }
    if (s.vms * z.guest > z.host + z.swap) {
      throw new UsageError(
        `${where}: ${s.vms} x ${formatSize(z.guest)} of guest RAM cannot fit ${formatSize(z.host)} of host RAM + ${formatSize(z.swap)} of swap; raise --swap`,
      );
    }
    if (seen.has(z.guest)) continue;
    seen.add(z.guest);
    try {
      findMultibootHeader(image);
      parseElf32(image, z.guest);
    } catch (e) {
      if (e instanceof ImageError) throw new UsageError(`${imageName}: ${e.message}${seen.size > 1 ? ` (${where}: ${z.guest / MIB} MiB per VM)` : ''}`);
      throw e;
    }
    const cmdline = `${memhogArgs(s, z.guest).cmdline} seed=${s.seed * 31 + s.vms}`;
    if (new TextEncoder().encode(cmdline).length > MULTIBOOT_CMDLINE_MAX) {
      throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX - ` seed=${s.seed * 31 + s.vms}`.length} bytes (the Multiboot limit, with the ' seed=N' each VM gets)`);
    }
  }
  if (s.report !== null) preparePageDir(s.report, '--report');
}

/** Guest memory of each VM and host memory for one ratio. */
function sizes(s: Settings, ratio: number): { guest: number; host: number; swap: number } {
  let guest = s.guestMem;
  let host: number;
  if (s.hostMem !== null) {
    host = s.hostMem;
    guest = Math.max((s.mp ? 10 : 4) * MIB, Math.round((ratio * host) / s.vms / MIB) * MIB);
  } else {
    host = Math.floor((s.vms * guest) / ratio / 4096) * 4096;
  }
  const swap = s.swap ?? s.vms * guest;
  return { guest, host, swap };
}

/** memhog's area for a guest of `guest` bytes: from its base to the top of guest RAM. */
function memhogArgs(s: Settings, guest: number): { cmdline: string; scratch: { offset: number; len: number } } {
  const base = s.mp ? 8 * MIB : 2 * MIB;
  const mib = Math.max(1, Math.floor((guest - base) / MIB));
  const procs = s.mp ? 4 : 1;
  // memhog keeps the last 1/8 of each process's pages as scratch; discard only inside the first
  // process's scratch (flat layout: its pages are contiguous from `base`).
  const perPages = Math.floor((mib * 256) / procs);
  const scratchPages = Math.floor(perPages / 8);
  if (s.image !== null) return { cmdline: s.cmdline ?? '', scratch: { offset: 0, len: 0 } };
  return {
    cmdline: `mib=${mib} iters=0 report=64 procs=${procs}`,
    scratch: { offset: base + (perPages - scratchPages) * 4096, len: scratchPages * 4096 },
  };
}

function spec(s: Settings, image: Uint8Array, mode: MemoryMode, ratio: number, onTick: () => boolean): SwapCellSpec {
  const z = sizes(s, ratio);
  const m = memhogArgs(s, z.guest);
  return {
    image,
    cmdline: m.cmdline,
    vms: s.vms,
    guestMemBytes: z.guest,
    hostMemBytes: z.host,
    swapBytes: z.swap,
    mode,
    ...(s.mmu === 'tdp' ? { mmu: s.mmu } : {}),
    ksm: s.ksm,
    forkEvery: s.forkEvery,
    dontneedEvery: s.dontneedEvery,
    mprotectEvery: s.mprotectEvery,
    scratch: m.scratch,
    insnsPerVm: s.insns,
    seed: s.seed,
    log: nullLogger,
    onTick,
  };
}

export function toRow(s: Settings, cell: SwapCell, o: SwapCellOutcome, seconds: number, baselineMips: number): SwapRow {
  const outcome = classifyOutcome(o);
  const completed = outcome === 'ok';
  const mips = seconds > 0 ? o.instructions / seconds / 1e6 : 0;
  const k = o.kvm;
  return {
    ...cellIdentity(s, cell),
    completed,
    outcome,
    guest_speed_ratio: completed && baselineMips > 0 ? Math.round((mips / baselineMips) * 1000) / 1000 : 0,
    guest_mips: Math.round(mips * 10) / 10,
    wall_seconds: Math.round(seconds * 1000) / 1000,
    swap_outs: o.host.swapOuts,
    swap_ins: o.host.swapIns,
    pinned_reclaim_failures: o.host.reclaimFailPinned,
    ksm_merges: o.host.ksmMerges,
    cow_breaks: o.host.cowBreaks,
    invalidations: k.invalidations,
    sptes_zapped: k.sptes_zapped_by_invalidation,
    remote_tlb_flushes: k.remote_tlb_flush,
    fault_retries: k.pf_retry_in_progress + k.pf_retry_seq + k.pf_retry_unsafe,
    stale_accesses: o.vms.reduce((n, v) => n + v.staleAccesses, 0),
    corrupt_pages: o.vms.reduce((n, v) => n + v.corrupt, 0),
    verified_pages: o.vms.reduce((n, v) => n + v.verified, 0),
    oom_kills: o.host.oomKills,
  };
}

/** The columns that say which cell a row is: its settings, whether it ran or not. */
function cellIdentity(s: Settings, cell: SwapCell) {
  const z = sizes(s, cell.overcommit);
  return {
    bench: 'swap' as const,
    mode: cell.mode,
    ...(s.mmu === 'tdp' ? { mmu: 'tdp' as const } : {}),
    overcommit: cell.overcommit,
    vms: s.vms,
    guest_mem_mib: z.guest / MIB,
    host_mem_mib: Math.round((z.host / MIB) * 100) / 100,
    swap_mib: z.swap / MIB,
    ksm: s.ksm,
    fork_every: s.forkEvery,
    dontneed_every: s.dontneedEvery,
    insns: s.insns,
    seed: s.seed,
    cell: cell.index,
  };
}

/** The row of a cell a Ctrl-C kept from running (or whose worker was stopped): no counters. */
function notRunRow(s: Settings, cell: SwapCell): SwapRow {
  return {
    ...cellIdentity(s, cell),
    completed: false,
    outcome: 'interrupted',
    guest_speed_ratio: 0,
    guest_mips: 0,
    wall_seconds: 0,
    ...ZERO_COUNTERS,
  };
}

/**
 * The grid on a pool of worker threads. Rows are emitted in cell order as soon as every earlier
 * cell is done, so the output is the same as a serial run's whatever order cells finish in.
 */
async function runParallel(
  settings: Settings,
  image: Uint8Array,
  cells: SwapCell[],
  baselineMips: number,
  progress: Progress,
  out: BenchOut,
  rows: SwapRow[],
  interrupted: () => boolean,
): Promise<void> {
  const pool = new SwapPool(Math.min(settings.jobs, cells.length));
  const done: (SwapRow | undefined)[] = new Array(cells.length);
  let emitted = 0;
  try {
    const all = cells.map(async (cell, k) => {
      const { log: _log, onTick: _tick, ...job } = spec(settings, image, cell.mode, cell.overcommit, () => false);
      const r = await pool.run(job);
      const row = toRow(settings, cell, r.outcome, r.seconds, baselineMips);
      done[k] = row;
      progress.start({ mode: cell.mode, overcommit: cell.overcommit });
      progress.finish(row.outcome, r.seconds);
      while (emitted < cells.length && done[emitted] !== undefined) {
        const next = done[emitted++]!;
        rows.push(next);
        if (settings.json) out.stdout(rowToJson(next));
      }
    });
    // Poll so that Ctrl-C (a flag set by the SIGINT handler) can abandon the cells in flight.
    let settled = false;
    void Promise.all(all).then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled && !interrupted()) {
      await new Promise<void>((r) => setTimeout(r, 50));
      progress.tick();
    }
    if (!interrupted()) await Promise.all(all);
  } finally {
    await pool.close();
  }
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  let s: Settings | 'help';
  try {
    s = parse(argv);
  } catch (e) {
    // parse() only reads the command line: whatever it throws is a bad option.
    if (!(e instanceof Error)) throw e;
    out.stderr(`shadowvisor: bench swap: ${e.message.replace(/^bench swap: /, '').split('\n')[0]}\n`);
    return EXIT_STATUS_BAD_INPUT;
  }
  if (s === 'help') {
    out.stdout(HELP);
    return 0;
  }
  const settings = s;
  const path = settings.image ?? imageUrl(settings.mp ? 'memhog-mp.elf' : 'memhog.elf');
  const cells = shardCells(buildGrid(settings.modes, settings.ratios), settings.shard);
  let image: Uint8Array;
  try {
    image = readCapped('image', path, MAX_IMAGE_BYTES);
    validate(settings, image, path, cells);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    out.stderr(`shadowvisor: bench swap: ${e.message}\n`);
    return EXIT_STATUS_BAD_INPUT;
  }
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const progress = new Progress({
    total: cells.length + 1,
    isTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns,
    write: (t) => out.stderr(t),
    log: (line) => out.stderr(`bench swap: ${line}\n`),
  });
  const onTick = (): boolean => {
    progress.tick();
    return interrupted;
  };
  /** Run a cell in chunks, returning to the event loop between them so SIGINT gets through. */
  const runCell = async (sp: SwapCellSpec): Promise<SwapCellOutcome> => {
    const cell = new SwapCellRun(sp);
    while (!cell.advance(4096)) {
      await new Promise<void>((r) => setImmediate(r));
      if (interrupted) cell.abort();
    }
    return cell.outcome();
  };
  const rows: SwapRow[] = [];
  try {
    // The unpressured reference: notifier mode with host RAM twice the guests' total, after a
    // short warm-up so the JIT has compiled the interpreter before anything is timed.
    await runCell({ ...spec(settings, image, 'notifier', 0.5, onTick), insnsPerVm: Math.ceil(settings.insns / 4) });
    progress.start({ mode: 'baseline', overcommit: 0.5 });
    const t0 = performance.now();
    const base = await runCell(spec(settings, image, 'notifier', 0.5, onTick));
    const baseSeconds = (performance.now() - t0) / 1000;
    const baselineMips = base.instructions / baseSeconds / 1e6;
    progress.finish(interrupted ? 'interrupted' : `${baselineMips.toFixed(1)} MIPS`);
    if (settings.jobs > 1) {
      await runParallel(settings, image, cells, baselineMips, progress, out, rows, () => interrupted);
    } else {
      for (const cell of cells) {
        if (interrupted) break;
        progress.start({ mode: cell.mode, overcommit: cell.overcommit });
        const t = performance.now();
        const o = await runCell(spec(settings, image, cell.mode, cell.overcommit, onTick));
        const seconds = (performance.now() - t) / 1000;
        // An aborted cell still gets its row (outcome 'interrupted', counters so far).
        const row = toRow(settings, cell, o, seconds, baselineMips);
        rows.push(row);
        progress.finish(row.outcome);
        if (settings.json) out.stdout(rowToJson(row));
        if (o.aborted) break;
      }
    }
  } finally {
    progress.end();
    process.off('SIGINT', onSigint);
  }
  // Ctrl-C: the table and the JSON lines say so too, not only the HTML report: the cell the run
  // stopped in has outcome 'interrupted' (zero counters when it had not started or ran in a
  // worker), and cells after it have no row (bench merge lists them as missing).
  const partial = interrupted && rows.length < cells.length;
  if (partial && rows.at(-1)?.outcome !== 'interrupted') {
    const row = notRunRow(settings, cells[rows.length]!);
    rows.push(row);
    if (settings.json) out.stdout(rowToJson(row));
  }
  if (!settings.json) {
    const table = formatTable(rows);
    out.stdout(settings.mmu === 'tdp' ? table.replace(/^swap benchmark: /, 'swap benchmark (--mmu tdp): ') : table);
    if (partial) {
      out.stdout(
        `\nPARTIAL RESULTS: interrupted (Ctrl-C) after ${rows.length - 1} of ${cells.length} cells; ` +
          `the row marked 'interrupted' stopped early and the cells after it did not run.\n`,
      );
    }
  }
  if (settings.report !== null) {
    const html = renderReport(rows, {
      title: 'shadowvisor: guest swap reliability by memory-coherence mode',
      command: `shadowvisor bench swap ${argv.join(' ')}`.trim(),
      partial,
      generatedBy: 'shadowvisor bench swap',
    });
    out.stderr(`bench swap: report written to ${writeReport(settings.report, html)}\n`);
  }
  return interrupted ? EXIT_STATUS_INTERRUPTED : 0;
}
