// Memory pressure: swap round trips with real bytes, pins against reclaim / KSM / COW reuse,
// swap I/O errors, full swap, and the OOM kill through exit_mmap.

import { describe, expect, test } from 'vitest';
import { EFAULT, MADV_MERGEABLE, PAGE_SIZE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { FrameTable } from '../../src/host/frames.js';
import { Prng } from '../../src/host/prng.js';
import { MmuNotifier, mmuNotifierRegister } from '../../src/host/mmu-notifier.js';
import { fill, pattern, PRIV, readPage, RW, swapOut } from './helpers.js';
import { expectBytes } from './helpers.js';

describe('swap', () => {
  test('swap-out then swap-in returns identical bytes for random contents (overcommit 3x)', () => {
    const h = new Host({ frames: 24, swapPages: 96, seed: 3 });
    const mm = h.createMm();
    const n = 72;
    const a = h.mmap(mm, n * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, n, 1000);
    h.checkInvariants();
    expect(h.stats.swapOuts).toBeGreaterThan(n - 24);
    const prng = new Prng(5);
    for (let k = 0; k < 3 * n; k++) {
      const i = prng.below(n);
      expectBytes(readPage(h, mm, a + i * PAGE_SIZE), pattern(1000 + i));
    }
    expect(h.stats.swapIns).toBeGreaterThan(0);
    h.checkInvariants();
    h.mmput(mm);
    expect(h.nrFreeFrames).toBe(24);
    expect(h.swap.nrFree).toBe(96);
  });

  test('a clean swap-cache page is dropped without a second write', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 1, 77);
    expect(swapOut(h, mm, a)).toBe(true);
    const outs = h.stats.swapOuts;
    expectBytes(readPage(h, mm, a), pattern(77)); // read fault: stays in swap cache, clean
    expect(swapOut(h, mm, a)).toBe(true);
    expect(h.stats.swapOuts).toBe(outs);
    expect(h.stats.swapOutsClean).toBe(1);
    expectBytes(readPage(h, mm, a), pattern(77));
    h.checkInvariants();
  });

  test('write errors keep the page in the swap cache; read errors fail the fault with -EFAULT', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 1, 8);
    h.swap.inject.writeErrorRate = 1;
    for (let i = 0; i < 16 && h.stats.swapWriteErrors === 0; i++) h.reclaim(1);
    h.swap.inject.writeErrorRate = 0;
    expect(h.stats.swapWriteErrors).toBeGreaterThan(0);
    expect(h.stats.reclaimFailIo).toBe(h.stats.swapWriteErrors);
    expect(h.frameAt(mm, a)).toBe(-1); // unmapped, but still in the swap cache
    expectBytes(readPage(h, mm, a), pattern(8));
    expect(h.stats.swapInsFromCache).toBe(1);
    h.checkInvariants();
    expect(swapOut(h, mm, a)).toBe(true);
    h.swap.inject.failNextReads = 1;
    expect(h.gup(mm, a, false)).toBe(-EFAULT);
    expect(h.stats.swapReadErrors).toBe(1);
    expectBytes(readPage(h, mm, a), pattern(8)); // the swap pte is still there: retry works
    h.checkInvariants();
  });

  test('full swap: reclaim fails with a counted cause, then the OOM killer takes the largest mm', () => {
    const h = new Host({ frames: 16, swapPages: 4, seed: 1 });
    const small = h.createMm();
    const big = h.createMm();
    const released: number[] = [];
    mmuNotifierRegister(new MmuNotifier({ release: (_s, mm) => { released.push(mm.id); } }), big);
    const s = h.mmap(small, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, small, s, 2, 1);
    const b = h.mmap(big, 64 * PAGE_SIZE, RW, PRIV);
    let err = 0;
    for (let i = 0; i < 64 && err === 0; i++) {
      const r = h.accessUser(big, b + i * PAGE_SIZE, pattern(i), true);
      if (r < 0) err = r;
    }
    expect(err).toBe(-EFAULT); // the faulting mm was itself killed
    expect(h.stats.reclaimFailSwapFull).toBeGreaterThan(0);
    expect(h.stats.oomKills).toBe(1);
    expect(h.stats.lastOomMessage).toMatch(new RegExp(`^Out of memory: killed mm ${big.id} \\(rss \\d+ pages, swap \\d+ pages\\)`));
    expect(released).toEqual([big.id]);
    expect(big.oomKilled).toBe(true);
    expect(h.gup(big, b, false)).toBe(-EFAULT);
    expectBytes(readPage(h, small, s), pattern(1));
    h.checkInvariants();
  });
});

describe('pins (an extra gup reference) defeat reclaim, KSM and COW reuse', () => {
  test('a pinned page is unmapped by try_to_unmap but never freed (refcount freeze fails)', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 4, 30);
    const f = h.gup(mm, a, true);
    expect(f).toBeGreaterThanOrEqual(0);
    const gen = h.frameGen[f];
    for (let i = 0; i < 40; i++) h.reclaim(4);
    expect(h.stats.reclaimFailPinned).toBeGreaterThan(0);
    expect(h.frameGen[f]).toBe(gen);
    expect(h.ft.refcount[f]).toBeGreaterThan(0);
    // The process refaults the very same frame from the swap cache.
    expect(h.gup(mm, a, false)).toBe(f);
    h.putPage(f);
    h.checkInvariants();
    h.putPage(f);
    for (let i = 0; i < 40 && h.frameGen[f] === gen; i++) h.reclaim(4);
    expect(h.frameGen[f]).not.toBe(gen);
    h.checkInvariants();
  });

  test('a pinned page is never merged by KSM', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 1, 4);
    h.accessUser(mm, a + PAGE_SIZE, pattern(4), true);
    h.madvise(mm, a, 2 * PAGE_SIZE, MADV_MERGEABLE);
    const f = h.gup(mm, a, false);
    h.ksmdStep(20);
    expect(h.stats.ksmMerges).toBe(0);
    expect(h.stats.ksmRefusedPinned).toBeGreaterThan(0);
    expect(h.frameAt(mm, a)).toBe(f);
    h.putPage(f);
    h.ksmdStep(20);
    expect(h.stats.ksmMerges).toBe(1);
    h.checkInvariants();
  });

  test('a pinned page is never reused by a write fault: the writer gets a copy', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 1, 6);
    const child = h.fork(mm);
    h.mmput(child); // the parent's page is exclusive again but its pte is read-only
    const f = h.gup(mm, a, false);
    h.accessUser(mm, a, new Uint8Array([1]), true);
    expect(h.frameAt(mm, a)).not.toBe(f);
    expect(h.stats.cowCopiesForPins).toBe(1);
    expect(h.ram[f * PAGE_SIZE]).toBe(pattern(6)[0]); // the pin holder's view is untouched
    h.putPage(f);
    // Without the pin the same situation reuses the frame.
    const child2 = h.fork(mm);
    h.mmput(child2);
    const g = h.frameAt(mm, a);
    h.accessUser(mm, a, new Uint8Array([2]), true);
    expect(h.frameAt(mm, a)).toBe(g);
    expect(h.stats.cowReuses).toBeGreaterThan(0);
    h.checkInvariants();
  });

  test('fork copies long-term pinned pages eagerly (MMF_HAS_PINNED) and shares the rest', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 2, 6);
    const f = h.gup(mm, a, true, true);
    const child = h.fork(mm);
    expect(h.stats.forkEagerCopies).toBe(1);
    expect(h.frameAt(child, a)).not.toBe(f);
    expect(h.pteWritable(mm, a)).toBe(true);
    expect(h.frameAt(child, a + PAGE_SIZE)).toBe(h.frameAt(mm, a + PAGE_SIZE));
    expectBytes(readPage(h, child, a), pattern(6));
    h.putPage(f);
    h.checkInvariants();
  });
});

describe('frame metadata', () => {
  test('bytes of metadata per frame, measured from the allocated arrays, stay within 32 (struct page: 64)', () => {
    const frames = 4096;
    const h = new Host({ frames, swapPages: 8 });
    // Sum the frame table's typed arrays here too, by hand, so the measuring function is checked
    // against an independent count: refcount, mapcount, swapSlot, lruPrev/lruNext (+2 list
    // heads each), rmapHead and frameGen are 4 bytes, flags 1; the free list reuses lruNext.
    const ft = h.ft;
    const byHand = ft.refcount.byteLength + ft.mapcount.byteLength + ft.flags.byteLength + ft.swapSlot.byteLength +
      ft.lruPrev.byteLength + ft.lruNext.byteLength + ft.rmapHead.byteLength + ft.frameGen.byteLength;
    expect(ft.metadataArrays().reduce((n, a) => n + a.byteLength, 0)).toBe(byHand);
    expect(h.bytesPerFrame).toBe(byHand / frames);
    expect(h.bytesPerFrame).toBe(29 + 16 / frames);
    expect(h.bytesPerFrame).toBeLessThanOrEqual(32);
    expect(h.rmap.bytesPerEntry()).toBe(12);
  });

  test('an array added to the frame table is counted without anyone listing it', () => {
    class Wider extends FrameTable {
      readonly extra = new Int32Array(this.nrFrames);
    }
    expect(new Wider(64).metadataBytesPerFrame()).toBe(new FrameTable(64).metadataBytesPerFrame() + 4);
  });

  test('the free list (threaded through lruNext) hands out low frames first and reuses LIFO', () => {
    const ft = new FrameTable(4);
    expect([ft.allocRaw(), ft.allocRaw(), ft.allocRaw()]).toEqual([0, 1, 2]);
    ft.refcount[1] = 0;
    ft.freeRaw(1);
    ft.refcount[0] = 0;
    ft.freeRaw(0);
    expect(ft.nrFree).toBe(3);
    expect([ft.allocRaw(), ft.allocRaw(), ft.allocRaw(), ft.allocRaw()]).toEqual([0, 1, 3, -1]);
    expect(ft.nrFree).toBe(0);
  });

  test('the linked free list gives the same frames as the array stack it replaced (seeded alloc/free mix)', () => {
    const n = 64;
    const ft = new FrameTable(n);
    const stack = Array.from({ length: n }, (_, i) => n - 1 - i); // the old freeStack
    const held: number[] = [];
    const prng = new Prng(11);
    for (let k = 0; k < 5000; k++) {
      if (prng.below(3) !== 0 || held.length === 0) {
        const f = ft.allocRaw();
        expect(f).toBe(stack.length > 0 ? stack.pop() : -1);
        if (f >= 0) held.push(f);
      } else {
        const f = held.splice(prng.below(held.length), 1)[0]!;
        ft.refcount[f] = 0;
        ft.freeRaw(f);
        stack.push(f);
      }
      expect(ft.nrFree).toBe(stack.length);
    }
  });
});

describe('aging', () => {
  test('a page a secondary MMU reports young (clear_flush_young) is kept; the others go to swap', () => {
    const h = new Host({ frames: 32, swapPages: 32 });
    const mm = h.createMm();
    const a = h.mmap(mm, 8 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 8, 0);
    const asked: number[] = [];
    mmuNotifierRegister(new MmuNotifier({
      clearFlushYoung: (_s, _mm, start) => { asked.push(start); return start === a; },
    }), mm);
    for (let i = 0; i < 8; i++) h.reclaim(8);
    expect(asked).toContain(a + PAGE_SIZE);
    expect(h.frameAt(mm, a)).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < 8; i++) expect(h.frameAt(mm, a + i * PAGE_SIZE)).toBe(-1);
    expect(h.stats.reclaimActivated).toBeGreaterThan(0);
    h.checkInvariants();
  });

  test('clear_young / test_young (page_idle style): aging clears, a touch sets, testing changes nothing', () => {
    const h = new Host({ frames: 32, swapPages: 32 });
    const mm = h.createMm();
    const a = h.mmap(mm, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 4, 0);
    let secondaryYoung = false;
    mmuNotifierRegister(new MmuNotifier({
      clearYoung: () => { const y = secondaryYoung; secondaryYoung = false; return y; },
      testYoung: () => secondaryYoung,
    }), mm);
    expect(h.clearYoung(mm, a, a + 4 * PAGE_SIZE)).toBe(true);
    for (let i = 0; i < 4; i++) expect(h.testYoung(mm, a + i * PAGE_SIZE)).toBe(false);
    readPage(h, mm, a + PAGE_SIZE);
    secondaryYoung = true;
    expect(h.testYoung(mm, a + PAGE_SIZE)).toBe(true);
    expect(h.testYoung(mm, a + 2 * PAGE_SIZE)).toBe(true); // the secondary MMU says so
    expect(secondaryYoung).toBe(true); // test_young changed nothing
    expect(h.clearYoung(mm, a, a + 4 * PAGE_SIZE)).toBe(true);
    expect(h.testYoung(mm, a + PAGE_SIZE)).toBe(false);
  });

  test('watermarks: dipping below low wakes kswapd, which reclaims up to high', () => {
    const h = new Host({ frames: 64, swapPages: 64, wmarkMin: 2, wmarkLow: 8, wmarkHigh: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, 60 * PAGE_SIZE, RW, PRIV);
    for (let i = 0; i < 58 && !h.kswapdWanted; i++) h.accessUser(mm, a + i * PAGE_SIZE, new Uint8Array([1]), true);
    expect(h.kswapdWanted).toBe(true);
    expect(h.stats.directReclaims).toBe(0);
    h.kswapd();
    expect(h.nrFreeFrames).toBeGreaterThanOrEqual(16);
    expect(h.stats.kswapdRuns).toBe(1);
    h.checkInvariants();
  });
});
