// The external oracle: runs a guest image under qemu-system-i386 with GUEST-ABI.md's reference
// command line and returns its serial bytes and exit status. Used by `bench fuzz`, `bench cpu`
// and the parity tests; runOnQemu caches its runs in memory per image content hash and command
// line (never on disk), so one process boots each image on QEMU at most once.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
 * A fresh file for a child's stdout, and how to read it back (once: that closes the file). QEMU
 * sets its stdout O_NONBLOCK; when a write of the UART's byte finds a pipe or socket full, the
 * UART keeps the byte and retries once the fd is writable. A guest that writes its last byte then
 * and exits through the exit device loses that byte: CI once saw QEMU's output end without its
 * final newline. Node's `pipe` stdio is a socketpair whose buffer holds only a few hundred one-
 * byte writes, so a parent that is slow to read for a few milliseconds (a loaded machine, a
 * synchronous run) is enough. A regular file is never full, so every oracle run writes its stdout
 * to one.
 */
function stdoutCapture(file?: string): { fd: number; read: () => Buffer } {
  const path = file ?? join(tmpdir(), `shadowvisor-stdout-${process.pid}-${++captures}`);
  const fd = openSync(path, 'w+');
  // a temporary file is unlinked at once: the open fds keep it, and nothing is left behind even
  // when this process is killed (the QEMU orphan test kills one)
  if (file === undefined) rmSync(path);
  let bytes: Buffer | undefined;
  return {
    fd,
    read: () => {
      if (bytes === undefined) {
        // the child shares this fd's offset, so read from 0 explicitly
        bytes = Buffer.alloc(fstatSync(fd).size);
        // (no one writes the file any more, so a read returns 0 only at its end: || stops there)
        for (let at = 0; at < bytes.length; ) at += readSync(fd, bytes, at, bytes.length - at, at) || bytes.length;
        closeSync(fd);
      }
      return bytes;
    },
  };
}
let captures = 0;

/**
 * Runs a program with stdin closed, collecting stdout bytes; kills it after `timeoutMs`. Stdout
 * goes to a file (`stdoutFile`, or a temporary one removed afterwards), never a pipe: see
 * stdoutCapture. `signal` kills it early (the result then says timedOut).
 */
export function runProgram(cmd: string, args: string[], timeoutMs: number, opts: { cwd?: string; stdoutFile?: string; signal?: AbortSignal } = {}): Promise<GuestRun> {
  const { cwd, stdoutFile, signal } = opts;
  let timedOut = false;
  return new Promise((resolve, reject) => {
    const out = stdoutCapture(stdoutFile);
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', out.fd, 'pipe'] });
    // `signal` ends it early, as a timeout does (timedOut: the caller no longer wants the result)
    signal?.addEventListener('abort', () => {
      timedOut = true;
      child.kill('SIGKILL');
    });
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      out.read(); // only to close the file
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ stdout: out.read(), stderr: Buffer.concat(err).toString('utf8'), status, timedOut });
    });
  });
}

/** QEMU's run of `image` timed in wall seconds (boot included), synchronously: `bench cpu`'s
 *  figure beside ours. Its stdout goes to a file, as runProgram's does. */
export function runQemuTimed(image: string): { seconds: number; output: string; status: number | null } {
  const [cmd, args] = qemuCommand(qemuArgs(image));
  const out = stdoutCapture();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', out.fd, 'pipe'], timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, output: out.read().toString('latin1'), status: r.status };
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
