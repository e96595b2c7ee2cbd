// `shadowvisor run IMAGE`: boot a guest image on the hypervisor (shadow MMU over a simulated
// host mm, the default) or on the bare processor (`--mmu native`); guest serial on stdout, the
// process exit status from the guest (2 bad input, 3 triple fault, 4 budget, 1 a guest that
// halted with no way to wake, 5 stale access under --check, 6 EFAULT, 137 OOM-killed,
// 141 stdout closed by its reader).

import { readFileSync } from 'node:fs';
import { ImageError } from '../machine/image-error.js';
import { MULTIBOOT_CMDLINE_MAX } from '../machine/multiboot.js';
import { NativeMachine } from '../machine/native-machine.js';
import { EXIT_STATUS_OUTPUT_CLOSED } from '../machine/run-loop.js';
import { UsageError, parseCommandArgs, parseCount, parseSize } from './args.js';
import { createLogger, parseLogLevel } from './logger.js';
import { StdoutSink, writeStderr, writeStdout } from './output.js';
import { collectShadowStats, collectStats, formatShadowStats, formatStatsTable } from './stats.js';
import { fileSwapStore } from './swap-file.js';
import { hostFor, prepareGuest, runPrepared, type GuestRunOptions, type PreparedGuest } from '../sim/run-guest.js';
import { EXIT_STATUS_STALE } from '../hv/vm.js';
import type { MemoryMode } from '../hv/shadow/page-fault.js';
import type { Logger } from '../obs/log.js';
import type { EventRing } from '../obs/event-ring.js';
import type { ByteSink } from '../machine/uart16550.js';

export const RUN_HELP = `Usage: shadowvisor run [options] IMAGE

Boot IMAGE (an ELF32 Multiboot kernel, see GUEST-ABI.md). The guest's serial console (COM1) is
written to stdout; nothing else is.

Options:
  --mem SIZE          guest RAM, K/M/G suffixes (default 64M; 2M to 2G, a multiple of 4K)
  --mmu MMU           shadow (default: the hypervisor's shadow MMU over a simulated host
                      mm) or native (the processor's own MMU over guest-physical RAM)
  --mode MODE         shadow MMU coherence with the host: notifier (default; mmu_notifier,
                      Linux >= 2.6.27), pin (page references, KVM before notifiers) or none
                      (neither: broken on purpose)
  --host-mem SIZE     simulated host RAM (default: guest RAM + 8M); may be far smaller
                      than --mem, then the guest is swapped constantly
  --swap SIZE         host swap device (default: the size of guest RAM)
  --swap-file PATH    keep swapped pages in this file instead of in memory
  --ksm               mark guest RAM MADV_MERGEABLE and run ksmd
  --vcpus N           vCPUs (default 1; paravirtual SMP, see GUEST-ABI.md)
  --check             stale-access detector: stop at the first access through a freed or
                      replaced host frame (exit status 5)
  --max-insns N       stop after N retired guest instructions (exit status 4)
  --seed N            seed of the deterministic scheduler (default 0); the same image,
                      options and seed give the same output and statistics
  --cmdline STR       Multiboot command line passed to the guest
  --input FILE        bytes the guest reads from COM1 ('-' = stdin; default: none)
  --stats             print run statistics to stderr (instructions, seconds, MIPS, TLB,
                      exceptions; with shadow, KVM's and the host's counters)
  --json              with --stats: one JSON object instead of a table
  --log-level LEVEL   trace, debug, info, warn (default), error or silent
  -h, --help          show this help

Exit status: the guest's exit value (its write to port 0xF4, & 0xff); 1 when the guest halts
with no interrupt able to wake it; 2 bad input (options, image, or a guest the ABI refuses);
3 triple fault; 4 instruction budget exhausted; 5 stale access detected (--check); 6 guest
memory could not be faulted in (EFAULT); 137 the host OOM-killed the VM; 141 stdout closed.
`;

const MIN_MEM = 2 * 1024 * 1024;
const MAX_MEM = 2 * 1024 * 1024 * 1024;

export interface RunOptions {
  image: string;
  ramBytes: number;
  mmu: 'native' | 'shadow';
  mode: MemoryMode;
  hostMemBytes?: number;
  swapBytes?: number;
  swapFile?: string;
  ksm: boolean;
  vcpus: number;
  check: boolean;
  maxInsns: number;
  seed: number;
  cmdline?: string;
  input?: string;
  stats: boolean;
  json: boolean;
  logLevel: ReturnType<typeof parseLogLevel>;
}

export function parseRunArgs(argv: string[]): RunOptions | 'help' {
  const { values, positionals } = parseCommandArgs('run', argv, {
    mem: { type: 'string' },
    mmu: { type: 'string' },
    mode: { type: 'string' },
    'host-mem': { type: 'string' },
    swap: { type: 'string' },
    'swap-file': { type: 'string' },
    ksm: { type: 'boolean' },
    vcpus: { type: 'string' },
    check: { type: 'boolean' },
    'max-insns': { type: 'string' },
    seed: { type: 'string' },
    cmdline: { type: 'string' },
    input: { type: 'string' },
    stats: { type: 'boolean' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError("run: missing IMAGE (try 'shadowvisor run --help')");
  if (positionals.length > 1) throw new UsageError(`run: unexpected argument '${positionals[1]}'`);
  const ramBytes = parseSize('--mem', values.mem ?? '64M');
  if (ramBytes < MIN_MEM || ramBytes > MAX_MEM || ramBytes % 4096 !== 0) {
    throw new UsageError(`--mem: ${values.mem} is out of range (2M to 2G, a multiple of 4K)`);
  }
  const mmu = values.mmu ?? 'shadow';
  if (mmu !== 'native' && mmu !== 'shadow') throw new UsageError(`--mmu: unknown MMU '${mmu}' (shadow or native)`);
  const mode = values.mode ?? 'notifier';
  if (mode !== 'notifier' && mode !== 'pin' && mode !== 'none') throw new UsageError(`--mode: unknown mode '${mode}' (notifier, pin or none)`);
  const shadowOnly = (['mode', 'host-mem', 'swap', 'swap-file', 'ksm', 'vcpus', 'check'] as const).filter((k) => values[k] !== undefined);
  if (mmu === 'native' && shadowOnly.length > 0) throw new UsageError(`--${shadowOnly[0]} needs --mmu shadow`);
  const hostMemBytes = values['host-mem'] === undefined ? undefined : parseSize('--host-mem', values['host-mem']);
  if (hostMemBytes !== undefined && (hostMemBytes < 64 * 1024 || hostMemBytes > 16 * 1024 ** 3 || hostMemBytes % 4096 !== 0)) {
    throw new UsageError(`--host-mem: ${values['host-mem']} is out of range (64K to 16G, a multiple of 4K)`);
  }
  const swapBytes = values.swap === undefined ? undefined : parseSize('--swap', values.swap);
  if (swapBytes !== undefined && (swapBytes > 16 * 1024 ** 3 || swapBytes % 4096 !== 0)) {
    throw new UsageError(`--swap: ${values.swap} is out of range (0 to 16G, a multiple of 4K)`);
  }
  const vcpus = values.vcpus === undefined ? 1 : parseCount('--vcpus', values.vcpus);
  if (vcpus < 1 || vcpus > 64) throw new UsageError(`--vcpus: expected 1 to 64, got '${values.vcpus}'`);
  const maxInsns = values['max-insns'] === undefined ? Infinity : parseCount('--max-insns', values['max-insns']);
  if (maxInsns === 0) throw new UsageError('--max-insns: must be at least 1');
  if (values.cmdline !== undefined && new TextEncoder().encode(values.cmdline).length > MULTIBOOT_CMDLINE_MAX) {
    throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  }
  if (values.json && !values.stats) throw new UsageError('--json needs --stats');
  return {
    image: positionals[0]!,
    ramBytes,
    mmu,
    mode,
    hostMemBytes,
    swapBytes,
    swapFile: values['swap-file'],
    ksm: values.ksm ?? false,
    vcpus,
    check: values.check ?? false,
    maxInsns,
    seed: values.seed === undefined ? 0 : parseCount('--seed', values.seed),
    cmdline: values.cmdline,
    input: values.input,
    stats: values.stats ?? false,
    json: values.json ?? false,
    logLevel: parseLogLevel(values['log-level']),
  };
}

/** Read an image or input file; a missing or unreadable one is a one-line UsageError. */
export function readInputFile(what: string, path: string | 0): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message);
    throw new UsageError(`cannot read ${what} '${path === 0 ? '-' : path}': ${why}`);
  }
}

export function runCommand(argv: string[]): number {
  const opts = parseRunArgs(argv);
  if (opts === 'help') {
    writeStdout(RUN_HELP);
    return 0;
  }
  return runImage(opts);
}

export function runImage(opts: RunOptions): number {
  const log = createLogger(opts.logLevel);
  const image = readInputFile('image', opts.image);
  const input = opts.input === undefined ? undefined : readInputFile('input', opts.input === '-' ? 0 : opts.input);
  const sink = new StdoutSink();
  if (opts.mmu === 'shadow') return runShadow(opts, image, input, sink, log);
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

  const t0 = performance.now();
  const r = machine.run(opts.maxInsns);
  const seconds = (performance.now() - t0) / 1000;
  sink.flush();

  if (r.reason !== 'exit' && r.reason !== 'output-closed') writeStderr(`shadowvisor: ${r.message}\n`);
  log.info({ exitCode: r.exitCode, reason: r.reason, instructions: r.instructions }, 'guest stopped');
  if (opts.stats) {
    const s = collectStats(machine.cpu, r, seconds);
    writeStderr(opts.json ? `${JSON.stringify(s)}\n` : formatStatsTable(s));
  }
  return r.exitCode;
}

/**
 * Host, VM and image for a shadow-MMU run of these options (shared by `run` and `trace`); bad
 * sizes and images become one-line UsageErrors before anything runs.
 */
export function prepareShadowRun(
  opts: RunOptions,
  image: Uint8Array,
  input: Uint8Array | undefined,
  output: ByteSink,
  log: Logger,
  ring?: EventRing,
): PreparedGuest {
  const swapBytes = opts.swapBytes ?? opts.ramBytes;
  const guestOpts: GuestRunOptions = {
    image,
    memBytes: opts.ramBytes,
    hostMemBytes: opts.hostMemBytes,
    swapBytes,
    vcpus: opts.vcpus,
    mode: opts.mode,
    ksm: opts.ksm,
    check: opts.check,
    seed: opts.seed,
    maxInsns: opts.maxInsns,
    cmdline: opts.cmdline,
    input,
    output,
    log,
    ring,
    // Tracing is for understanding what goes wrong too: in pin and none mode the detector's
    // UNSEEN and STALE events are the only trace of what the host did behind KVM's back.
    detect: ring !== undefined,
  };
  try {
    hostFor(guestOpts); // size checks first, before a swap file is created
    if (opts.swapFile !== undefined) guestOpts.swapStore = fileSwapStore(opts.swapFile, swapBytes / 4096);
    return prepareGuest(guestOpts);
  } catch (e) {
    if (e instanceof ImageError) throw new UsageError(`${opts.image}: ${e.message}`);
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

function runShadow(opts: RunOptions, image: Uint8Array, input: Uint8Array | undefined, sink: StdoutSink, log: Logger): number {
  const prepared = prepareShadowRun(opts, image, input, sink, log);
  const { vm } = prepared;
  sink.onClosed = () => vm.board.stop({ exitCode: EXIT_STATUS_OUTPUT_CLOSED, reason: 'output-closed', message: 'stdout closed' });
  log.info({ image: opts.image, mem: opts.ramBytes, mode: opts.mode, seed: opts.seed, vcpus: opts.vcpus }, 'booting on the shadow MMU');
  const t0 = performance.now();
  const g = runPrepared(prepared);
  const seconds = (performance.now() - t0) / 1000;
  sink.flush();
  const r = g.result;
  if (r.reason !== 'exit' && r.reason !== 'output-closed') writeStderr(`shadowvisor: ${r.message}\n`);
  else if (r.exitCode === EXIT_STATUS_STALE) writeStderr(`shadowvisor: ${r.message}\n`);
  log.info({ exitCode: r.exitCode, reason: r.reason, instructions: r.instructions }, 'guest stopped');
  if (opts.stats) {
    const s = collectShadowStats(g, seconds);
    writeStderr(opts.json ? `${JSON.stringify(s)}\n` : formatShadowStats(s));
  }
  return r.exitCode;
}
