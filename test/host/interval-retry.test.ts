// mmu_interval_check_retry, the lockless early hint of the interval-notifier read side: after
// read_begin it says "retry" once an invalidation overlapping the interval has reached the
// subscription (from its ops.invalidate onwards, through end and after), and never for an
// invalidation that does not overlap, touches only the adjacent page, or ended before read_begin.
// Wherever it says retry, the locked read_retry must say so too (a hint may be stale only towards
// "no retry", and then the locked check catches it).

import { describe, expect, test } from 'vitest';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MMU_NOTIFY_CLEAR, PAGE_SIZE, PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import {
  mmuIntervalCheckRetry, MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalReadBegin, mmuIntervalReadRetry,
  mmuIntervalSetSeq, mmuNotifierInvalidateRangeEnd, mmuNotifierInvalidateRangeStart, type MmuNotifierRange,
} from '../../src/host/mmu-notifier.js';

const BASE = 0x40_0000;

function setup(): { h: Host; mm: Mm; sub: MmuIntervalNotifier; calls: string[] } {
  const h = new Host({ frames: 64, swapPages: 64 });
  const mm = h.createMm();
  expect(h.mmap(mm, 64 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, BASE)).toBe(BASE);
  const sub = new MmuIntervalNotifier();
  const calls: string[] = [];
  // The interval: pages 8..11 of the mapping.
  expect(mmuIntervalNotifierInsert(sub, mm, BASE + 8 * PAGE_SIZE, 4 * PAGE_SIZE, {
    invalidate: (s, r, seq) => {
      calls.push(`${(r.start - BASE) / PAGE_SIZE}-${(r.end - BASE) / PAGE_SIZE}`);
      mmuIntervalSetSeq(s, seq);
      return true;
    },
  })).toBe(0);
  return { h, mm, sub, calls };
}

function pages(mm: Mm, first: number, n: number): MmuNotifierRange {
  return { mm, start: BASE + first * PAGE_SIZE, end: BASE + (first + n) * PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true };
}

/** check_retry's answer, which the locked read_retry must agree with whenever it says retry. */
function check(sub: MmuIntervalNotifier, seq: number): boolean {
  const hint = mmuIntervalCheckRetry(sub, seq);
  if (hint) expect(mmuIntervalReadRetry(sub, seq)).toBe(true);
  return hint;
}

describe('mmu_interval_check_retry', () => {
  test('an overlapping invalidation: retry from its invalidate callback on, through end and after', () => {
    const { mm, sub, calls } = setup();
    const seq = mmuIntervalReadBegin(sub);
    expect(seq).not.toBe(-1);
    expect(check(sub, seq)).toBe(false);
    const r = pages(mm, 10, 4); // overlaps the interval's last two pages
    mmuNotifierInvalidateRangeStart(r);
    expect(calls).toEqual(['10-14']);
    expect(check(sub, seq)).toBe(true);
    expect(mmuIntervalReadBegin(sub)).toBe(-1); // a new reader would wait
    mmuNotifierInvalidateRangeEnd(r);
    expect(check(sub, seq)).toBe(true);
    // A reader starting after the end sees no collision until the next overlapping start.
    const seq2 = mmuIntervalReadBegin(sub);
    expect(seq2).not.toBe(-1);
    expect(check(sub, seq2)).toBe(false);
    const r2 = pages(mm, 0, 9); // overlaps page 8 only
    mmuNotifierInvalidateRangeStart(r2);
    expect(check(sub, seq2)).toBe(true);
    mmuNotifierInvalidateRangeEnd(r2);
    expect(check(sub, seq2)).toBe(true);
  });

  test('a whole overlapping start..end between read_begin and the check is still seen', () => {
    const { mm, sub } = setup();
    const seq = mmuIntervalReadBegin(sub);
    const r = pages(mm, 9, 1);
    mmuNotifierInvalidateRangeStart(r);
    mmuNotifierInvalidateRangeEnd(r);
    expect(check(sub, seq)).toBe(true);
  });

  test('non-overlapping invalidations (elsewhere, or the adjacent pages) never ask for a retry', () => {
    const { mm, sub, calls } = setup();
    const seq = mmuIntervalReadBegin(sub);
    for (const r of [pages(mm, 0, 8), pages(mm, 12, 4), pages(mm, 40, 20)]) {
      mmuNotifierInvalidateRangeStart(r);
      expect(check(sub, seq)).toBe(false);
      expect(mmuIntervalReadBegin(sub)).toBe(seq); // no wait either
      mmuNotifierInvalidateRangeEnd(r);
      expect(check(sub, seq)).toBe(false);
    }
    expect(calls).toEqual([]);
    expect(mmuIntervalReadRetry(sub, seq)).toBe(false);
  });

  test('nested invalidations: retry as soon as the overlapping one starts, and after both end', () => {
    const { mm, sub } = setup();
    const seq = mmuIntervalReadBegin(sub);
    const outer = pages(mm, 30, 2); // not overlapping
    const inner = pages(mm, 8, 1); // overlapping
    mmuNotifierInvalidateRangeStart(outer);
    expect(check(sub, seq)).toBe(false);
    mmuNotifierInvalidateRangeStart(inner);
    expect(check(sub, seq)).toBe(true);
    mmuNotifierInvalidateRangeEnd(inner);
    expect(mmuIntervalReadBegin(sub)).toBe(-1); // the tree stays excluded until the last end
    expect(check(sub, seq)).toBe(true);
    mmuNotifierInvalidateRangeEnd(outer);
    expect(check(sub, seq)).toBe(true);
    const fresh = mmuIntervalReadBegin(sub);
    expect(fresh).not.toBe(-1);
    expect(check(sub, fresh)).toBe(false);
  });

  test('a reader that trusts check_retry never keeps a translation an invalidation removed', () => {
    // dmirror-style: read_begin, gup, [race], check_retry -> retry, else commit. The commit is
    // checked against the host's frame at the end of each round.
    const { h, mm, sub } = setup();
    const addr = BASE + 9 * PAGE_SIZE;
    h.accessUser(mm, addr, new Uint8Array([1]), true);
    let stale = 0;
    let retries = 0;
    for (let round = 0; round < 6; round++) {
      const seq = mmuIntervalReadBegin(sub);
      expect(seq).not.toBe(-1);
      const f = h.gup(mm, addr, false);
      expect(f).toBeGreaterThanOrEqual(0);
      h.putPage(f);
      if (round % 2 === 1) h.madvise(mm, addr, PAGE_SIZE, MADV_DONTNEED);
      if (check(sub, seq)) {
        retries++;
        continue;
      }
      if (h.frameAt(mm, addr) !== f) stale++;
    }
    expect(retries).toBe(3);
    expect(stale).toBe(0);
  });
});
