// KSM's stable tree, seen only through behaviour (what maps which frame, what the guests read),
// so it holds for any correct KSM whatever its trees look like inside: identical pages of three
// processes end up on one KSM page (pages_shared 1, pages_sharing 2), and a page that becomes
// identical later joins that KSM page instead of pairing up with another newcomer. Without the
// stable-tree lookup, the third page never merges (KSM pages are not unstable-tree candidates)
// and newcomers form a second KSM page.

import { describe, expect, test } from 'vitest';
import { MADV_MERGEABLE, PAGE_SIZE } from '../../src/host/constants.js';
import { PG_KSM } from '../../src/host/frames.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import { expectBytes, pattern, PRIV, readPage, RW } from './helpers.js';

interface Site {
  mm: Mm;
  addr: number;
}

/** A process with `pages` private anonymous mergeable pages. */
function proc(h: Host, pages: number): { mm: Mm; a: number } {
  const mm = h.createMm();
  const a = h.mmap(mm, pages * PAGE_SIZE, RW, PRIV);
  h.madvise(mm, a, pages * PAGE_SIZE, MADV_MERGEABLE);
  return { mm, a };
}

function write(h: Host, s: Site, bytes: Uint8Array): void {
  expect(h.accessUser(s.mm, s.addr, bytes, true)).toBe(PAGE_SIZE);
}

/** Scans until nothing changes for two full rounds (any correct KSM gets there). */
function scanToQuiescence(h: Host): void {
  let quiet = 0;
  for (let round = 0; round < 40 && quiet < 2; round++) {
    const before = h.stats.ksmMerges;
    h.ksmdStep(256);
    quiet = h.stats.ksmMerges === before ? quiet + 1 : 0;
  }
}

/** pages_shared / pages_sharing over the given sites, from what their ptes map. */
function sharing(h: Host, sites: Site[]): { shared: number; sharing: number; frames: Set<number> } {
  const frames = new Set<number>();
  const ksmFrames = new Set<number>();
  let onKsm = 0;
  for (const s of sites) {
    const f = h.frameAt(s.mm, s.addr);
    expect(f).toBeGreaterThanOrEqual(0);
    frames.add(f);
    if ((h.ft.flags[f]! & PG_KSM) !== 0) {
      ksmFrames.add(f);
      onKsm++;
    }
  }
  return { shared: ksmFrames.size, sharing: onKsm - ksmFrames.size, frames };
}

describe('KSM stable tree (behaviour)', () => {
  test('three identical pages of three processes share one KSM page; a later identical page joins it', () => {
    const h = new Host({ frames: 256, swapPages: 64, seed: 3 });
    const same = pattern(77);
    const sites: Site[] = [];
    const others: (Site & { seed: number })[] = [];
    for (let p = 0; p < 3; p++) {
      const { mm, a } = proc(h, 4);
      sites.push({ mm, addr: a + PAGE_SIZE });
      write(h, sites[p]!, same);
      // Distinct neighbours, so the scan has other pages to look at and nothing else merges.
      for (const i of [0, 2, 3]) {
        const s = { mm, addr: a + i * PAGE_SIZE, seed: 1000 + p * 10 + i };
        write(h, s, pattern(s.seed));
        others.push(s);
      }
    }
    scanToQuiescence(h);
    let st = sharing(h, sites);
    expect(st.frames.size).toBe(1);
    expect(st).toMatchObject({ shared: 1, sharing: 2 });
    const kpage = [...st.frames][0]!;
    expect(h.ft.mapcount[kpage]).toBe(3);
    expect(sharing(h, others)).toMatchObject({ shared: 0, sharing: 0 });
    expect(sharing(h, others).frames.size).toBe(others.length);

    // One page becomes identical later: only the stable tree can take it (no partner of its own).
    const { mm: mm4, a: a4 } = proc(h, 2);
    const late: Site = { mm: mm4, addr: a4 };
    write(h, { mm: mm4, addr: a4 + PAGE_SIZE }, pattern(2000));
    write(h, late, same);
    sites.push(late);
    scanToQuiescence(h);
    st = sharing(h, sites);
    expect(st.frames).toEqual(new Set([kpage]));
    expect(st).toMatchObject({ shared: 1, sharing: 3 });

    // Two more at once: they join the same KSM page rather than forming a new pair.
    const { mm: mm5, a: a5 } = proc(h, 2);
    const pair: Site[] = [{ mm: mm5, addr: a5 }, { mm: mm5, addr: a5 + PAGE_SIZE }];
    for (const s of pair) write(h, s, same);
    sites.push(...pair);
    scanToQuiescence(h);
    st = sharing(h, sites);
    expect(st.frames).toEqual(new Set([kpage]));
    expect(st).toMatchObject({ shared: 1, sharing: 5 });
    expect(h.ft.mapcount[kpage]).toBe(6);

    // Everyone still reads their own bytes; a write breaks only the writer's share.
    for (const s of sites) expectBytes(readPage(h, s.mm, s.addr), same);
    for (const s of others) expectBytes(readPage(h, s.mm, s.addr), pattern(s.seed));
    write(h, sites[0]!, pattern(5));
    expect(h.frameAt(sites[0]!.mm, sites[0]!.addr)).not.toBe(kpage);
    expectBytes(readPage(h, sites[0]!.mm, sites[0]!.addr), pattern(5));
    expect(h.ft.mapcount[kpage]).toBe(5);
    for (const s of sites.slice(1)) expectBytes(readPage(h, s.mm, s.addr), same);
    h.checkInvariants();
  });

  test('a KSM page whose last sharer leaves is freed, and identical newcomers then pair up afresh', () => {
    const h = new Host({ frames: 128, swapPages: 32, seed: 5 });
    const same = pattern(9);
    const a = proc(h, 1);
    const b = proc(h, 1);
    write(h, { mm: a.mm, addr: a.a }, same);
    write(h, { mm: b.mm, addr: b.a }, same);
    scanToQuiescence(h);
    const kpage = h.frameAt(a.mm, a.a);
    expect(h.frameAt(b.mm, b.a)).toBe(kpage);
    expect((h.ft.flags[kpage]! & PG_KSM) !== 0).toBe(true);
    h.mmput(a.mm);
    h.mmput(b.mm);
    expect(h.ft.isFree(kpage)).toBe(true);
    // The stable tree must not still offer the freed frame (its bytes are poison now).
    const c = proc(h, 1);
    const d = proc(h, 1);
    write(h, { mm: c.mm, addr: c.a }, same);
    write(h, { mm: d.mm, addr: d.a }, same);
    scanToQuiescence(h);
    const st = sharing(h, [{ mm: c.mm, addr: c.a }, { mm: d.mm, addr: d.a }]);
    expect(st).toMatchObject({ shared: 1, sharing: 1 });
    expectBytes(readPage(h, c.mm, c.a), same);
    expectBytes(readPage(h, d.mm, d.a), same);
    h.checkInvariants();
  });
});
