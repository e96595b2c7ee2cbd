// Reading a guest image or the bytes of `--input` with a size cap: a path such as /dev/zero or a
// pipe that never ends must become one clear line, not a process that eats the machine's memory.
// Read in chunks (readFileSync would first try to hold all of it) up to the cap plus one byte.

import { closeSync, constants, openSync, readSync } from 'node:fs';
import { UsageError, formatSize } from './args.js';

/** Images larger than this are refused: guest RAM is at most 2 GiB and real images are KiBs. */
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;
/** `--input` bytes beyond this are refused (the UART takes one byte at a time). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

const CHUNK = 1 << 20;

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message);
}

/** Sleep a little without the event loop (stdin may be a non-blocking pipe with no data yet). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The whole of `path` (0 = stdin), at most `max` bytes; anything unreadable or larger is a UsageError. */
export function readCapped(what: string, path: string | 0, max: number): Uint8Array {
  const name = path === 0 ? '-' : path;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO nobody writes to would block for ever (a read of it then ends
    // at once, or waits for a writer's bytes like stdin); regular files ignore the flag.
    fd = path === 0 ? 0 : openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`cannot read ${what} '${name}': ${why(e)}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const buf = new Uint8Array(Math.min(CHUNK, max + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          pause(5);
          continue;
        }
        if (code === 'EOF') break; // Windows pipes
        throw new UsageError(`cannot read ${what} '${name}': ${why(e)}`);
      }
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > max) throw new UsageError(`${what} '${name}' is larger than ${formatSize(max)} (the most shadowvisor reads)`);
    }
  } finally {
    if (path !== 0) closeSync(fd);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Read an image or input file (capped); a missing, unreadable or oversized one is a one-line UsageError. */
export function readInputFile(what: 'image' | 'input', path: string | 0): Uint8Array {
  return readCapped(what, path, what === 'image' ? MAX_IMAGE_BYTES : MAX_INPUT_BYTES);
}
