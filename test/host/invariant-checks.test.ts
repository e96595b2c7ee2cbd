// The host checker (src/host/invariants.ts, with the LRU's and the itree's own walks) catches
// what it claims to: each case takes a sound host (present, swapped-out and swap-cached anon
// pages, a shmem page, a KSM page, a notifier subscription and seven interval subscriptions),
// breaks one piece of its bookkeeping by hand, and requires checkInvariants() to throw that
// check's own message. The guard sweep (`scripts/guard-sweep.mjs --kind check`) found
// that no test saw most of these checks fail: disabled one at a time, every test still passed.

import { describe, expect, it } from 'vitest';
import { MADV_MERGEABLE, MAP_FIXED, PAGE_SIZE } from '../../src/host/constants.js';
import { PG_ACTIVE, PG_ANON, PG_KSM, PG_LRU, PG_SWAPCACHE } from '../../src/host/frames.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import type { IntervalTree } from '../../src/host/interval-tree.js';
import { MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalSetSeq, MmuNotifier, mmuNotifierRegister } from '../../src/host/mmu-notifier.js';
import { mkPte, mkSwapPte, pteSwapSlot, PTE_PRESENT } from '../../src/host/page-table.js';
import { pattern, PRIV, RW, SHARED, swapOut } from './helpers.js';

const BASE = 0x1000_0000;
const SBASE = 0x2000_0000;
const vpn = (addr: number): number => addr >>> 12;
const page = (i: number): number => BASE + i * PAGE_SIZE;

interface World {
  h: Host;
  mm: Mm;
  /** a mapped anon frame, on the LRU, referenced once */
  anon: number;
  /** page 1's frame: swapped out and faulted back in, so still in the swap cache */
  cached: number;
  cachedSlot: number;
  /** page 0's swap slot (its pte is a swap entry) */
  swapped: number;
  /** the shared mapping's first frame, held by its shmem object */
  shmem: number;
  /** the frame KSM merged pages 12 and 13 into */
  ksm: number;
  /** a frame nobody holds */
  free: number;
}

function world(): World {
  const h = new Host({ frames: 64, swapPages: 64, seed: 3 });
  const mm = h.createMm();
  expect(h.mmap(mm, 16 * PAGE_SIZE, RW, PRIV | MAP_FIXED, BASE)).toBe(BASE);
  expect(h.mmap(mm, 2 * PAGE_SIZE, RW, SHARED | MAP_FIXED, SBASE)).toBe(SBASE);
  h.madvise(mm, BASE, 16 * PAGE_SIZE, MADV_MERGEABLE);
  expect(mmuNotifierRegister(new MmuNotifier({ invalidateRangeStart: () => 0, invalidateRangeEnd: () => {} }), mm)).toBe(0);
  for (let i = 0; i < 12; i++) h.accessUser(mm, page(i), pattern(i + 1), true);
  for (let i = 12; i < 14; i++) h.accessUser(mm, page(i), pattern(99), true);
  for (let i = 0; i < 2; i++) h.accessUser(mm, SBASE + i * PAGE_SIZE, pattern(50 + i), true);
  for (let k = 0; k < 4; k++) h.ksmdStep(64);
  expect(swapOut(h, mm, page(0))).toBe(true);
  expect(swapOut(h, mm, page(1))).toBe(true);
  h.accessUser(mm, page(1), new Uint8Array(PAGE_SIZE), false);
  // interval subscriptions too, so the mm's itree has a few levels for its own check
  for (let k = 0; k < 7; k++) {
    const ops = { invalidate: (sub: MmuIntervalNotifier, _r: unknown, seq: number) => (mmuIntervalSetSeq(sub, seq), true) };
    expect(mmuIntervalNotifierInsert(new MmuIntervalNotifier(), mm, 0x4000_0000 + k * 3 * PAGE_SIZE, (k + 1) * PAGE_SIZE, ops)).toBe(0);
  }
  h.checkInvariants(); // sound before any case breaks it
  const ft = h.ft;
  const cached = h.frameAt(mm, page(1));
  expect(ft.flags[cached]! & PG_SWAPCACHE).not.toBe(0);
  const ksm = h.frameAt(mm, page(12));
  expect(h.frameAt(mm, page(13))).toBe(ksm);
  expect(h.ksm.stableFrames()).toContain(ksm);
  let free = -1;
  for (let f = ft.nrFrames - 1; f >= 0 && free < 0; f--) if (ft.refcount[f] === 0) free = f;
  const anon = h.frameAt(mm, page(2));
  expect([ft.refcount[anon], ft.mapcount[anon]]).toEqual([1, 1]);
  return {
    h,
    mm,
    anon,
    cached,
    cachedSlot: ft.swapSlot[cached]!,
    swapped: pteSwapSlot(mm.pt.get(vpn(page(0)))),
    shmem: h.frameAt(mm, SBASE),
    ksm,
    free,
  };
}

/** [what is broken, how, the message the checker must give] */
const CASES: Array<[string, (w: World) => void, RegExp]> = [
  ['a pte outside every vma', (w) => w.mm.pt.set(vpn(0x3000_0000), mkPte(w.anon, 0)), /has a pte at 30000000 outside every vma/],
  ['a pte mapping a free frame', (w) => w.mm.pt.set(vpn(page(15)), mkPte(w.free, 0)), /maps free frame \d+/],
  ['a mapped frame missing its rmap entry', (w) => w.h.rmap.remove(w.anon, w.mm.id, vpn(page(2))), /: 0 rmap entries for mm \d+ vpn/],
  ['a swap pte naming a slot past the device', (w) => w.mm.pt.set(vpn(page(15)), mkSwapPte(1000)), /bad swap slot 1000/],
  ['rss off by one', (w) => void w.mm.rss++, /rss \d+ but \d+ present ptes/],
  ['swapEnts off by one', (w) => void w.mm.swapEnts++, /swapEnts 2 but 1 swap ptes/],
  ['a slot count off by one', (w) => void w.h.swap.count[w.swapped]!++, /count 2 but 1 swap ptes/],
  ['the swap cache holding a free frame', (w) => void (w.h.swap.cache[w.cachedSlot] = w.free), /cache holds free frame/],
  ['a swap-cache page without PG_swapcache', (w) => void (w.h.ft.flags[w.cached]! &= ~PG_SWAPCACHE), /not marked as its cache page/],
  ['a slot on the free stack twice', (w) => freeStack(w, (s, n) => void (s[n - 2] = s[n - 1]!)), /is on the free stack 2 times/],
  ['a referenced slot on the free stack', (w) => freeStack(w, (s) => void (s[w.h.swap.nrFree++] = w.swapped)), /is free but still referenced/],
  ['a slot number past the device on the free stack', (w) => freeStack(w, (s) => void (s[w.h.swap.nrFree++] = 9999)), /swap: nrFree \d+ but \d+ free slots/],
  ['a slot allocated and forgotten', (w) => void w.h.swap.alloc(), /leaked \(allocated, no pte, no cache page\)/],
  ['a free frame with flags', (w) => void (w.h.ft.flags[w.free] = PG_ANON), /free frame \d+ has mapcount\/rmap\/flags/],
  ['a negative refcount', (w) => void (w.h.ft.refcount[w.free] = -1), /negative refcount -1/],
  ['mapcount off by one', (w) => void w.h.ft.mapcount[w.anon]!++, /mapcount 2 but 1 rmap entries/],
  [
    'an rmap entry with no pte behind it',
    (w) => {
      w.h.rmap.add(w.anon, w.mm.id, vpn(0x3000_0000));
      w.h.ft.mapcount[w.anon]!++;
    },
    /2 rmap entries but 1 ptes map it/,
  ],
  [
    'PG_swapcache naming a slot whose cache is another page',
    (w) => {
      w.h.ft.flags[w.anon]! |= PG_SWAPCACHE;
      w.h.ft.swapSlot[w.anon] = w.swapped;
    },
    /PG_swapcache but slot \d+ disagrees/,
  ],
  ['a refcount below mapcount plus caches', (w) => void w.h.ft.refcount[w.cached]!--, /refcount 1 < mapcount 1 \+ caches 1/],
  ['an anon page off the LRU', (w) => void (w.h.ft.flags[w.anon]! &= ~PG_LRU), /anon pages must be on the LRU and only they/],
  [
    'a shmem page its object no longer holds',
    (w) => {
      const v = w.mm.vmas.find((x) => x.shmem !== null)!;
      v.shmem!.pages[0] = -1;
      w.h.ft.refcount[w.shmem]!--;
    },
    /shmem frame outside any shmem cache/,
  ],
  ['PG_ksm on a page outside the stable tree', (w) => void (w.h.ft.flags[w.anon]! |= PG_KSM), /PG_ksm but not in the stable tree/],
  ['the allocator count off by one', (w) => void w.h.ft.nrFree++, /allocator: nrFree \d+ but \d+ frames have refcount 0/],
  [
    'a page unlinked from the LRU list, still flagged',
    (w) => {
      const lru = lruOf(w);
      lru.unlink(w.anon);
      if (w.h.ft.flags[w.anon]! & PG_ACTIVE) lru.nrActive--;
      else lru.nrInactive--;
    },
    /lru: \d+ listed but \d+ frames flagged/,
  ],
  // the LRU lists' own walk (Lru.check), which the checker runs after the frames
  ['a broken LRU link', (w) => void (w.h.ft.lruPrev[w.h.ft.lruNext[w.anon]!] = w.free), /lru: broken link at frame \d+/],
  [
    'a page listed without PG_lru',
    (w) => {
      const lru = lruOf(w);
      lru.link(w.shmem, lru.inactiveHead);
      lru.nrInactive++;
    },
    /lru: frame \d+ listed without PG_lru/,
  ],
  ['a page on the other list than its PG_active says', (w) => void (w.h.ft.flags[w.anon]! ^= PG_ACTIVE), /lru: frame \d+ on wrong list/],
  ['an LRU list count off by one', (w) => void lruOf(w).nrInactive++, /lru: inactive count \d+ but \d+ listed/],
  ['a reference nobody accounts for', (w) => void w.h.ft.refcount[w.anon]!++, /1 references beyond mappings and caches, but 0 gup references outstanding/],
  ['a stable KSM page without PG_ksm', (w) => void (w.h.ft.flags[w.ksm]! &= ~PG_KSM), /ksm: stable tree holds frame \d+ that is not a KSM page/],
  // the itree's own walk (IntervalTree.check), run for each mm with subscriptions
  ['an itree node not marked as linked', (w) => void (itree(w).root!.inTree = false), /interval-tree: linked node not marked inTree/],
  [
    'an itree out of order',
    (w) => {
      const n = itree(w).root!;
      (n.left ?? n.right)!.start = n.left !== null ? n.start + 1 : n.start - 1;
    },
    /interval-tree: order violated/,
  ],
  ['an itree with a stale subtreeLast', (w) => void itree(w).root!.subtreeLast++, /interval-tree: stale subtreeLast/],
  [
    'an itree out of heap order',
    (w) => {
      const n = itree(w).root!;
      (n.left ?? n.right)!.priority = n.priority + 1;
    },
    /interval-tree: heap order violated/,
  ],
  ['an itree size off by one', (w) => void itree(w).size++, /interval-tree: size 8 but 7 nodes linked/],
  ['an odd invalidate_seq with no range active', (w) => void (w.mm.notifierSubscriptions!.invalidateSeq |= 1), /itree invalidate_seq odd with no active range/],
];

/** The mm's interval tree of subscriptions. */
function itree(w: World): IntervalTree<MmuIntervalNotifier> {
  return w.mm.notifierSubscriptions!.itree;
}

/** The LRU's private list operations (only a checker test reaches into them). */
function lruOf(w: World): { link(f: number, head: number): void; unlink(f: number): void; inactiveHead: number; nrActive: number; nrInactive: number } {
  return w.h.lru as unknown as ReturnType<typeof lruOf>;
}

/** The swap device's free stack (private: only a checker test reaches into it). */
function freeStack(w: World, fn: (stack: Int32Array, nrFree: number) => void): void {
  fn((w.h.swap as unknown as { freeStack: Int32Array }).freeStack, w.h.swap.nrFree);
}

describe('checkHostInvariants catches each kind of broken bookkeeping', () => {
  for (const [what, breakIt, message] of CASES) {
    it(what, () => {
      const w = world();
      breakIt(w);
      expect(() => w.h.checkInvariants()).toThrow(message);
    });
  }

  it('the sound world passes, so each case above fails for its own reason', () => {
    const w = world();
    expect(() => w.h.checkInvariants()).not.toThrow();
    expect(w.h.ft.mapcount[w.ksm]).toBe(2);
    expect(w.h.swap.cache[w.cachedSlot]).toBe(w.cached);
    expect(w.mm.pt.get(vpn(page(0))) & PTE_PRESENT).toBe(0);
  });
});
