// What the gdb stub's suites share: a free TCP port, the CLI started with `--gdb PORT --gdb-wait`
// (resolved once it listens), the real gdb in batch mode, and the --stats comparison of a
// debugged run with a plain one. Without gdb the gdb-driven tests skip visibly; under CI=true
// they fail instead (.ci/run installs gdb).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, spawnCli, track, until, type Tracked } from './helpers.js';

export const IMAGES = join(ROOT, 'guest-images');
export const GDBDEMO = join(IMAGES, 'gdbdemo.elf');

export const haveGdb = spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0;
export const inCi = Boolean(process.env.CI);

/** A port nobody listens on right now (the kernel's choice, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `shadowvisor run --gdb PORT --gdb-wait ARGS` on a free port, once it is listening. Another
 * suite may take the port between freePort() and the stub's listen: then a new port is tried.
 */
export async function startStub(args: string[]): Promise<{ stub: Tracked; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const stub = track(spawnCli(['run', '--gdb', String(port), '--gdb-wait', ...args]));
    await until(() => stub.stderr.includes('waiting for gdb') || stub.stderr.includes('shadowvisor: '), 30_000, 'the stub to listen');
    if (!stub.stderr.includes('is already in use') || attempt === 3) return { stub, port };
    await stub.done;
  }
}

/** gdb -batch -nx with these commands against 127.0.0.1:port; resolves with all it printed. */
export function runGdb(port: number, file: string, commands: string[], cwd = IMAGES): Promise<{ status: number | null; out: string }> {
  const args = ['-batch', '-nx', '-ex', 'set architecture i386', '-ex', `file ${file}`, '-ex', `target remote 127.0.0.1:${port}`];
  for (const c of commands) args.push('-ex', c);
  // One pipe for both streams, so gdb's messages and the monitor output stay in order.
  const child = spawn('sh', ['-c', 'exec gdb "$@" 2>&1', 'sh', ...args], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    }),
  );
}

/**
 * The --stats --json object of a run, without what may differ between a run stopped by a
 * debugger and one that was not: wall time (seconds, mips) and the TLB hit count, which also
 * counts the processor's fetches of decoded blocks (a stop in the middle of a block makes the
 * next fetch start there). Everything the guest computed and every KVM and host counter stays.
 */
export function comparableStats(stderr: string): Record<string, unknown> {
  const line = stderr.trimEnd().split('\n').pop()!;
  const s = JSON.parse(line) as Record<string, unknown>;
  delete s.seconds;
  delete s.mips;
  delete s.tlbHits;
  return s;
}
