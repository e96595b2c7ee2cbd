// Writing a self-contained page to DIR/index.html for `trace --html` and `web`: the directory is
// made (or checked) before any work, and the file is written through a rename so a reader never
// sees half a page. Problems are one-line UsageErrors naming the command.

import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';

/** Make DIR, or check it is a directory; `what` names the flag in the error ("trace: --html"). */
export function preparePageDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
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
    writeFileSync(tmp, html);
    renameSync(tmp, path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${what}: cannot write '${path}' (${err.code ?? err.message})`);
  }
  return path;
}
