// The engine side of `--swap-file`: the file-backed swap store (src/cli/swap-file.ts) is a
// SwapStore like the in-memory one, so under the same workload the two must be indistinguishable:
// the same bytes for every read (slots never written read as zeros), the same host counters and
// guest-visible contents, and the file really holds the pages (slot s at offset (s + 1) * 4096,
// after the header page). The CLI behaviour (refusals, 0600, removal, I/O errors) is tested in
// test/cli/swap-file.test.ts.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SWAP_FILE_MAGIC, SwapFile } from '../../src/cli/swap-file.js';
import { PAGE_SIZE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { Prng } from '../../src/host/prng.js';
import { MemorySwapStore, type SwapStore } from '../../src/host/swap.js';
import { expectBytes, fill, pattern, PRIV, readPage, RW } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-swapstore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function fileStore(slots: number): SwapFile {
  return SwapFile.open(join(dir, `swap${n++}`), slots, { overwrite: false, protect: [] });
}

describe('file-backed swap store vs the in-memory store', () => {
  test('a seeded mix of writes, overwrites and reads (written and never-written slots) reads back the same bytes', () => {
    const slots = 300;
    const file = fileStore(slots);
    const mem = new MemorySwapStore(slots);
    const prng = new Prng(21);
    const a = new Uint8Array(PAGE_SIZE);
    const b = new Uint8Array(PAGE_SIZE);
    let reads = 0;
    try {
      for (let k = 0; k < 2000; k++) {
        // Bias towards the ends: slot 0 (next to the header) and the last slot (the file's end).
        const r = prng.below(10);
        const slot = r === 0 ? 0 : r === 1 ? slots - 1 : prng.below(slots);
        if (prng.below(2) === 0) {
          const page = pattern(k * 7 + slot);
          expect(file.write(slot, page)).toBe(0);
          expect(mem.write(slot, page)).toBe(0);
        } else {
          // Stale garbage in the buffers: a store must fill every byte, zeros included.
          a.fill(0xa5);
          b.fill(0x5a);
          expect(file.read(slot, a)).toBe(0);
          expect(mem.read(slot, b)).toBe(0);
          expectBytes(a, b);
          reads++;
        }
      }
      // Every slot, written or not, agrees at the end.
      for (let s = 0; s < slots; s++) {
        a.fill(0xa5);
        b.fill(0x5a);
        file.read(s, a);
        mem.read(s, b);
        expectBytes(a, b);
      }
      // The pages are in the file itself, after our header page.
      const bytes = readFileSync(file.path);
      expect(new TextDecoder().decode(bytes.subarray(0, SWAP_FILE_MAGIC.length))).toBe(SWAP_FILE_MAGIC);
      for (const s of [0, 1, 150, slots - 1]) {
        mem.read(s, b);
        const at = (s + 1) * PAGE_SIZE;
        const onDisk = new Uint8Array(PAGE_SIZE);
        onDisk.set(bytes.subarray(at, at + PAGE_SIZE)); // short past the end: zeros, as never written
        expectBytes(onDisk, b);
      }
    } finally {
      file.remove();
    }
    expect(reads).toBeGreaterThan(500);
  });

  test('a host swapping hard gives the same guest bytes and the same counters on either store', () => {
    const run = (store: SwapStore): { stats: string; seen: number[] } => {
      const h = new Host({ frames: 48, swapPages: 256, swapStore: store, seed: 9 });
      const mm = h.createMm();
      const pages = 160; // > 3x RAM
      const a = h.mmap(mm, pages * PAGE_SIZE, RW, PRIV);
      fill(h, mm, a, pages, 500);
      const prng = new Prng(4);
      const seen: number[] = [];
      for (let k = 0; k < 600; k++) {
        const i = prng.below(pages);
        if (prng.below(4) === 0) {
          h.accessUser(mm, a + i * PAGE_SIZE, pattern(9000 + k), true);
          seen.push(-k);
        } else {
          const got = readPage(h, mm, a + i * PAGE_SIZE);
          // Record a digest of what the guest saw; the two runs must see the same.
          let d = 0;
          for (let j = 0; j < PAGE_SIZE; j += 61) d = (Math.imul(d, 31) + got[j]!) | 0;
          seen.push(d);
        }
      }
      // The last write of each page wins; every page reads back as written.
      const last = new Map<number, number>();
      const prng2 = new Prng(4);
      for (let k = 0; k < 600; k++) {
        const i = prng2.below(pages);
        if (prng2.below(4) === 0) last.set(i, 9000 + k);
      }
      for (let i = 0; i < pages; i++) expectBytes(readPage(h, mm, a + i * PAGE_SIZE), pattern(last.get(i) ?? 500 + i));
      h.checkInvariants();
      expect(h.stats.swapIns).toBeGreaterThan(100);
      return { stats: JSON.stringify(h.stats), seen };
    };
    const file = fileStore(256);
    try {
      const fromFile = run(file);
      const fromMem = run(new MemorySwapStore(256));
      expect(fromFile.seen).toEqual(fromMem.seen);
      expect(fromFile.stats).toBe(fromMem.stats);
    } finally {
      file.remove();
    }
  });
});
