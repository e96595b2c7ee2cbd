// Exercise topic `tdp`: the two-dimensional walk of `--mmu tdp` (EPT/NPT, reference/kvm-mmu.md
// §2.10). On a TLB miss the processor walks the guest's tables, and every guest-physical address
// it touches — the page directory, the page table, the data page — is itself translated through
// KVM's gpa->hpa table (here a root of 1024 leaf tables, each covering 1024 gfns: root entry,
// then leaf). Up to (2+1)*(2+1)-1 = 8 references for a 4 KiB page, 5 for a 4 MiB one; a missing
// leaf table costs one reference less and a missing leaf ends the walk in an EPT violation (an
// exit to KVM, which maps that gfn; the access then walks again). Answers from the trace ring's
// TDP_WALK events and KVM's counters.

import { CR4_PSE, PTE_PS } from '../../cpu/paging.js';
import { SPTE_P, SPTE_W } from '../../hv/shadow/spte.js';
import { EV_TDP_WALK } from '../../obs/events.js';
import { guestPdDump, guestPtDump, memslotDump, tlbDump } from './dumps.js';
import { hex, hexSet, range, type Dump, type Exercise, type Question } from './model.js';
import { PD_GFN, PT_GFNS, PTE_A, PTE_P, PTE_RW, World } from './world.js';

const CASES = ['all-present', 'data-unmapped', 'data-in-new-table', 'table-unmapped', 'large-page'] as const;

/** The gpa->hpa table as KVM holds it: root entries and the present leaves under them. */
function tdpDump(w: World): Dump[] {
  const tdp = w.vm.tdp!;
  const rootRows: string[][] = [];
  const leafRows: string[][] = [];
  for (let i = 0; i < tdp.root.length; i++) {
    const t = tdp.root[i];
    if (t === null || t === undefined) continue;
    rootRows.push([String(i), `gfns ${hex(i << 10)}-${hex((i << 10) + 1023)}: leaf table present`]);
    for (let j = 0; j < 1024; j++) {
      const s = t.spt[j]!;
      if (!(s & SPTE_P)) continue;
      leafRows.push([hex((i << 10) | j), hex(s, 8), `frame ${s >>> 12}; ${s & SPTE_W ? 'read/write' : 'read-only'}`]);
    }
  }
  return [
    { title: 'KVM\'s gpa->hpa table: root (index = gfn >> 10; absent entries: no leaf table)', columns: ['root index', 'entry'], rows: rootRows },
    { title: 'gpa->hpa leaves (present only)', columns: ['gfn', 'leaf', 'decoded'], rows: leafRows },
  ];
}

export function tdpExercise(seed: number): Exercise {
  const w = new World({ seed, mmu: 'tdp', pages: 32, slot1Pages: 8, slot1Gfn: 0x400 });
  const vm = w.vm;
  const cpu = vm.vcpus[0]!.cpu;
  const kase = CASES[seed % CASES.length]!;
  w.enablePaging();
  if (kase === 'large-page') cpu.cr4 |= CR4_PSE;
  const pdis = w.pickDistinct(range(1, 1023), 2);
  w.setPde(pdis[0]!, PT_GFNS[0]);
  w.setPde(pdis[1]!, PT_GFNS[1]);
  const ptis = w.pickDistinct(range(0, 1023), 4);
  const data = w.pickDistinct(range(8, 31), 4);
  const slot1Data = 0x400 + w.int(0, 7);
  const gva = (pdi: number, pti: number): number => ((pdi << 22) | (pti << 12)) >>> 0;
  // Three mappings the guest has used, through the first page table.
  const used = [0, 1, 2].map((k) => ({ gva: gva(pdis[0]!, ptis[k]!), gfn: data[k]! }));
  for (const u of used) {
    w.fillGuestPage(u.gfn, w.int(1, 255));
    w.setPte(PT_GFNS[0], (u.gva >>> 12) & 1023, u.gfn, PTE_RW | PTE_A);
  }
  let target: number;
  let largePdi = -1;
  if (kase === 'all-present') target = used[w.rng.below(3)]!.gva;
  else if (kase === 'data-unmapped') {
    target = gva(pdis[0]!, ptis[3]!);
    w.setPte(PT_GFNS[0], ptis[3]!, data[3]!, PTE_RW);
  } else if (kase === 'data-in-new-table') {
    target = gva(pdis[0]!, ptis[3]!);
    w.setPte(PT_GFNS[0], ptis[3]!, slot1Data, PTE_RW);
  } else if (kase === 'table-unmapped') {
    target = gva(pdis[1]!, ptis[3]!);
    w.setPte(PT_GFNS[1], ptis[3]!, data[3]!, PTE_RW);
  } else {
    // A 4 MiB page over gpa 0-4 MiB: the PDE is the leaf.
    largePdi = w.pickDistinct(range(1, 1023).filter((i) => !pdis.includes(i)), 1)[0]!;
    w.writeGpa32(PD_GFN * 4096 + largePdi * 4, PTE_P | PTE_RW | PTE_PS | PTE_A);
    target = ((largePdi << 22) | (data[3]! << 12)) >>> 0;
  }
  const off = w.int(0, 1023) * 4;
  target = (target | off) >>> 0;
  for (const u of used) w.access(0, u.gva, false);
  if (kase === 'all-present') w.access(0, target, false);
  // The guest reloads CR3: under TDP only the processor's TLB is emptied, KVM does nothing.
  vm.vcpus[0]!.tdpMmu!.onCr3Write(cpu);

  const dumps: Dump[] = [
    guestPdDump(w),
    guestPtDump(w, PT_GFNS[0]),
    guestPtDump(w, PT_GFNS[1]),
    memslotDump(w),
    ...tdpDump(w),
    tlbDump(w, 0, [...used.map((u) => u.gva), target]),
  ];

  // ---- the miss, as the processor makes it -------------------------------------------------------
  const from = w.eventSeq;
  const pf0 = vm.stats.pf_taken;
  const r = w.access(0, target, false);
  if (r !== 'ok') throw new Error(`tdp: the read ended with ${r}`);
  const walks = w.eventsSince(from).filter((e) => e.kind === EV_TDP_WALK);
  const first = walks[0]!;
  // Whether the first walk's violation hit a guest page-table page rather than the data page.
  const pdGfn = cpu.cr3 >>> 12;
  const pde = vm.guestMem.peekGpa32((cpu.cr3 & ~0xfff) + (target >>> 22) * 4)!;
  const inWalk = first.f[4] === pdGfn || (!(pde & PTE_PS) && first.f[4] === pde >>> 12);
  const exits = vm.stats.pf_taken - pf0;
  const violations = walks.filter((e) => e.f[4]! >= 0).map((e) => e.f[4]!);
  vm.vcpus[0]!.tdpMmu!.onCr3Write(cpu);
  const from2 = w.eventSeq;
  w.access(0, target, false);
  const again = w.eventsSince(from2).filter((e) => e.kind === EV_TDP_WALK)[0]!;

  const qs: Question[] = [
    {
      id: 'guest-refs',
      text: `After the CR3 reload, vCPU 0 reads GVA ${hex(target, 8)}: a TLB miss. How many guest page-table references (PDE, PTE) does the first walk make? A reference whose page-table page has no gpa->hpa leaf counts: it is the one that exits.`,
      kind: 'int',
      answer: String(first.f[2]),
      explain: `${first.f[2]}: ${largePdi >= 0 ? 'with CR4.PSE the PDE has PS set and is the leaf' : 'the PDE, then the PTE'}${inWalk ? `; the last one never completes: its page-table page (gfn ${hex(first.f[4]!)}) has no gpa->hpa leaf yet` : ''}`,
    },
    {
      id: 'tdp-refs',
      text: 'How many gpa->hpa entries (root entries and leaves) does that first walk read?',
      kind: 'int',
      answer: String(first.f[3]),
      explain: 'every guest-physical reference (the page directory, the page table, the data page) costs a root entry and a leaf; an absent leaf table costs only the root entry; the walk stops at the first missing leaf',
    },
    {
      id: 'violation',
      text: 'Does the first walk end in an EPT violation? Give the gfn it exits with, or none.',
      kind: 'hexset',
      answer: hexSet(first.f[4]! >= 0 ? [first.f[4]!] : []),
      explain: first.f[4]! >= 0 ? `gfn ${hex(first.f[4]!)} has no gpa->hpa leaf: the walk is abandoned and KVM's fault path maps it (gup, then the leaf)` : 'no: every gfn on the way has a leaf',
    },
    {
      id: 'exits',
      text: 'How many exits to KVM (EPT violations) does the read take before it completes?',
      kind: 'int',
      answer: String(exits),
      explain: exits === 0 ? 'none' : `one per missing leaf, each found by a new walk: ${hexSet(violations)}`,
    },
    {
      id: 'full-refs',
      text: 'Once it has completed, the TLB is flushed again and the same read misses again. How many references (guest + gpa->hpa) does that walk make?',
      kind: 'int',
      answer: String(again.f[2]! + again.f[3]!),
      explain: `${again.f[2]} guest + ${again.f[3]} gpa->hpa = ${again.f[2]! + again.f[3]!}: (n+1)*(m+1)-1 with n = ${again.f[2]} guest levels used and m = 2 gpa->hpa levels`,
    },
  ];
  return {
    topic: 'tdp',
    seed,
    title: `tdp: the two-dimensional walk of GVA ${hex(target, 8)}`,
    intro: [
      'The guest runs under --mmu tdp: KVM does not shadow the guest\'s page tables; it keeps one gpa->hpa table (root entries of 1024 leaf tables, gfn >> 10 picks the leaf table, gfn & 1023 the leaf). On a TLB miss the processor walks the guest\'s tables itself and translates every guest-physical address it touches (the page directory at CR3, the page table, the data page) through that table.',
      `Below: the guest's tables${kase === 'large-page' ? ' (CR4.PSE is set)' : ''}, the memslots, KVM's gpa->hpa table and vCPU 0's TLB after the guest reloaded CR3.`,
    ],
    dumps,
    questions: qs,
  };
}
