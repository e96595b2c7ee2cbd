// KSM's checks against a process writing while its page is being merged (mm/ksm.c
// try_to_merge_one_page, write_protect_page, replace_page): a write that lands after ksmd compared
// the bytes but before the page was write-protected must stop the merge (the bytes are compared
// again once the page is read-only), and a write that COW-breaks the page between
// write_protect_page and replace_page must stop the replace (pte_same: the pte no longer maps the
// page that was compared). Either way the process keeps what it wrote. The write is made at the
// host's preemption point inside the merge, where another thread of the process could run.

import { describe, expect, test } from 'vitest';
import { MADV_MERGEABLE, PAGE_SIZE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import { expectBytes, pattern, PRIV, readPage, RW } from './helpers.js';

/** Two identical mergeable pages A and B; `racer` runs at the n-th 'after-start' on page B. */
function mergeWithRace(nth: number): { h: Host; mm: Mm; a: number; fired: number; written: Uint8Array } {
  const h = new Host({ frames: 64, swapPages: 64, seed: 2 });
  const mm = h.createMm();
  const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
  const same = pattern(40);
  h.accessUser(mm, a, same, true);
  h.accessUser(mm, a + PAGE_SIZE, same, true);
  h.madvise(mm, a, 2 * PAGE_SIZE, MADV_MERGEABLE);
  const written = pattern(41);
  let seen = 0;
  let fired = 0;
  h.onPreempt = (label, _mm, start) => {
    if (label !== 'after-start' || start !== a + PAGE_SIZE) return;
    if (++seen !== nth) return;
    fired++;
    h.onPreempt = null;
    expect(h.accessUser(mm, a + PAGE_SIZE, written, true)).toBe(PAGE_SIZE);
  };
  for (let i = 0; i < 6; i++) h.ksmdStep(4);
  h.onPreempt = null;
  expectBytes(readPage(h, mm, a), same);
  return { h, mm, a, fired, written };
}

describe('KSM merge races with a writer', () => {
  test('a write before write_protect_page: the bytes are compared again, no merge, the write stays', () => {
    const { h, mm, a, fired, written } = mergeWithRace(1);
    expect(fired).toBe(1);
    expectBytes(readPage(h, mm, a + PAGE_SIZE), written);
    expect(h.frameAt(mm, a)).not.toBe(h.frameAt(mm, a + PAGE_SIZE));
    h.checkInvariants();
  });

  test('a COW-breaking write between write_protect_page and replace_page: pte_same fails, the write stays', () => {
    const { h, mm, a, fired, written } = mergeWithRace(2);
    expect(fired).toBe(1);
    expectBytes(readPage(h, mm, a + PAGE_SIZE), written);
    expect(h.frameAt(mm, a)).not.toBe(h.frameAt(mm, a + PAGE_SIZE));
    h.checkInvariants();
  });

  test('without a writer the two pages merge (the races above are really inside a merge)', () => {
    const { h, mm, a, fired } = mergeWithRace(99);
    expect(fired).toBe(0);
    expect(h.frameAt(mm, a)).toBe(h.frameAt(mm, a + PAGE_SIZE));
    expect(h.stats.ksmMerges).toBe(1);
  });
});
