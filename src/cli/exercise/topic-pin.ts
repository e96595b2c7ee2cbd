// Exercise topic `pin-vs-notifier`: the same guest and the same MADV_PAGEOUT, three ways of
// keeping KVM's sptes honest. With the mmu_notifier (Linux >= 2.6.27) reclaim zaps the sptes and
// frees every page; with pins (the 2007 "partial swapping" scheme: each spte holds a gup
// reference) reclaim unmaps the pages but cannot free the pinned ones; with neither, reclaim
// frees frames that sptes still map (use after free). Then the host replaces a page by COW after
// a fork: only the notifier's guest sees the new page; a pin keeps the old frame alive, not
// coherent. The answers are read from the three runs' host state and the guest's reads.

import { MADV_PAGEOUT } from '../../host/constants.js';
import { pteIsSwap } from '../../host/page-table.js';
import { refIndex, refPage } from '../../hv/shadow/rmap.js';
import { SPTE_P, SPTE_PINNED, SPTE_W } from '../../hv/shadow/spte.js';
import type { MemoryMode } from '../../hv/shadow/page-fault.js';
import { frameDump, hostPteDump, memslotDump } from './dumps.js';
import { hex, hexSet, range, yesno, type Dump, type Exercise, type Question } from './model.js';
import { World } from './world.js';

const FIRST = 8;
const PAGES = 8;

interface Setup {
  w: World;
  touched: { gfn: number; write: boolean }[];
}

function setup(seed: number, mode: MemoryMode): Setup {
  const w = new World({ seed, pages: 32, mode });
  const gfns = range(FIRST, FIRST + PAGES - 1);
  for (const g of gfns) w.fillGuestPage(g, 0x20 + g);
  const touched = w.pickDistinct(gfns, w.int(3, 6)).map((gfn) => ({ gfn, write: w.int(0, 1) === 1 }));
  for (const t of touched) w.access(0, t.gfn * 4096, t.write, 0xabc00000 + t.gfn);
  return { w, touched };
}

/** The leaf spte vCPU 0 has for gfn (paging off: gva = gpa), or 0. */
function spteOf(w: World, gfn: number): number {
  const ref = w.vm.vcpus[0]!.vmmu.leafRef(gfn * 4096);
  if (ref < 0) return 0;
  const s = w.vm.mmu.pages[refPage(ref)]!.spt[refIndex(ref)]!;
  return s & SPTE_P ? s : 0;
}

function spteTable(w: World, title: string): Dump {
  const rows: string[][] = [];
  for (let g = FIRST; g < FIRST + PAGES; g++) {
    const s = spteOf(w, g);
    if (s !== 0) rows.push([hex(g), `frame ${s >>> 12}`, [s & SPTE_W ? 'W' : 'read-only', s & SPTE_PINNED ? 'pinned (holds a page reference)' : ''].filter((x) => x !== '').join(', ')]);
  }
  return { title, columns: ['gfn', 'maps', 'spte'], rows };
}

export function pinExercise(seed: number): Exercise {
  const runs = (['pin', 'notifier', 'none'] as const).map((m) => setup(seed, m));
  const [pin, notif, none] = runs as [Setup, Setup, Setup];
  const gfns = range(FIRST, FIRST + PAGES - 1);
  const frames = gfns.map((g) => pin.w.host.frameAt(pin.w.vm.mm, pin.w.hvaOf(g)));
  const dumps: Dump[] = [
    memslotDump(pin.w),
    hostPteDump(pin.w, gfns, 'host page table of the VMM process (the same in all three runs)'),
    frameDump(pin.w, frames),
    spteTable(pin.w, 'pin mode: sptes'),
    spteTable(notif.w, 'notifier mode: sptes (no page references; the notifier is registered)'),
    spteTable(none.w, 'none mode: sptes (no page references, no notifier)'),
  ];
  dumps[2]!.title = 'host frames in pin mode (struct page; notifier and none mode: the same frames, refcount 1)';

  // ---- the pageout, three times ---------------------------------------------------------------
  const hva = pin.w.hvaOf(FIRST);
  const zappedBefore = notif.w.vm.stats.sptes_zapped_by_invalidation;
  const failBefore = pin.w.host.stats.reclaimFailPinned;
  for (const r of runs) r.w.host.madvise(r.w.vm.mm, hva, PAGES * 4096, MADV_PAGEOUT);
  const freed = (s: Setup): number[] => gfns.filter((g) => pteIsSwap(s.w.vm.mm.pt.get(s.w.hvaOf(g) >>> 12)) && s.w.host.pageAt(s.w.vm.mm, s.w.hvaOf(g)) < 0);
  const kept = gfns.filter((g) => pteIsSwap(pin.w.vm.mm.pt.get(pin.w.hvaOf(g) >>> 12)) && pin.w.host.pageAt(pin.w.vm.mm, pin.w.hvaOf(g)) >= 0);
  const stale = gfns.filter((g) => {
    const s = spteOf(none.w, g);
    return s !== 0 && none.w.host.frameAt(none.w.vm.mm, none.w.hvaOf(g)) !== s >>> 12;
  });
  const zapped = notif.w.vm.stats.sptes_zapped_by_invalidation - zappedBefore;
  const failPinned = pin.w.host.stats.reclaimFailPinned - failBefore;

  const qs: Question[] = [
    {
      id: 'pin-freed',
      text: `All three VMMs call madvise(${hex(hva)}, ${hex(PAGES * 4096)}, MADV_PAGEOUT) on gfns ${hex(FIRST)}-${hex(FIRST + PAGES - 1)}. In pin mode, which gfns' frames does reclaim free (give gfns, or none)?`,
      kind: 'hexset',
      answer: hexSet(freed(pin)),
      explain: 'only pages no spte pins: a pinned frame has a reference beyond the mapping and the swap cache, so __remove_mapping refuses to free it',
    },
    {
      id: 'pin-kept',
      text: 'In pin mode, which gfns are unmapped from the VMM process (their host PTE becomes a swap entry) but keep their frame in memory?',
      kind: 'hexset',
      answer: hexSet(kept),
      explain: `the pinned ones: try_to_unmap clears the PTE anyway, then freeing fails (${failPinned} reclaim failure${failPinned === 1 ? '' : 's'} counted as pinned); the frame stays, in the swap cache, mapped only by the spte`,
    },
    {
      id: 'notifier-freed',
      text: 'In notifier mode, which gfns\' frames does reclaim free?',
      kind: 'hexset',
      answer: hexSet(freed(notif)),
      explain: 'every page: invalidate_range_start zapped the sptes first, so nothing but the swap cache holds the frames once they are written out',
    },
    {
      id: 'notifier-zapped',
      text: 'In notifier mode, how many sptes does KVM zap during the pageout?',
      kind: 'int',
      answer: String(zapped),
      explain: `one per spte mapping a gfn in the range: ${zapped}`,
    },
    {
      id: 'none-stale',
      text: 'In none mode, which gfns are left with an spte that maps a frame the VMM process no longer maps (stale: the host may reuse that frame)?',
      kind: 'hexset',
      answer: hexSet(stale),
      explain: 'every gfn that had an spte: nobody told KVM, and without a reference the frame was freed under it',
    },
  ];
  // Then the host replaces a page behind KVM's back: the VMM forks (a snapshot helper) and writes
  // into guest page X itself (device emulation): COW gives the VMM process a new frame. Does the
  // guest's next read of X see that write?
  const x = pin.w.pick(gfns);
  const value = 0x7e000000 + (x << 8) + seed % 256;
  const sees = runs.map((r) => {
    const before = spteOf(r.w, x);
    r.w.host.fork(r.w.vm.mm); // the child stays alive: the page stays COW-shared
    const buf = new Uint8Array(4);
    new DataView(buf.buffer).setUint32(0, value, true);
    r.w.host.accessUser(r.w.vm.mm, r.w.hvaOf(x), buf, true);
    const res = r.w.access(0, x * 4096, false);
    return { ok: res === 'ok' && r.w.lastRead === value, got: r.w.lastRead, before, spte: spteOf(r.w, x), host: r.w.host.frameAt(r.w.vm.mm, r.w.hvaOf(x)) };
  });
  const modeNames = ['pin', 'notifier', 'none'];
  sees.forEach((r, i) => {
    const m = modeNames[i]!;
    qs.push({
      id: `${m}-sees-write`,
      text: i === 0
        ? `Next, in each VM, the VMM process forks (a snapshot helper that stays alive) and then writes ${hex(value)} into guest page ${hex(x)} itself (device emulation), and vCPU 0 reads GPA ${hex(x * 4096)}. In pin mode, does the read return ${hex(value)}?`
        : `In ${m} mode, does that read return ${hex(value)}?`,
      kind: 'yesno',
      answer: yesno(r.ok),
      explain: r.ok
        ? `yes: the guest's spte maps frame ${r.spte >>> 12}, the page the VMM process wrote${
            m === 'notifier' ? ' (fork and the COW break invalidated the old spte, so the read faulted and gup found the new frame)'
            : r.before === 0 ? ' (it had no spte for that page, so the read faulted and gup found the current frame)'
            : ', but only by accident: the frame the stale spte maps was freed and then reused for the very copy the VMM process wrote'}`
        : `no: the read returned ${hex(r.got)} through an spte to frame ${r.spte >>> 12}, while the VMM process wrote frame ${r.host}: ${m === 'pin' ? 'the pin kept the old frame alive, but the host replaced the page (COW) and KVM was never told' : 'nobody told KVM that the host replaced the page'}`,
    });
  });
  const touchedText = pin.touched.map((t) => `${t.write ? 'writes' : 'reads'} ${hex(t.gfn)}`).join(', ');
  return {
    topic: 'pin-vs-notifier',
    seed,
    title: 'pin-vs-notifier: one pageout, three ways to keep sptes honest',
    intro: [
      `Three identical VMs (paging off, guest RAM gfns 0x0-0x1f, the data in gfns ${hex(FIRST)}-${hex(FIRST + PAGES - 1)}) differ only in how KVM learns about host changes: pin (every spte holds a gup reference, no notifier), notifier (mmu_notifier registered, no references held) and none (neither).`,
      `In each, vCPU 0 ${touchedText}; those accesses built the sptes below. Then the host swaps the data pages out, and later replaces one of them by copy-on-write.`,
    ],
    dumps,
    questions: qs,
  };
}


