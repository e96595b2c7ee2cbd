// `shadowvisor run IMAGE`: boot a guest image on the native machine, guest serial on stdout,
// the process exit status from the guest (2 bad input, 3 triple fault, 4 budget, 1 a guest that
// halted with no way to wake, 141 stdout closed by its reader).

import { readFileSync } from 'node:fs';
import { ImageError } from '../machine/image-error.js';
import { MULTIBOOT_CMDLINE_MAX } from '../machine/multiboot.js';
import { NativeMachine } from '../machine/native-machine.js';
import { EXIT_STATUS_OUTPUT_CLOSED } from '../machine/run-loop.js';
import { UsageError, parseCommandArgs, parseCount, parseSize } from './args.js';
import { createLogger, parseLogLevel } from './logger.js';
import { StdoutSink, writeStderr, writeStdout } from './output.js';
import { collectStats, formatStatsTable } from './stats.js';

export const RUN_HELP = `Usage: shadowvisor run [options] IMAGE

Boot IMAGE (an ELF32 Multiboot kernel, see GUEST-ABI.md). The guest's serial console (COM1) is
written to stdout; nothing else is.

Options:
  --mem SIZE          guest RAM, K/M/G suffixes (default 64M; 2M to 2G, a multiple of 4K)
  --mmu MODE          memory translation: native (the processor's own MMU) or shadow
                      (the hypervisor's shadow MMU: not available yet)
  --max-insns N       stop after N retired guest instructions (exit status 4)
  --seed N            seed for deterministic choices (default 0)
  --cmdline STR       Multiboot command line passed to the guest
  --input FILE        bytes the guest reads from COM1 ('-' = stdin; default: none)
  --stats             print run statistics to stderr (instructions, seconds, MIPS, TLB, exceptions)
  --json              with --stats: one JSON object instead of a table
  --log-level LEVEL   trace, debug, info, warn (default), error or silent
  -h, --help          show this help

Exit status: the guest's exit value (its write to port 0xF4, & 0xff); 1 when the guest halts
with no interrupt able to wake it; 2 bad input (options, image, or a guest the ABI refuses);
3 triple fault; 4 instruction budget exhausted; 141 stdout closed by its reader.
`;

const MIN_MEM = 2 * 1024 * 1024;
const MAX_MEM = 2 * 1024 * 1024 * 1024;

export interface RunOptions {
  image: string;
  ramBytes: number;
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
  const mmu = values.mmu ?? 'native';
  if (mmu === 'shadow') throw new UsageError('--mmu shadow is not available yet (use --mmu native)');
  if (mmu !== 'native') throw new UsageError(`--mmu: unknown mode '${mmu}' (native or shadow)`);
  const maxInsns = values['max-insns'] === undefined ? Infinity : parseCount('--max-insns', values['max-insns']);
  if (maxInsns === 0) throw new UsageError('--max-insns: must be at least 1');
  if (values.cmdline !== undefined && new TextEncoder().encode(values.cmdline).length > MULTIBOOT_CMDLINE_MAX) {
    throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  }
  if (values.json && !values.stats) throw new UsageError('--json needs --stats');
  return {
    image: positionals[0]!,
    ramBytes,
    maxInsns,
    seed: values.seed === undefined ? 0 : parseCount('--seed', values.seed),
    cmdline: values.cmdline,
    input: values.input,
    stats: values.stats ?? false,
    json: values.json ?? false,
    logLevel: parseLogLevel(values['log-level']),
  };
}

function readInputFile(what: string, path: string | 0): Uint8Array {
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
