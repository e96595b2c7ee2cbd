// Exercise topic `invalidate`: the host changes part of the VMM's guest RAM mapping (MADV_DONTNEED,
// MADV_PAGEOUT, mprotect read-only, page migration) and KVM's mmu_notifier callbacks must keep the
// shadow MMU coherent (kvm_mmu_notifier_invalidate_range_start -> kvm_unmap_gfn_range ->
// kvm_flush_remote_tlbs; invalidate_range_end bumps mmu_invalidate_seq). Which gfns are covered,
// which sptes go (every alias of a gfn: the rmap), which vCPU TLBs are emptied (a remote flush
// empties all of them, and only happens when something was zapped), and what the next access
// does. The answers are read from the trace ring and the engine's state after the operation.

import { MADV_DONTNEED, MADV_PAGEOUT, PROT_READ } from '../../host/constants.js';
import { EV_GUP, EV_INV_START, EV_SPTE_SET, EV_SPTE_ZAP, EV_TLB_FLUSH, FLUSH_REMOTE, GUP_NAMES, ZAP_INVALIDATION } from '../../obs/events.js';
import { refIndex, refPage } from '../../hv/shadow/rmap.js';
import { guestPdDump, guestPtDump, hostPteDump, memslotDump, spteDump, tlbDump, tlbHolds } from './dumps.js';
import { hex, hexSet, intSet, range, yesno, type Dump, type Exercise, type Question } from './model.js';
import { PT_GFNS, PTE_D, PTE_RW, World } from './world.js';

export const OPS = ['MADV_DONTNEED', 'MADV_PAGEOUT', 'mprotect', 'migrate'] as const;
export const GUP_CHOICES = ['no-fault', ...GUP_NAMES.filter((n) => n !== 'failed')];

interface Mapping {
  gva: number;
  gfn: number;
}

export function invalidateExercise(seed: number): Exercise {
  const w = new World({ seed, pages: 32, vcpus: 2 });
  const vm = w.vm;
  const op = OPS[seed % OPS.length]!;
  w.enablePaging();
  const pdi = w.int(1, 1023);
  const pt = PT_GFNS[0];
  w.setPde(pdi, pt);
  const gfns = w.pickDistinct(range(8, 31), 5);
  const ptis = w.pickDistinct(range(0, 1023), 6);
  const maps: Mapping[] = ptis.map((pti, i) => ({ gva: ((pdi << 22) | (pti << 12)) >>> 0, gfn: i < 5 ? gfns[i]! : gfns[w.rng.below(5)]! }));
  for (const g of gfns) w.fillGuestPage(g, w.int(1, 255));
  for (let i = 0; i < maps.length; i++) w.setPte(pt, ptis[i]!, maps[i]!.gfn, PTE_RW | PTE_D);
  for (const v of [0, 1]) {
    for (const m of w.pickDistinct(maps, w.int(2, 4))) w.access(v, m.gva, false);
  }
  // The host operation's range: usually pages the guest has sptes for, sometimes not.
  const withSpte = maps.filter((m) => vm.vcpus[0]!.vmmu.leafRef(m.gva) >= 0 && spteAt(w, m.gva) !== 0);
  const cold = range(8, 31).filter((g) => !maps.some((m) => m.gfn === g && spteAt(w, m.gva) !== 0));
  const first = w.rng.below(4) === 0 || withSpte.length === 0 ? w.pick(cold) : w.pick(withSpte).gfn;
  const npages = op === 'migrate' ? 1 : Math.min(w.int(1, 2), 32 - first);
  const hva = w.hvaOf(first);
  const len = npages * 4096;
  const seqBefore = vm.inv.seq;
  const call =
    op === 'MADV_DONTNEED' ? `madvise(${hex(hva)}, ${hex(len)}, MADV_DONTNEED)`
    : op === 'MADV_PAGEOUT' ? `madvise(${hex(hva)}, ${hex(len)}, MADV_PAGEOUT)`
    : op === 'mprotect' ? `mprotect(${hex(hva)}, ${hex(len)}, PROT_READ)`
    : `migrate the page at hva ${hex(hva)} to another frame (compaction)`;

  const inRange = (g: number): boolean => g >= first && g < first + npages;
  const y = maps.find((m) => inRange(m.gfn)) ?? maps[w.rng.below(maps.length)]!;
  const zHeld = maps.filter((m) => !inRange(m.gfn) && tlbHolds(w, 0, m.gva) >= 0);
  const z = zHeld.length > 0 ? w.pick(zHeld) : null;

  const dumps: Dump[] = [
    guestPdDump(w),
    guestPtDump(w, pt),
    memslotDump(w),
    hostPteDump(w, gfns),
    {
      title: 'first word of each guest data page (as the guest last wrote it)',
      columns: ['gfn', 'word at offset 0'],
      rows: [...gfns].sort((a, b) => a - b).map((g) => [hex(g), hex(w.readGpa32(g * 4096), 8)]),
    },
    ...spteDump(w, 0, { gvas: true, gfns: true }),
    tlbDump(w, 0, maps.map((m) => m.gva)),
    tlbDump(w, 1, maps.map((m) => m.gva)),
  ];

  // ---- run it and read what happened ------------------------------------------------------------
  const from = w.eventSeq;
  if (op === 'MADV_DONTNEED') w.host.madvise(vm.mm, hva, len, MADV_DONTNEED);
  else if (op === 'MADV_PAGEOUT') w.host.madvise(vm.mm, hva, len, MADV_PAGEOUT);
  else if (op === 'mprotect') w.host.mprotect(vm.mm, hva, len, PROT_READ);
  else w.host.migratePage(vm.mm, hva);
  const evs = w.eventsSince(from);
  const covered: number[] = [];
  for (const e of evs) if (e.kind === EV_INV_START && e.f[3]! >= 0) for (let g = e.f[3]!; g < e.f[4]!; g++) covered.push(g);
  const zapped = evs.filter((e) => e.kind === EV_SPTE_ZAP && e.f[2] === ZAP_INVALIDATION).map((e) => gvaOfRef(w, e.f[3]!));
  const remote = evs.filter((e) => e.kind === EV_TLB_FLUSH && e.f[1] === FLUSH_REMOTE);
  const flushed = remote.length > 0 ? vm.vcpus.map((v) => v.index) : [];
  const zStill = z === null ? null : tlbHolds(w, 0, z.gva) >= 0;

  const pfBefore = vm.stats.pf_taken;
  const from2 = w.eventSeq;
  const r = w.access(1, y.gva, false);
  if (r !== 'ok') throw new Error(`invalidate: the read ended with ${r}`);
  const evs2 = w.eventsSince(from2);
  const exited = vm.stats.pf_taken > pfBefore;
  const gups = evs2.filter((e) => e.kind === EV_GUP);
  const gup = gups.length === 0 ? 'no-fault' : GUP_NAMES[gups[gups.length - 1]!.f[4]!]!;
  const set = evs2.filter((e) => e.kind === EV_SPTE_SET).at(-1);

  const qs: Question[] = [
    {
      id: 'inv-gfns',
      text: `The VMM process does ${call}. Which gfns do KVM's invalidate_range_start callbacks cover (all of them together)?`,
      kind: 'hexset',
      answer: hexSet(covered),
      explain: covered.length === 0 ? 'none: the host found nothing to invalidate there' : `the hva range [${hex(hva)}, ${hex(hva + len)}) lies in memslot 0, so it is gfns ${hexSet(covered)} (${evs.filter((e) => e.kind === EV_INV_START).length} start/end pair${evs.filter((e) => e.kind === EV_INV_START).length === 1 ? '' : 's'})`,
    },
    {
      id: 'zapped',
      text: 'Which sptes does KVM zap? Give the GVAs they map (or none).',
      kind: 'hexset',
      answer: hexSet(zapped),
      explain: zapped.length === 0 ? 'none: no spte maps those gfns (the rmap of each gfn is empty), so nothing is zapped' : `kvm_unmap_gfn_range walks each gfn's rmap and drops every spte mapping it, aliases included: ${hexSet(zapped)}`,
    },
    {
      id: 'flushed',
      text: 'Which vCPUs get their TLB flushed by it (vCPU numbers, or none)?',
      kind: 'intset',
      answer: intSet(flushed),
      explain: flushed.length === 0 ? 'none: kvm_flush_remote_tlbs runs only when something was zapped' : 'kvm_flush_remote_tlbs flushes every vCPU of the VM, whichever ones cached the zapped translations',
    },
    {
      id: 'seq',
      text: `mmu_invalidate_seq was ${seqBefore} before. What is it after the operation?`,
      kind: 'int',
      answer: String(vm.inv.seq),
      explain: `invalidate_range_end bumps it once per start/end pair that hit a memslot: ${vm.inv.seq - seqBefore} pair(s)`,
    },
  ];
  if (z !== null) {
    qs.push({
      id: 'tlb-keeps',
      text: `GVA ${hex(z.gva)} maps gfn ${hex(z.gfn)}, outside the range. Does vCPU 0's TLB still hold it after the operation?`,
      kind: 'yesno',
      answer: yesno(zStill!),
      explain: zStill! ? 'yes: nothing was zapped, so no flush happened' : 'no: a remote TLB flush empties the whole TLB, not only the zapped pages',
    });
  }
  qs.push(
    {
      id: 'exits',
      text: `vCPU 1 then reads GVA ${hex(y.gva)} (gfn ${hex(y.gfn)}). Does the read exit to KVM (a shadow page fault)?`,
      kind: 'yesno',
      answer: yesno(exited),
      explain: exited ? 'yes: its spte is gone and its TLB was flushed (or never held it), so the shadow walk misses' : 'no: the spte (or the TLB entry) is still there',
    },
    {
      id: 'gup',
      text: `What must the host do to hand KVM the page for that read? One of: ${GUP_CHOICES.join(', ')}.`,
      kind: 'word',
      choices: GUP_CHOICES,
      answer: gup,
      explain:
        gup === 'no-fault' ? 'nothing: the read did not fault'
        : gup === 'zero-fill' ? 'MADV_DONTNEED dropped the page: the next touch of private anonymous memory gets a fresh zeroed page'
        : gup === 'swap-in' ? 'the page was written to swap and freed: gup reads it back from the swap device'
        : gup === 'swap-cache' ? 'the page was unmapped to swap but its frame was still in the swap cache: gup maps it back without I/O'
        : `the host PTE still maps a page (${gup}): gup only takes a reference${set !== undefined ? `, frame ${set.f[2]}` : ''}`,
    },
    {
      id: 'value',
      text: 'What 32-bit value does the read return?',
      kind: 'hex',
      answer: hex(w.lastRead, 8),
      explain: w.lastRead === 0 && op === 'MADV_DONTNEED' && inRange(y.gfn) ? 'zero: MADV_DONTNEED on private anonymous memory discards the contents' : 'the contents survive: swap, mprotect and migration keep the data, only the mapping changed',
    },
  );
  return {
    topic: 'invalidate',
    seed,
    title: `invalidate: ${op} under a running guest`,
    intro: [
      'A 2-vCPU guest runs under shadow paging with KVM\'s mmu_notifier registered on the VMM process. Both vCPUs share one shadow root; each has its own TLB. Below: the guest\'s tables, the memslot, the host PTEs, the data, the sptes (with the gva and gfn each maps) and both TLBs.',
      `mmu_invalidate_seq is ${seqBefore}. Then the VMM process does: ${call}.`,
    ],
    dumps,
    questions: qs,
  };
}

function spteAt(w: World, gva: number): number {
  const ref = w.vm.vcpus[0]!.vmmu.leafRef(gva);
  if (ref < 0) return 0;
  return w.vm.mmu.pages[refPage(ref)]!.spt[refIndex(ref)]! & 1;
}

/** The gva an spte ref maps under vCPU 0's root (the root entry pointing at its shadow page). */
function gvaOfRef(w: World, ref: number): number {
  const root = w.vm.vcpus[0]!.vmmu.root!;
  for (let i = 0; i < 1024; i++) if (root.spt[i]! >>> 12 === refPage(ref) && root.spt[i]! & 0x80) return ((i << 22) | (refIndex(ref) << 12)) >>> 0;
  throw new Error(`invalidate: spte ref ${ref} is under no root entry`);
}
