// `--swap-file PATH`: the host's swap device backed by a real file instead of memory. Lives in
// the CLI because it needs node:fs; the engine only sees the SwapStore interface.

import { ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { SwapStore } from '../host/swap.js';
import { UsageError } from './args.js';

const EIO = 5;

export function fileSwapStore(path: string, slots: number): SwapStore {
  let fd: number;
  try {
    fd = openSync(path, 'w+');
    ftruncateSync(fd, slots * 4096);
  } catch (e) {
    throw new UsageError(`--swap-file: cannot use '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return {
    slots,
    read: (slot, dst) => {
      try {
        return readSync(fd, dst, 0, 4096, slot * 4096) === 4096 ? 0 : -EIO;
      } catch {
        return -EIO;
      }
    },
    write: (slot, src) => {
      try {
        return writeSync(fd, src, 0, 4096, slot * 4096) === 4096 ? 0 : -EIO;
      } catch {
        return -EIO;
      }
    },
  };
}
