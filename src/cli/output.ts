// The process's two text streams, written synchronously (the run loop never yields to the event
// loop) and safe against a reader that goes away (`shadowvisor run x | head`): EPIPE marks the
// stream closed instead of throwing. The guest console buffers bytes and flushes at every
// newline (terminal, pipe or file alike: a `run > log` stopped by a signal keeps every finished
// line), when 64 KiB are pending, whenever the run loop returns to the event loop (a partial
// line waits at most that long) and at the end.

import { writeSync } from 'node:fs';
import type { ByteSink } from '../machine/uart16550.js';
import { EXIT_STATUS_OUTPUT_CLOSED } from '../obs/exit-status.js';

/** Write all of `buf` to `fd`; false when the reader is gone (EPIPE). */
export function writeAll(fd: number, buf: Uint8Array): boolean {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a non-blocking pipe that is full: retry
      if (code === 'EPIPE') return false;
      throw e;
    }
  }
  return true;
}

const enc = new TextEncoder();
let stderrClosed = false;
let stdoutClosed = false;

export function writeStderr(text: string): void {
  if (!stderrClosed && !writeAll(2, enc.encode(text))) stderrClosed = true;
}

export function writeStdout(text: string): boolean {
  if (!stdoutClosed && !writeAll(1, enc.encode(text))) stdoutClosed = true;
  return !stdoutClosed;
}

/** The `out` object handed to bench modules. A reader that went away ends the process the way
 *  SIGPIPE would (status 141): nobody is left to read the rest of a benchmark. */
export const processOut = {
  stdout: (s: string): void => {
    if (!writeStdout(s)) process.exit(EXIT_STATUS_OUTPUT_CLOSED);
  },
  stderr: (s: string): void => writeStderr(s),
};

export class StdoutSink implements ByteSink {
  private readonly buf = new Uint8Array(65536);
  private n = 0;
  closed = false;
  /** Called once when stdout's reader goes away. */
  onClosed: () => void = () => {};

  write(byte: number): void {
    if (this.closed) return;
    this.buf[this.n++] = byte;
    if (this.n === this.buf.length || byte === 10) this.flush();
  }

  flush(): void {
    if (this.n === 0 || this.closed) return;
    const ok = writeAll(1, this.buf.subarray(0, this.n));
    this.n = 0;
    if (!ok) {
      this.closed = true;
      this.onClosed();
    }
  }
}
