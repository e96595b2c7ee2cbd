// Exercise topic `fault`: what the host must do when KVM asks it for a page (the gup inside
// __kvm_faultin_pfn -> handle_mm_fault): nothing (present), zero-fill a page never touched,
// read it back from swap, copy a page a forked child still shares (COW break), reuse one nobody
// shares any more, or copy out of a KSM-merged page (KSM unmerge: a KSM page is never reused).
// Guest pages are put into those states by real host operations (fork, ksmd, MADV_PAGEOUT);
// each answer is read from the host's own counters around that one access.

import { MADV_PAGEOUT } from '../../host/constants.js';
import { pteFrame, ptePresent } from '../../host/page-table.js';
import { frameDump, hostPteDump, memslotDump } from './dumps.js';
import { hex, hexSet, range, type Dump, type Exercise, type Question } from './model.js';
import { World } from './world.js';

export const FAULT_CHOICES = ['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'cow-reuse', 'ksm-unmerge'];

/** The states a page is put in before the guest touches it. */
const STATES = ['untouched', 'swapped', 'private', 'shared-with-child', 'child-copied', 'ksm', 'ksm'] as const;
type State = (typeof STATES)[number];

const EXPLAIN: Record<string, string> = {
  present: 'the host PTE maps the page and allows the access: gup only takes a reference',
  'zero-fill': 'no PTE at all: the first touch of private anonymous memory allocates a zeroed page',
  'swap-in': 'the PTE is a swap entry and the frame is gone: the page is read back from the swap device into a new frame',
  'swap-cache': 'the PTE is a swap entry but the page is still in the swap cache: it is mapped back without I/O',
  'cow-break': 'a write to a read-only page another process still maps (the forked child): the host copies it into a new frame (wp_page_copy) inside an invalidation',
  'cow-reuse': 'a write to a read-only page nobody else maps any more (the child took its own copy): the PTE is made writable in place, no copy (wp_page_reuse)',
  'ksm-unmerge': 'a write to a KSM-merged page: KSM pages are never reused in place, so the host copies it out (a COW break of the KSM page)',
};

export function faultExercise(seed: number): Exercise {
  const w = new World({ seed, pages: 32, ksm: true });
  const vm = w.vm;
  const host = w.host;
  const gfns = w.pickDistinct(range(8, 31), STATES.length);
  const state = new Map<number, State>();
  STATES.forEach((s, i) => state.set(gfns[i]!, s));
  const of = (s: State): number[] => gfns.filter((g) => state.get(g) === s);
  // Contents: the two KSM pages identical, every other touched page distinct.
  let b = 0x10 + w.int(0, 15);
  for (const g of gfns) if (state.get(g) !== 'untouched' && state.get(g) !== 'ksm') w.fillGuestPage(g, b++);
  for (const g of of('ksm')) w.fillGuestPage(g, 0xee);
  for (let i = 0; i < 3; i++) host.ksmdStep(64); // checksums, then the unstable tree, then the merge
  const child = host.fork(vm.mm); // the VMM forks a helper that stays alive
  for (const g of [...of('private'), ...of('swapped')]) w.fillGuestPage(g, b++); // the parent writes: its own copy again
  for (const g of of('child-copied')) host.accessUser(child, w.hvaOf(g), new Uint8Array(4).fill(0x77), true);
  for (const g of of('swapped')) host.madvise(vm.mm, w.hvaOf(g), 4096, MADV_PAGEOUT);

  // The guest (paging off) touches the pages once each, in a seeded order, reading or writing.
  const order = w.pickDistinct(gfns, gfns.length);
  const accesses = order.map((g) => ({ gfn: g, write: state.get(g) === 'untouched' || state.get(g) === 'swapped' ? w.int(0, 1) === 1 : w.int(0, 3) !== 0 }));
  const frames = gfns.map((g) => host.pageAt(vm.mm, w.hvaOf(g)));
  const dumps = [memslotDump(w), hostPteDump(w, gfns, 'host page table of the VMM process (the pages in play)'), frameDump(w, frames)];

  const qs: Question[] = [];
  const newFrame: number[] = [];
  for (const a of accesses) {
    const hva = w.hvaOf(a.gfn);
    const st = host.stats;
    const before = { z: st.zeroFills, si: st.swapIns, sc: st.swapInsFromCache, cow: st.cowBreaks, ksm: st.ksmCowBreaks, reuse: st.cowReuses };
    const pte0 = vm.mm.pt.get(hva >>> 12);
    const f0 = ptePresent(pte0) ? pteFrame(pte0) : -1;
    const r = w.access(0, a.gfn * 4096, a.write, 0x600d0000 + a.gfn);
    if (r !== 'ok') throw new Error(`fault: access to gfn ${a.gfn} ended with ${r}`);
    const how =
      st.ksmCowBreaks !== before.ksm ? 'ksm-unmerge'
      : st.cowBreaks !== before.cow ? 'cow-break'
      : st.swapInsFromCache !== before.sc ? 'swap-cache'
      : st.swapIns !== before.si ? 'swap-in'
      : st.zeroFills !== before.z ? 'zero-fill'
      : st.cowReuses !== before.reuse ? 'cow-reuse'
      : 'present';
    const f1 = host.frameAt(vm.mm, hva);
    if (f1 !== f0) newFrame.push(a.gfn * 4096);
    qs.push({
      id: `gpa-${hex(a.gfn * 4096)}`,
      text: `vCPU 0 ${a.write ? 'writes to' : 'reads'} GPA ${hex(a.gfn * 4096, 8)}; KVM faults and calls gup(hva ${hex(hva)}${a.write ? ', FOLL_WRITE' : ''}). What must the host do? One of: ${FAULT_CHOICES.join(', ')}.`,
      kind: 'word',
      choices: FAULT_CHOICES,
      answer: how,
      explain: `${EXPLAIN[how]}${f1 !== f0 ? ` (frame ${f0 < 0 ? 'none' : f0} -> ${f1})` : ` (frame ${f1})`}`,
    });
  }
  qs.push({
    id: 'new-frames',
    text: 'Which of those accesses left the page in a different host frame than the dumps show (give their GPAs, or none)?',
    kind: 'hexset',
    answer: hexSet(newFrame),
    explain: 'a page that was not mapped (zero-fill, swap-in, swap-cache) or had to be copied (COW break, KSM unmerge) ends in another frame; a present page and a reuse keep theirs',
  });
  return {
    topic: 'fault',
    seed,
    title: 'fault: what gup must do for each guest access',
    intro: [
      'A guest with paging off (GVA = GPA) has no sptes yet, so each access below exits to KVM, which translates the gfn to an hva through the memslot and calls gup on the VMM process. Before that, the VMM process forked a helper child (still running) and ksmd scanned the guest\'s memory (MADV_MERGEABLE). The host PTEs and frames of the pages in play are below.',
      'The accesses happen one after the other, in the order asked.',
    ],
    dumps,
    questions: qs,
  };
}
