// `shadowvisor run IMAGE`: boot a guest image on the hypervisor (shadow MMU over a simulated
// host mm, the default) or on the bare processor (`--mmu native`); guest serial on stdout, the
// process exit status from the guest or from the table in src/obs/exit-status.ts. The guest runs
// in chunks with returns to the event loop in between, so SIGINT/SIGTERM stop it cleanly (the
// console flushed, the stop reported, --stats printed, the swap file removed).

import { ImageError } from '../machine/image-error.js';
import { MULTIBOOT_CMDLINE_MAX } from '../machine/multiboot.js';
import { NativeMachine } from '../machine/native-machine.js';
import type { NativeMmu } from '../cpu/paging.js';
import type { RunResult } from '../machine/run-loop.js';
import { EXIT_STATUS_OUTPUT_CLOSED, EXIT_STATUS_SWAP_IO_ERROR, EXIT_STATUS_STALE, exitStatusHelp } from '../obs/exit-status.js';
import { SwapIoError } from '../host/swap.js';
import { UsageError, parseCommandArgs, parseCount, parseSize } from './args.js';
import { readInputFile } from './input-file.js';
import { createLogger, parseLogLevel } from './logger.js';
import { StdoutSink, writeStderr, writeStdout } from './output.js';
import { collectShadowStats, collectStats, formatShadowStats, formatStatsTable, walkStats } from './stats.js';
import { StopSignals, yieldToEventLoop } from './stop-signals.js';
import { SwapFile } from './swap-file.js';
import { GdbSession } from './gdb/session.js';
import { NativeTarget } from './gdb/native-target.js';
import { VmTarget } from './gdb/vm-target.js';
import { EventRing } from '../obs/event-ring.js';
import { eagerJit, jitStats, setJitDefault } from '../cpu/jit/compile.js';
import { wasmStats } from '../cpu/jit/wasm-region.js';
import { MAX_FRAMES } from '../host/frames.js';
import { hostFor, prepareGuest, type GuestRun, type GuestRunOptions, type PreparedGuest } from '../sim/run-guest.js';
import { MEMORY_MODES, type MemoryMode } from '../hv/shadow/page-fault.js';
import type { Logger } from '../obs/log.js';
import { findBug } from '../sim/explore/bugs.js';
import type { ByteSink } from '../machine/uart16550.js';

/** --check-every's default: on memhog swapping hard (16M guest, 4M host) every step costs 40x the run,
 *  every 64th about 2.4x (the host checker walks every pte, swap slot and frame). */
export const CHECK_EVERY_DEFAULT = 64;

export const RUN_HELP = `Usage: shadowvisor run [options] IMAGE

Boot IMAGE (an ELF32 Multiboot kernel, see GUEST-ABI.md). The guest's serial console (COM1) is
written to stdout; nothing else is.

Options:
  --mem SIZE          guest RAM, K/M/G suffixes (default 64M; 2M to 2G, a multiple of 4K)
  --mmu MMU           shadow (default: the hypervisor's shadow MMU over a simulated host
                      mm), tdp (two-dimensional paging, EPT-like: the processor walks the
                      guest's tables through KVM's gpa->hpa table) or native (the
                      processor's own MMU over guest-physical RAM)
  --mode MODE         shadow MMU coherence with the host: notifier (default; mmu_notifier,
                      Linux >= 2.6.27), pin (page references, KVM before notifiers) or none
                      (neither: broken on purpose)
  --host-mem SIZE     simulated host RAM (default: guest RAM + 1/16 + 8M: no pressure); may
                      be far smaller than --mem, then the guest is swapped constantly
  --swap SIZE         host swap device (default: the size of guest RAM)
  --swap-file PATH    keep swapped pages in this file instead of in memory: created 0600
                      and removed when the run ends; an existing file is refused unless
                      shadowvisor made it (its header) or --swap-file-overwrite is given
  --swap-file-overwrite  let --swap-file replace an existing file (never the image or input)
  --ksm               mark guest RAM MADV_MERGEABLE and run ksmd
  --vcpus N           vCPUs (default 1; paravirtual SMP, see GUEST-ABI.md)
  --check             the checkers: stop at the first access through a freed or replaced
                      host frame (the stale-access detector), and run the hypervisor's and
                      the host's invariant checkers after scheduling steps; the first broken
                      invariant stops the run (exit status 5, the checker's message)
  --check-every N     with --check: the invariant checkers after every N-th scheduling step
                      (default ${CHECK_EVERY_DEFAULT}; 1 = every step; they walk every spte and host page
                      table entry, so every step makes a large guest several times slower)
  --inject NAME       switch on one bug of the explorer's catalogue ('shadowvisor explore
                      --list-bugs'): see what --check makes of a broken rule
  --max-insns N       stop after N retired guest instructions (exit status 4)
  --jit on|off        compile hot guest code to WebAssembly, or to JavaScript where WebAssembly
                      cannot state it (default on); results, --stats counters and trace events
                      are identical either way, only speed differs
  --jit-hot N         with --jit on, for testing the compiler: compile a block after N whole
                      runs (default 500 for WebAssembly, 20000 for JavaScript) and drop the
                      JavaScript compile budget, so even a short run
                      compiles most of its code (slower: every compile costs milliseconds);
                      --log-level info logs what was compiled (not part of --stats)
  --seed N            seed of the deterministic scheduler (default 0); the same image,
                      options and seed give the same output and statistics
  --cmdline STR       Multiboot command line passed to the guest
  --input FILE        bytes the guest reads from COM1 ('-' = stdin; default: none; at most
                      64M, as IMAGE is at most 256M)
  --stats             print run statistics to stderr (instructions, seconds, MIPS, TLB,
                      exceptions; with shadow, KVM's and the host's counters)
  --json              with --stats: one JSON object instead of a table
  --gdb PORT          serve the gdb remote protocol on 127.0.0.1:PORT (in gdb:
                      'target remote :PORT'); breakpoints, watchpoints and steps do not
                      change what the guest computes. 'monitor help' lists the extra commands
  --gdb-wait          with --gdb: stop before the first instruction until gdb continues
  --log-level LEVEL   trace, debug, info, warn (default), error or silent
  -h, --help          show this help

Exit status: the guest's exit value (its write to port 0xF4, & 0xff), or
${exitStatusHelp(2)}
`;

const MIN_MEM = 2 * 1024 * 1024;
const MAX_MEM = 2 * 1024 * 1024 * 1024;
/** A simulated host's RAM is one ArrayBuffer of at most MAX_FRAMES frames (4G): hostFor refuses more. */
const MAX_HOST_MEM = MAX_FRAMES * 4096;
/** Swap is kept in chunks allocated on first write, so it may exceed host RAM. */
const MAX_SWAP = 16 * 1024 ** 3;

export interface RunOptions {
  image: string;
  ramBytes: number;
  mmu: 'native' | 'shadow' | 'tdp';
  mode: MemoryMode;
  hostMemBytes?: number;
  swapBytes?: number;
  swapFile?: string;
  swapFileOverwrite: boolean;
  ksm: boolean;
  vcpus: number;
  check: boolean;
  /** With check: the invariant checkers after every this many scheduling steps. */
  checkEvery: number;
  /** An explorer catalogue bug switched on (`--inject`), or undefined. */
  inject?: string;
  maxInsns: number;
  jit: boolean;
  /** --jit-hot N: compile a block after N runs, with no compile budget (jitTuning.hot, insnsPerByte). */
  /** --jit was given (not the default): notes about it are for those who asked. */
  jitExplicit: boolean;
  jitHot?: number;
  seed: number;
  cmdline?: string;
  input?: string;
  stats: boolean;
  json: boolean;
  logLevel: ReturnType<typeof parseLogLevel>;
  /** --gdb PORT: the gdb stub's TCP port on 127.0.0.1 (src/cli/gdb/). */
  gdb?: number;
  gdbWait?: boolean;
}

export function parseRunArgs(argv: string[]): RunOptions | 'help' {
  const { values, positionals } = parseCommandArgs('run', argv, {
    mem: { type: 'string' },
    mmu: { type: 'string' },
    mode: { type: 'string' },
    'host-mem': { type: 'string' },
    swap: { type: 'string' },
    'swap-file': { type: 'string' },
    'swap-file-overwrite': { type: 'boolean' },
    ksm: { type: 'boolean' },
    vcpus: { type: 'string' },
    check: { type: 'boolean' },
    'check-every': { type: 'string' },
    inject: { type: 'string' },
    'max-insns': { type: 'string' },
    jit: { type: 'string' },
    'jit-hot': { type: 'string' },
    seed: { type: 'string' },
    cmdline: { type: 'string' },
    input: { type: 'string' },
    stats: { type: 'boolean' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
    gdb: { type: 'string' },
    'gdb-wait': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError("run: missing IMAGE (try 'shadowvisor run --help')");
  if (positionals.length > 1) throw new UsageError(`run: unexpected argument '${positionals[1]}'`);
  const ramBytes = parseSize('--mem', values.mem ?? '64M', { min: MIN_MEM, max: MAX_MEM, multiple: 4096 });
  const mmu = values.mmu ?? 'shadow';
  if (mmu !== 'native' && mmu !== 'shadow' && mmu !== 'tdp') throw new UsageError(`--mmu: unknown MMU '${mmu}' (shadow, tdp or native)`);
  const mode = (values.mode ?? 'notifier') as MemoryMode;
  if (!MEMORY_MODES.includes(mode)) throw new UsageError(`--mode: unknown mode '${mode}' (${MEMORY_MODES.join(', ')})`);
  const shadowOnly = (['mode', 'host-mem', 'swap', 'swap-file', 'swap-file-overwrite', 'ksm', 'vcpus', 'check', 'check-every', 'inject'] as const).filter((k) => values[k] !== undefined);
  if (mmu === 'native' && shadowOnly.length > 0) throw new UsageError(`--${shadowOnly[0]} needs --mmu shadow or tdp`);
  const hostMemBytes = values['host-mem'] === undefined ? undefined : parseSize('--host-mem', values['host-mem'], { min: 64 * 1024, max: MAX_HOST_MEM, multiple: 4096 });
  const swapBytes = values.swap === undefined ? undefined : parseSize('--swap', values.swap, { max: MAX_SWAP, multiple: 4096 });
  const vcpus = values.vcpus === undefined ? 1 : parseCount('--vcpus', values.vcpus, 1, 64);
  const maxInsns = values['max-insns'] === undefined ? Infinity : parseCount('--max-insns', values['max-insns']);
  if (maxInsns === 0) throw new UsageError('--max-insns: must be at least 1');
  if (values.cmdline !== undefined && new TextEncoder().encode(values.cmdline).length > MULTIBOOT_CMDLINE_MAX) {
    throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  }
  if (values.json && !values.stats) throw new UsageError('--json needs --stats');
  if (values['check-every'] !== undefined && !values.check) throw new UsageError('--check-every needs --check');
  if (values.inject !== undefined && findBug(values.inject) === undefined) throw new UsageError(`--inject: unknown bug '${values.inject}' (try 'shadowvisor explore --list-bugs')`);
  const jit = values.jit ?? 'on';
  if (jit !== 'on' && jit !== 'off') throw new UsageError(`--jit: expected on or off, not '${jit}'`);
  if (values['jit-hot'] !== undefined && jit !== 'on') throw new UsageError('--jit-hot needs --jit on');
  const jitHot = values['jit-hot'] === undefined ? undefined : parseCount('--jit-hot', values['jit-hot'], 1, 1 << 30);
  if (values['swap-file-overwrite'] && values['swap-file'] === undefined) throw new UsageError('--swap-file-overwrite needs --swap-file');
  if (values['gdb-wait'] && values.gdb === undefined) throw new UsageError('--gdb-wait needs --gdb PORT');
  const gdb = values.gdb === undefined ? undefined : parseCount('--gdb', values.gdb, 1, 65535);
  return {
    image: positionals[0]!,
    ramBytes,
    mmu,
    mode,
    hostMemBytes,
    swapBytes,
    swapFile: values['swap-file'],
    swapFileOverwrite: values['swap-file-overwrite'] ?? false,
    ksm: values.ksm ?? false,
    vcpus,
    check: values.check ?? false,
    checkEvery: values['check-every'] === undefined ? CHECK_EVERY_DEFAULT : parseCount('--check-every', values['check-every'], 1, 1 << 30),
    inject: values.inject,
    maxInsns,
    jit: jit === 'on',
    jitExplicit: values.jit !== undefined,
    jitHot,
    seed: values.seed === undefined ? 0 : parseCount('--seed', values.seed, 0, 0xffffffff),
    cmdline: values.cmdline,
    input: values.input,
    stats: values.stats ?? false,
    json: values.json ?? false,
    logLevel: parseLogLevel(values['log-level']),
    gdb,
    gdbWait: values['gdb-wait'] ?? false,
  };
}

export { readInputFile };

/** Wall time of guest work between two returns to the event loop (signals, console flush). */
const CHUNK_MS = 25;
/** Native runs are chunked by retired instructions (deterministic; about 30 ms at 130 MIPS). */
const NATIVE_CHUNK_INSNS = 1 << 22;

export async function runCommand(argv: string[]): Promise<number> {
  const opts = parseRunArgs(argv);
  if (opts === 'help') {
    writeStdout(RUN_HELP);
    return 0;
  }
  applyJitOptions(opts, opts.check);
  return runImage(opts);
}

/** --jit and --jit-hot, for every command that takes the run flags (run, trace). With the
 *  stale-access detector on (`detector`: run --check, trace) every fetch and access must go
 *  through its checks, so the compiler compiles nothing: say so rather than ignore the flag. */
export function applyJitOptions(opts: RunOptions, detector: boolean): void {
  if (opts.jit && opts.jitExplicit && detector) {
    writeStderr('shadowvisor: note: --jit on compiles nothing here: runs with the stale-access detector (run --check, trace) stay on the interpreter\n');
  }
  setJitDefault(opts.jit);
  // A test setting, process-wide like the default above: with no budget (insnsPerByte 0) every
  // block that reaches `hot` is compiled (cpu/jit/compile.ts, jitTuning).
  if (opts.jitHot !== undefined) eagerJit(opts.jitHot);
}

/** What the compiler did in this process (a log line: compile work is not part of --stats,
 *  whose counters are identical with --jit on and off). */
export function logJitStats(opts: RunOptions, log: Logger): void {
  if (opts.jit) log.info({ ...jitStats, wasm: { ...wasmStats } }, 'jit: compiled regions');
}

/** The VM's result when a signal stopped it. */
function stoppedBy(sig: 'SIGINT' | 'SIGTERM', instructions: number, vtime: number, eip: number): RunResult {
  return {
    exitCode: StopSignals.status(sig),
    reason: 'interrupted' as RunResult['reason'],
    message: `interrupted by ${sig} after ${instructions} instructions`,
    instructions,
    vtime,
    eip,
  };
}

export async function runImage(opts: RunOptions): Promise<number> {
  const log = createLogger(opts.logLevel);
  const image = readInputFile('image', opts.image);
  // Read while Ctrl-C still kills the process: a read of a terminal (--input -) blocks, and a
  // signal handler would only run after it.
  const input = opts.input === undefined ? undefined : readInputFile('input', opts.input === '-' ? 0 : opts.input);
  const signals = new StopSignals().install();
  try {
    return await runOn(opts, image, input, log, signals);
  } finally {
    signals.dispose();
  }
}

async function runOn(opts: RunOptions, image: Uint8Array, input: Uint8Array | undefined, log: Logger, signals: StopSignals): Promise<number> {
  const sink = new StdoutSink();
  if (opts.mmu !== 'native') return runShadow(opts, image, input, sink, log, signals);
  let machine: NativeMachine;
  try {
    machine = new NativeMachine({
      image,
      ramBytes: opts.ramBytes,
      cmdline: opts.cmdline,
      input,
      output: sink,
      log,
      seed: opts.seed,
    });
  } catch (e) {
    if (e instanceof ImageError) throw new UsageError(`${opts.image}: ${e.message}`);
    throw e;
  }
  sink.onClosed = () =>
    machine.board.stop({ exitCode: EXIT_STATUS_OUTPUT_CLOSED, reason: 'output-closed', message: 'stdout closed' });
  log.info({ image: opts.image, mem: opts.ramBytes, seed: opts.seed, entry: machine.boot.eip }, 'booting');

  const gdb = opts.gdb === undefined ? null : await GdbSession.listen(opts.gdb, new NativeTarget(machine), opts.gdbWait === true);
  const t0 = performance.now();
  let r: RunResult | undefined;
  try {
    for (;;) {
      if (gdb !== null && (await gdb.gate(signals)) === 'kill') {
        r = GdbSession.killed(machine.cpu.icount, machine.cpu.vtime(), machine.cpu.eip >>> 0);
        break;
      }
      if (gdb !== null && signals.signal !== null) {
        r = stoppedBy(signals.signal, machine.cpu.icount, machine.cpu.vtime(), machine.cpu.eip >>> 0);
        break;
      }
      // The budget of each chunk is absolute (retired instructions so far + a chunk), so the run
      // is the same instruction for instruction as one unchunked call.
      const target = Math.min(opts.maxInsns, machine.cpu.icount + NATIVE_CHUNK_INSNS);
      r = gdb === null ? machine.run(target) : gdb.ctl.runNative(machine, target, CHUNK_MS);
      sink.flush();
      gdb?.afterChunk();
      if (r.reason !== 'budget' || machine.cpu.icount >= opts.maxInsns) break;
      await yieldToEventLoop();
      if (signals.signal !== null) {
        r = stoppedBy(signals.signal, machine.cpu.icount, machine.cpu.vtime(), machine.cpu.eip >>> 0);
        break;
      }
    }
  } finally {
    sink.flush();
    await gdb?.close(r ?? null);
  }
  const seconds = (performance.now() - t0) / 1000;

  if (r.reason !== 'exit' && r.reason !== 'output-closed') writeStderr(`shadowvisor: ${r.message}\n`);
  log.info({ exitCode: r.exitCode, reason: r.reason, instructions: r.instructions }, 'guest stopped');
  logJitStats(opts, log);
  if (opts.stats) {
    const s = collectStats(machine.cpu, r, seconds);
    const w = (machine.cpu.mmu as NativeMmu).walker;
    s.walk = walkStats(machine.cpu.stats.tlbMisses, w.refs, 0, w.maxRefsPerMiss);
    writeStderr(opts.json ? `${JSON.stringify(s)}\n` : formatStatsTable(s));
  }
  return r.exitCode;
}

/**
 * Host, VM and image for a shadow-MMU run of these options (shared by `run` and `trace`); bad
 * sizes and images become one-line UsageErrors before anything runs. A --swap-file is created
 * only once everything else checked out, and removed again if the VM cannot be built.
 */
export function prepareShadowRun(
  opts: RunOptions,
  image: Uint8Array,
  input: Uint8Array | undefined,
  output: ByteSink,
  log: Logger,
  ring?: EventRing,
  how: { unlinkSwapAtOnce?: boolean; detect?: boolean } = {},
): PreparedGuest {
  const swapBytes = opts.swapBytes ?? opts.ramBytes;
  const guestOpts: GuestRunOptions = {
    image,
    memBytes: opts.ramBytes,
    hostMemBytes: opts.hostMemBytes,
    swapBytes,
    vcpus: opts.vcpus,
    mode: opts.mode,
    mmu: opts.mmu === 'tdp' ? 'tdp' : 'shadow',
    ksm: opts.ksm,
    check: opts.check,
    checkInvariants: opts.check,
    checkEvery: opts.checkEvery,
    seed: opts.seed,
    maxInsns: opts.maxInsns,
    cmdline: opts.cmdline,
    input,
    output,
    log,
    ring,
    // Tracing is for understanding what goes wrong too: in pin and none mode the detector's
    // UNSEEN and STALE events are the only trace of what the host did behind KVM's back.
    detect: ring !== undefined && how.detect !== false,
  };
  let swapFile: SwapFile | undefined;
  try {
    hostFor(guestOpts); // size checks first, before a swap file is created
    if (opts.swapFile !== undefined) {
      const protect = [{ path: opts.image, what: 'the guest image being run' }];
      if (opts.input !== undefined && opts.input !== '-') protect.push({ path: opts.input, what: 'the --input file' });
      const unlinkAtOnce = how.unlinkSwapAtOnce ?? false;
      guestOpts.swapStore = swapFile = SwapFile.open(opts.swapFile, swapBytes / 4096, { overwrite: opts.swapFileOverwrite, protect, unlinkAtOnce });
    }
    const p = prepareGuest(guestOpts);
    if (opts.inject !== undefined) findBug(opts.inject)!.apply(p.vm.inject, p.host);
    return p;
  } catch (e) {
    swapFile?.remove();
    if (e instanceof ImageError) throw new UsageError(`${opts.image}: ${e.message}`);
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/** The swap file behind a prepared guest, if any. */
function swapFileOf(p: PreparedGuest): SwapFile | null {
  const store = p.host.swap.store;
  return store instanceof SwapFile ? store : null;
}

async function runShadow(
  opts: RunOptions,
  image: Uint8Array,
  input: Uint8Array | undefined,
  sink: StdoutSink,
  log: Logger,
  signals: StopSignals,
): Promise<number> {
  // Under gdb the event ring records for `monitor events` (without the stale detector, which
  // would change the counters of the run).
  const ring = opts.gdb === undefined ? undefined : new EventRing();
  const prepared = prepareShadowRun(opts, image, input, sink, log, ring, { detect: false });
  const { vm, run } = prepared;
  let gdb: GdbSession | null = null;
  sink.onClosed = () => vm.board.stop({ exitCode: EXIT_STATUS_OUTPUT_CLOSED, reason: 'output-closed', message: 'stdout closed' });
  log.info({ image: opts.image, mem: opts.ramBytes, mode: opts.mode, seed: opts.seed, vcpus: opts.vcpus }, `booting on the ${opts.mmu === 'tdp' ? 'TDP' : 'shadow'} MMU`);
  const t0 = performance.now();
  try {
    if (opts.gdb !== undefined) {
      gdb = await GdbSession.listen(opts.gdb, new VmTarget(vm, ring ?? null), opts.gdbWait === true);
      gdb.ctl.attachVm(prepared);
    }
    for (;;) {
      if (gdb !== null && (await gdb.gate(signals)) === 'kill') {
        const cpu = vm.vcpus[0]!.cpu;
        const k = GdbSession.killed(run.instructions(), cpu.vtime(), cpu.eip >>> 0);
        run.finish(k.exitCode, k.reason, k.message);
        break;
      }
      if (gdb !== null && signals.signal !== null) {
        const cpu = vm.vcpus[0]!.cpu;
        const s = stoppedBy(signals.signal, run.instructions(), cpu.vtime(), cpu.eip >>> 0);
        run.finish(s.exitCode, s.reason, s.message);
        break;
      }
      const chunkStart = performance.now();
      let yielded = false;
      // Stopping between two scheduler steps and going on later is the same run as not stopping.
      if (gdb !== null) yielded = gdb.ctl.runVm(prepared, CHUNK_MS);
      else prepared.sim.runUntilDone(() => (yielded = performance.now() - chunkStart > CHUNK_MS));
      sink.flush();
      gdb?.afterChunk();
      if (!yielded || run.result !== null) break;
      await yieldToEventLoop();
      if (signals.signal !== null) {
        const cpu = vm.vcpus[0]!.cpu;
        const s = stoppedBy(signals.signal, run.instructions(), cpu.vtime(), cpu.eip >>> 0);
        run.finish(s.exitCode, s.reason, s.message);
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof SwapIoError)) throw e;
    // The device failed under the host: the VM cannot go on (as a process gets SIGBUS for a page
    // that cannot be read back); report that, not whatever the host would have done next.
    // The host operation it interrupted is left half done, so the VM's fault state is not
    // unwound (finish() would); nothing runs on this host again.
    const cpu = vm.vcpus[0]!.cpu;
    run.result = {
      exitCode: EXIT_STATUS_SWAP_IO_ERROR,
      reason: 'swap-io-error' as RunResult['reason'],
      message: e.message,
      instructions: run.instructions(),
      vtime: cpu.vtime(),
      eip: cpu.eip >>> 0,
    };
  } finally {
    sink.flush();
    swapFileOf(prepared)?.remove();
    await gdb?.close(run.result);
  }
  const seconds = (performance.now() - t0) / 1000;
  const g: GuestRun = { result: run.result!, vm, host: prepared.host, sim: prepared.sim };
  const r = g.result;
  if (r.reason !== 'exit' && r.reason !== 'output-closed') writeStderr(`shadowvisor: ${r.message}\n`);
  else if (r.exitCode === EXIT_STATUS_STALE) writeStderr(`shadowvisor: ${r.message}\n`);
  log.info({ exitCode: r.exitCode, reason: r.reason, instructions: r.instructions }, 'guest stopped');
  logJitStats(opts, log);
  if (opts.stats) {
    const s = collectShadowStats(g, seconds);
    writeStderr(opts.json ? `${JSON.stringify(s)}\n` : formatShadowStats(s));
  }
  return r.exitCode;
}
