// KSM's trees as Linux keeps them: ordered by page contents and searched by memcmp, the checksum
// only deciding whether a page changed since the last pass. Checked against a brute-force oracle
// (every group of identical pages ends up on one frame) and for the stable-tree lookup itself (a
// late page joins an existing KSM page, which the unstable tree alone cannot do).

import { describe, expect, it } from 'vitest';
import { MADV_MERGEABLE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { comparePages } from '../../src/host/ksm.js';
import { Prng } from '../../src/host/prng.js';

function mergeableArea(h: Host, pages: number): { mm: ReturnType<Host['createMm']>; at: number } {
  const mm = h.createMm();
  const at = h.mmap(mm, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  h.madvise(mm, at, pages * 4096, MADV_MERGEABLE);
  return { mm, at };
}

describe('KSM trees', () => {
  it('memcmp order: the first differing byte decides, not the checksum', () => {
    const h = new Host({ frames: 8, swapPages: 0, seed: 1 });
    h.ram.fill(0, 0, 3 * 4096);
    h.ram[1 * 4096 + 100] = 1; // frame 1 > frame 0
    h.ram[2 * 4096 + 99] = 1; // frame 2 > frame 1: an earlier byte wins
    expect(comparePages(h.ram, 0, 0)).toBe(0);
    expect(comparePages(h.ram, 0, 1)).toBeLessThan(0);
    expect(comparePages(h.ram, 2, 1)).toBeGreaterThan(0);
    expect(comparePages(h.ram, 1, 2)).toBeLessThan(0);
  });

  it('every group of identical pages ends up sharing one frame (brute-force oracle)', () => {
    const h = new Host({ frames: 256, swapPages: 0, seed: 1 });
    const prng = new Prng(42);
    const { mm, at } = mergeableArea(h, 40);
    const content: number[] = [];
    for (let i = 0; i < 40; i++) {
      // 8 distinct contents that differ only late in the page (a prefix compare would conflate them).
      const c = prng.below(8);
      content.push(c);
      const buf = new Uint8Array(4096).fill(0x33);
      buf[4000] = c;
      h.accessUser(mm, at + i * 4096, buf, true);
    }
    for (let pass = 0; pass < 4; pass++) h.ksmdStep(40);
    const frameOf = (i: number): number => h.frameAt(mm, at + i * 4096);
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 40; j++) {
        if (content[i] === content[j]) expect(frameOf(i), `pages ${i} and ${j} hold the same bytes`).toBe(frameOf(j));
        else expect(frameOf(i)).not.toBe(frameOf(j));
      }
    }
    expect(h.ksm.pagesShared).toBe(new Set(content.filter((c) => content.filter((d) => d === c).length > 1)).size);
    h.checkInvariants();
  });

  it('a page that shows up later joins the existing KSM page through the stable tree', () => {
    const h = new Host({ frames: 64, swapPages: 0, seed: 1 });
    const { mm, at } = mergeableArea(h, 3);
    const same = new Uint8Array(4096).fill(0x42);
    h.accessUser(mm, at, same, true);
    h.accessUser(mm, at + 4096, same, true);
    h.accessUser(mm, at + 2 * 4096, new Uint8Array(4096).fill(0x17), true);
    for (let pass = 0; pass < 3; pass++) h.ksmdStep(3);
    const kf = h.frameAt(mm, at);
    expect(h.frameAt(mm, at + 4096)).toBe(kf);
    expect(h.ksm.isStable(kf)).toBe(true);
    const merges = h.stats.ksmMerges;
    // The third page now gets the same bytes: only the stable tree can merge it (its partners are
    // KSM pages, which the unstable tree never offers).
    h.accessUser(mm, at + 2 * 4096, same, true);
    for (let pass = 0; pass < 3; pass++) h.ksmdStep(3);
    expect(h.frameAt(mm, at + 2 * 4096)).toBe(kf);
    expect(h.stats.ksmMerges).toBe(merges + 1);
    expect(h.ksm.pagesShared).toBe(1);
    h.checkInvariants();
  });
});
