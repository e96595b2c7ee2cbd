// The external oracle: runs a guest image under qemu-system-i386 with GUEST-ABI.md's reference
// command line and returns its serial bytes and exit status. Used by `bench fuzz`, `bench cpu`
// and the parity tests; runOnQemu caches its runs in memory per image content hash and command
// line (never on disk), so one process boots each image on QEMU at most once.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { compareRuns, serialText, type RunOutcome } from '../src/sim/fuzz/fuzz-case.js';

export const QEMU = 'qemu-system-i386';

/** GUEST-ABI.md "Reference QEMU command line". */
export function qemuArgs(image: string): string[] {
  return [
    '-kernel', image, '-m', '64', '-display', 'none', '-serial', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-no-reboot',
  ];
}

export interface GuestRun {
  stdout: Buffer;
  stderr: string;
  /** process exit status, or null when killed (timeout) */
  status: number | null;
  timedOut: boolean;
}

let setprivOk: boolean | undefined;

/**
 * The command line that runs QEMU with `args`, tied to this process: under util-linux's
 * `setpriv --pdeathsig KILL` (Debian's util-linux is essential, so it is there), the kernel kills
 * QEMU when the thread that started it ends, however it ends. A sweep killed by PID used to leave
 * its QEMU children running long csmith programs for half an hour; a signal handler cannot help,
 * since our synchronous runs hold the event loop for seconds. Without setpriv, QEMU runs as is.
 */
export function qemuCommand(args: string[]): [string, string[]] {
  if (setprivOk === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 20_000 });
    setprivOk = !r.error && r.status === 0;
  }
  return setprivOk ? ['setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...args]] : [QEMU, args];
}

/** True when qemu-system-i386 can be started on this machine. */
export function qemuAvailable(): boolean {
  const r = spawnSync(QEMU, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  return !r.error && r.status === 0;
}

/**
 * Runs a program with stdin closed, collecting stdout bytes; kills it after `timeoutMs`. With
 * `stdoutFile`, stdout goes to that file (read back at the end) instead of a pipe: a caller that
 * keeps its event loop busy while the program runs must use it when the output can pass a pipe's
 * 64 KiB, because QEMU's UART stalls on a full pipe and a guest that exits meanwhile loses the
 * bytes still in flight. `signal` kills it early (the result then says timedOut).
 */
export function runProgram(cmd: string, args: string[], timeoutMs: number, opts: { cwd?: string; stdoutFile?: string; signal?: AbortSignal } = {}): Promise<GuestRun> {
  const { cwd, stdoutFile, signal } = opts;
  let timedOut = false;
  return new Promise((resolve, reject) => {
    const fd = stdoutFile === undefined ? -1 : openSync(stdoutFile, 'w');
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd < 0 ? 'pipe' : fd, 'pipe'] });
    if (fd >= 0) closeSync(fd); // the child has its own copy
    // `signal` ends it early, as a timeout does (timedOut: the caller no longer wants the result)
    signal?.addEventListener('abort', () => {
      timedOut = true;
      child.kill('SIGKILL');
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdout = stdoutFile === undefined ? Buffer.concat(out) : readFileSync(stdoutFile);
      resolve({ stdout, stderr: Buffer.concat(err).toString('utf8'), status, timedOut });
    });
  });
}

/** QEMU's run of `image` timed in wall seconds (boot included), synchronously: `bench cpu`'s
 *  figure beside ours. */
export function runQemuTimed(image: string): { seconds: number; output: string; status: number | null } {
  const [cmd, args] = qemuCommand(qemuArgs(image));
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  return { seconds: (performance.now() - t0) / 1000, output: r.stdout?.toString('latin1') ?? '', status: r.status };
}

const cache = new Map<string, Promise<GuestRun>>();

/** QEMU's run of `image` (with a Multiboot command line when given: -append), memoised by the
 *  image's SHA-256 and the command line for the life of this process. */
export function runOnQemu(image: string, timeoutMs = 60_000, cmdline?: string): Promise<GuestRun> {
  const key = createHash('sha256').update(readFileSync(image)).digest('hex') + (cmdline === undefined ? '' : ` ${cmdline}`);
  let run = cache.get(key);
  if (!run) {
    run = runProgram(...qemuCommand(cmdline === undefined ? qemuArgs(image) : [...qemuArgs(image), '-append', cmdline]), timeoutMs);
    cache.set(key, run);
  }
  return run;
}

/** The guest's exit value from QEMU's status: isa-debug-exit exits with (v << 1) | 1. */
export function qemuGuestExit(status: number | null): number | null {
  if (status === null || (status & 1) === 0) return null;
  return status >> 1;
}

/**
 * QEMU's run `r` of an image against ours: serial bytes and exit status must be identical;
 * registers and instruction counts are QEMU's own business. A triple fault, which QEMU
 * (-no-reboot) ends with status 0 and no exit-device value, reads as ours (3). Returns where
 * they differ ('' when they agree), QEMU's status as an exit value (-1: timed out, -2: no exit
 * value) and its serial text as our runs hold it (serialText: past 64 KiB, length and hash).
 */
export function qemuDiff(ours: RunOutcome, r: GuestRun): { detail: string; status: number; serial: string } {
  const serial = serialText(r.stdout);
  let status = r.timedOut ? -1 : (qemuGuestExit(r.status) ?? -2);
  if (ours.status === 3 && r.status === 0) status = 3;
  const q: RunOutcome = { status, reason: '', message: r.timedOut ? 'QEMU timed out' : `QEMU status ${r.status}`, serial, instructions: 0, regs: [] };
  return { detail: compareRuns({ ...ours, instructions: 0, regs: [] }, q), status, serial };
}
