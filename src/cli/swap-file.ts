// `--swap-file PATH`: the host's swap device backed by a real file instead of memory (the role of
// a swap file given to swapon(8)). Lives in the CLI because it needs node:fs; the engine only sees
// the SwapStore interface. The file holds guest memory, secrets included, so it is treated as
// the user's data: an existing file is never clobbered unless it is one of ours (it starts with
// our header, page 0) or --swap-file-overwrite says so, the guest image and input are never
// used whatever the flags, it is created 0600, and it is removed when the process ends (normal
// exit, error, SIGINT/SIGTERM). A failing device ends the run with SwapIoError (exit status 135).

import { closeSync, fchmodSync, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { SwapIoError, type SwapStore } from '../host/swap.js';
import { UsageError } from './args.js';

const PAGE = 4096;
/** The first bytes of page 0 of every swap file shadowvisor creates. */
export const SWAP_FILE_MAGIC = 'SHADOWVISOR-SWAP-1\n';
const HEADER_TEXT = `${SWAP_FILE_MAGIC}The swapped-out pages of a shadowvisor guest (one page per slot from offset 4096).\n` +
  'shadowvisor removes this file when the run ends and may reuse or replace it.\n';

export interface SwapFileOptions {
  /** --swap-file-overwrite: an existing file without our header may be replaced. */
  overwrite: boolean;
  /** Files the swap file must never be, whatever the flags (the guest image, the input). */
  protect: { path: string; what: string }[];
  /** Unlink the name as soon as the file is open (see unlinkNow), before anything else is done
   *  with it: a signal's default action can end the process between any two system calls. */
  unlinkAtOnce?: boolean;
}

/** Swap files this process created and has not removed yet; removed by the 'exit' handler. */
const open = new Set<SwapFile>();
let exitHookInstalled = false;

/** Remove every swap file still open (the process is ending). */
export function removeSwapFiles(): void {
  for (const f of [...open]) f.remove();
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // "ENOSPC: no space left on device, write" -> "ENOSPC: no space left on device"
  return (err.message ?? String(e)).replace(/, (open|write|read|ftruncate|fchmod)\b.*$/, '');
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`--swap-file: cannot use '${path}': ${errText(e)}`);
  }
}

function hasOurHeader(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = new Uint8Array(SWAP_FILE_MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === head.length && new TextDecoder().decode(head) === SWAP_FILE_MAGIC;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export class SwapFile implements SwapStore {
  private removed = false;
  private constructor(
    readonly path: string,
    readonly slots: number,
    private readonly fd: number,
    private readonly ino: number,
  ) {}

  /** Create (or take over, see the rules above) the swap file; a refusal is a UsageError. */
  static open(path: string, slots: number, opts: SwapFileOptions): SwapFile {
    if (path === '') throw new UsageError('--swap-file: empty path');
    const existing = statOrNull(path);
    if (existing !== null) {
      for (const p of opts.protect) {
        const s = statOrNull(p.path);
        if (s !== null && s.dev === existing.dev && s.ino === existing.ino) {
          throw new UsageError(`--swap-file: '${path}' is ${p.what}; refusing to overwrite it`);
        }
      }
      if (!existing.isFile()) throw new UsageError(`--swap-file: '${path}' exists and is not a regular file`);
      if (!opts.overwrite && !hasOurHeader(path)) {
        throw new UsageError(`--swap-file: '${path}' exists and is not a shadowvisor swap file (--swap-file-overwrite replaces it)`);
      }
    }
    let fd: number;
    try {
      // O_EXCL for a new file: a file that appeared since the check above is not ours to take.
      fd = existing === null ? openSync(path, 'wx+', 0o600) : openSync(path, 'r+');
    } catch (e) {
      throw new UsageError(`--swap-file: cannot create '${path}': ${errText(e)}`);
    }
    const file = new SwapFile(path, slots, fd, fstatSync(fd).ino);
    if (opts.unlinkAtOnce) file.unlinkNow();
    open.add(file);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', removeSwapFiles);
    }
    try {
      fchmodSync(fd, 0o600);
      ftruncateSync(fd, 0);
      // Writing the header checks the file is writable before the VM starts.
      const header = new Uint8Array(PAGE);
      header.set(new TextEncoder().encode(HEADER_TEXT));
      if (writeSync(fd, header, 0, PAGE, 0) !== PAGE) throw new Error('short write');
    } catch (e) {
      file.remove();
      throw new UsageError(`--swap-file: cannot write '${path}': ${errText(e)}`);
    }
    return file;
  }

  read(slot: number, dst: Uint8Array): number {
    let n: number;
    try {
      n = readSync(this.fd, dst, 0, PAGE, (slot + 1) * PAGE);
    } catch (e) {
      throw new SwapIoError(`swap device I/O error: reading slot ${slot} of '${this.path}' failed (${errText(e)})`);
    }
    // The file grows as slots are written, so a slot past its end reads as zeros (as a slot the
    // in-memory store never wrote does).
    if (n < PAGE) dst.fill(0, n, PAGE);
    return 0;
  }

  write(slot: number, src: Uint8Array): number {
    let n: number;
    try {
      n = writeSync(this.fd, src, 0, PAGE, (slot + 1) * PAGE);
    } catch (e) {
      throw new SwapIoError(`swap device I/O error: writing slot ${slot} of '${this.path}' failed (${errText(e)})`);
    }
    if (n !== PAGE) throw new SwapIoError(`swap device I/O error: short write of slot ${slot} of '${this.path}' (${n} of ${PAGE} bytes; device full?)`);
    return 0;
  }

  /**
   * Unlink the name now and keep writing through the open descriptor: the pages live on disk
   * until the process ends, however it ends. For commands that run the guest in one synchronous
   * piece (trace), where a SIGINT handler could never run before the process dies.
   */
  unlinkNow(): void {
    try {
      if (statSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // gone already
    }
  }

  /** Close and unlink the file (once), unless someone replaced it with another file meanwhile. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    open.delete(this);
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    try {
      if (statSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // gone already
    }
  }
}
