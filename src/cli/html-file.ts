// Writing a self-contained page to DIR/index.html for `trace --html`, `web` and the benchmark
// reports: the directory is made (or checked) and proved writable before any work, and the file
// is written through a rename so a reader never sees half a page. Problems are one-line
// UsageErrors naming the command.

import { mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.js';

/**
 * mkdir -p, one level at a time. Node 20's mkdirSync(dir, { recursive: true }) never returns for
 * a path under /proc (mkdir there fails with ENOENT although the parent exists, and it retries
 * forever), so the missing levels are found with stat and made one by one.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    try {
      if (!statSync(d).isDirectory()) throw Object.assign(new Error(`${d}: not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(d);
      const parent = dirname(d);
      if (parent === d) throw e;
      d = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Make DIR and check a file can be written in it; `what` names the flag in the error ("trace: --html"). */
export function preparePageDir(dir: string, what: string): void {
  try {
    makeDirs(dir);
    const probe = join(dir, '.shadowvisor-write-test');
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${what}: cannot use '${dir}' as a directory (${err.code ?? err.message})`);
  }
}

/** Write DIR/index.html atomically; returns its path. */
export function writePage(dir: string, html: string, what: string): string {
  const path = join(dir, 'index.html');
  const tmp = join(dir, '.index.html.tmp');
  try {
    makeDirs(dir);
    writeFileSync(tmp, html);
    renameSync(tmp, path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${what}: cannot write '${path}' (${err.code ?? err.message})`);
  }
  return path;
}
