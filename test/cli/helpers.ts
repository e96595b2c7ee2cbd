// What the CLI suites share: the built bundle (made once by test/global-setup.ts), a spawn helper
// that runs it the way users and scripts do, a temporary directory per suite, and the check that
// bad input is one line on stderr with exit status 2.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bundle under test; SHADOWVISOR_TEST_BIN runs the suites against another build (an older one,
 *  to watch a regression test fail without its fix). */
export const BIN = process.env.SHADOWVISOR_TEST_BIN ?? join(ROOT, 'dist', 'shadowvisor.mjs');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string;
  cwd?: string;
  timeout?: number;
  /** 'latin1' keeps every byte of stdout (guest output); default utf8. */
  encoding?: BufferEncoding;
  env?: NodeJS.ProcessEnv;
}

/** Run the built CLI to completion. */
export function cli(args: string[], o: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: o.cwd ?? ROOT,
    input: o.input,
    encoding: o.encoding ?? 'utf8',
    timeout: o.timeout ?? 120_000,
    maxBuffer: 64 << 20,
    env: o.env ?? process.env,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Start the built CLI as a child process (for signals and streaming). */
export function spawnCli(args: string[], o: { cwd?: string; stdout?: 'pipe' | number } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: o.cwd ?? ROOT, stdio: ['ignore', o.stdout ?? 'pipe', 'pipe'] });
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `shadowvisor-${prefix}-`));
}

/** One line on stderr, naming the problem, no stack trace, nothing on stdout, exit 2. */
export function expectBadInput(r: CliResult, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expectOneLine(r.stderr, pattern);
}

/** `stderr` is exactly one line starting 'shadowvisor: ', matching `pattern`, with no stack trace. */
export function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr.endsWith('\n'), stderr).toBe(true);
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).toMatch(/^shadowvisor: /);
  expect(stderr).toMatch(pattern);
}

/** A child's output so far (kept up to date) and its end. */
export interface Tracked {
  stdout: string;
  stderr: string;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

export function track(child: ChildProcess): Tracked {
  const t: Tracked = {
    stdout: '',
    stderr: '',
    done: new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal }))),
  };
  child.stdout?.on('data', (d: Buffer) => (t.stdout += d.toString('latin1')));
  child.stderr?.on('data', (d: Buffer) => (t.stderr += d.toString()));
  return t;
}

/** Resolve once `pred()` holds (polled every 20 ms); reject after `ms`. */
export function until(pred: () => boolean, ms = 60_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (pred()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - t0 > ms) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}
