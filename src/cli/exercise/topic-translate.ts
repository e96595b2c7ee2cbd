// Exercise topic `translate`: one guest virtual address followed through every layer from the
// dumps alone — guest PDE and PTE -> GPA -> memslot -> HVA -> host PTE -> HPA — then what the
// spte the shadow MMU built holds, and why it may be read-only although the guest PTE is
// writable (FNAME(protect_clean_gpte): a clean gpte gets a read-only spte so the first write
// faults and KVM sets D; or the host PTE was read-only at fault time; or the gfn is a shadowed,
// write-tracked guest page table). Then the guest writes, and the engine says what changed.

import { GuestWalker } from '../../hv/shadow/guest-walk.js';
import { SPTE_HOST_WRITABLE, SPTE_MMU_WRITABLE, SPTE_P, SPTE_W } from '../../hv/shadow/spte.js';
import { pteFrame, ptePresent } from '../../host/page-table.js';
import { guestPdDump, guestPtDump, hostPteDump, memslotDump, spteDump, tlbDump } from './dumps.js';
import { hex, range, yesno, type Exercise, type Question } from './model.js';
import { PT_GFNS, PTE_D, PTE_RW, PTE_US, World } from './world.js';

const TWISTS = ['protect-clean-gpte', 'writable', 'guest-read-only', 'host-read-only', 'write-tracked'] as const;
type Twist = (typeof TWISTS)[number];
export const WHY_CHOICES = ['writable', 'protect-clean-gpte', 'guest-read-only', 'host-read-only', 'write-tracked'];

interface Mapping {
  gva: number;
  gfn: number;
  pt: number;
  pti: number;
}

export function translateExercise(seed: number): Exercise {
  const w = new World({ seed, pages: 32, slot1Pages: 16, slot1Gfn: 0x40 });
  const twist: Twist = TWISTS[seed % TWISTS.length]!;
  w.enablePaging();
  const pdis = w.pickDistinct(range(1, 1023), 2);
  w.setPde(pdis[0]!, PT_GFNS[0]);
  w.setPde(pdis[1]!, PT_GFNS[1]);
  const dataGfns = w.pickDistinct([...range(8, 31), ...range(0x40, 0x4f)], 5);
  const ptis = [w.pickDistinct(range(0, 1023), 3), w.pickDistinct(range(0, 1023), 2)];
  const maps: Mapping[] = [];
  let k = 0;
  for (let t = 0; t < 2; t++) {
    for (const pti of ptis[t]!) {
      maps.push({ gva: ((pdis[t]! << 22) | (pti << 12)) >>> 0, gfn: dataGfns[k++]!, pt: PT_GFNS[t]!, pti });
    }
  }
  const target = maps[w.rng.below(maps.length)]!;
  if (twist === 'write-tracked') target.gfn = target.pt; // the guest maps its own page table
  for (const m of maps) {
    if (m !== target) w.fillGuestPage(m.gfn, w.int(1, 255));
    let flags = PTE_US * w.int(0, 1);
    if (m === target) flags |= twist === 'guest-read-only' ? 0 : twist === 'protect-clean-gpte' ? PTE_RW : PTE_RW | PTE_D;
    else flags |= w.pick([0, PTE_RW, PTE_RW, PTE_RW | PTE_D]);
    w.setPte(m.pt, m.pti, m.gfn, flags);
  }
  // The guest touches its pages: the target read (written first where the twist needs a dirty
  // page), the others read or written or left alone.
  for (const m of maps) {
    if (m === target) continue;
    const how = w.int(0, 2);
    if (how > 0) w.access(0, m.gva, how === 2 && w.readGpa32(m.pt * 4096 + m.pti * 4) & PTE_RW ? true : false, 0x1000 + m.gfn);
  }
  if (twist === 'writable' || twist === 'host-read-only') w.access(0, target.gva, true, 0xc0ffee);
  if (twist === 'host-read-only') w.host.fork(w.vm.mm); // the VMM forks: COW write-protects the parent's PTEs
  w.access(0, target.gva, false);

  const off = w.int(0, 1023) * 4;
  const gva = (target.gva | off) >>> 0;
  const vm = w.vm;
  const cpu = vm.vcpus[0]!.cpu;

  const dumps = [
    guestPdDump(w),
    guestPtDump(w, PT_GFNS[0]),
    guestPtDump(w, PT_GFNS[1]),
    memslotDump(w),
    hostPteDump(w, [...range(0, 31), ...range(0x40, 0x4f)].filter((g) => w.vm.mm.pt.get(w.hvaOf(g) >>> 12) !== 0)),
    ...spteDump(w, 0),
    tlbDump(w, 0, maps.map((m) => m.gva)),
  ];

  // ---- the answers: the engine's walk, memslot, host PTE and spte -------------------------------
  const walker = new GuestWalker();
  if (!walker.walk(vm.guestMem, cpu.cr0, cpu.cr3, cpu.cr4, gva, false, false)) throw new Error('translate: the target does not walk');
  const gpa = ((walker.gfn << 12) | (gva & 0xfff)) >>> 0;
  const slot = vm.memslots.find(walker.gfn)!;
  const hva = (slot.gfnToHva(walker.gfn) + (gva & 0xfff)) >>> 0;
  const hpte = vm.mm.pt.get(hva >>> 12);
  if (!ptePresent(hpte)) throw new Error('translate: the target is not resident');
  const hpa = (pteFrame(hpte) * 4096 + (gva & 0xfff)) >>> 0;
  const ref = vm.vcpus[0]!.vmmu.leafRef(gva);
  const spte = ref < 0 ? 0 : vm.mmu.pages[Math.floor(ref / 1024)]!.spt[ref & 1023]!;
  if (!(spte & SPTE_P)) throw new Error('translate: no spte for the target');
  const gpteGpa = walker.pteGpa;
  const gpte = walker.pte >>> 0;
  const pdeW = (walker.pde & PTE_RW) !== 0;
  let why: string;
  let whyText: string;
  if (spte & SPTE_W) {
    why = 'writable';
    whyText = 'the spte has W: the guest walk allows writes (gpte W and D set) and the host PTE was writable';
  } else if (!(spte & SPTE_MMU_WRITABLE)) {
    if (gpte & PTE_RW && pdeW && !(gpte & PTE_D)) {
      why = 'protect-clean-gpte';
      whyText = `the gpte ${hex(gpte, 8)} is writable but clean (D=0) and the fault was a read: protect_clean_gpte drops W so the first write faults and KVM sets D`;
    } else {
      why = 'guest-read-only';
      whyText = `the guest itself maps it read-only (gpte ${hex(gpte, 8)} has no W)`;
    }
  } else if (!(spte & SPTE_HOST_WRITABLE)) {
    why = 'host-read-only';
    whyText = 'the guest allows the write (mmu-w) but the host PTE was read-only when KVM faulted the page in (COW after fork): a write must go back to gup to break COW';
  } else {
    why = vm.mmu.isWriteTracked(walker.gfn) ? 'write-tracked' : 'unexplained';
    whyText = `gfn ${hex(walker.gfn)} is a guest page table KVM shadows, so it is write-tracked: every write to it traps and is emulated`;
  }

  const frameOf = (g: number): number => vm.host.frameAt(vm.mm, slot.gfnToHva(g));
  const qs: Question[] = [
    {
      id: 'gpa',
      text: `vCPU 0 reads GVA ${hex(gva, 8)}. Walk the guest's tables: which guest-physical address (GPA) does it reach?`,
      kind: 'hex',
      answer: hex(gpa, 8),
      explain: `PDE[${gva >>> 22}] -> page table gfn ${hex(walker.pde >>> 12)}, PTE[${(gva >>> 12) & 1023}] = ${hex(gpte, 8)} -> gfn ${hex(walker.gfn)}; GPA = gfn << 12 | offset ${hex(gva & 0xfff)}`,
    },
    {
      id: 'hva',
      text: 'Which host virtual address (HVA) in the VMM process backs that GPA?',
      kind: 'hex',
      answer: hex(hva, 8),
      explain: `gfn ${hex(walker.gfn)} lies in memslot ${slot.id} (first gfn ${hex(slot.baseGfn)}, hva ${hex(slot.hva, 8)}): ${hex(slot.hva, 8)} + ${hex(walker.gfn - slot.baseGfn)} * 0x1000 + ${hex(gva & 0xfff)}`,
    },
    {
      id: 'hpa',
      text: 'Which host-physical address (HPA) holds the byte?',
      kind: 'hex',
      answer: hex(hpa, 8),
      explain: `the host PTE for hva ${hex(hva & ~0xfff, 8)} maps frame ${pteFrame(hpte)}: ${pteFrame(hpte)} * 0x1000 + ${hex(gva & 0xfff)}`,
    },
    {
      id: 'spte-writable',
      text: `Can vCPU 0 write to GVA ${hex(gva, 8)} through its current spte, without exiting to KVM?`,
      kind: 'yesno',
      answer: yesno((spte & SPTE_W) !== 0),
      explain: `the spte is ${hex(spte, 8)}: W is ${spte & SPTE_W ? 'set' : 'clear'}`,
    },
    {
      id: 'why',
      text: `Why does the spte have (or lack) W? One of: ${WHY_CHOICES.join(', ')}.`,
      kind: 'word',
      choices: WHY_CHOICES,
      answer: why,
      explain: whyText,
    },
  ];

  if (twist === 'guest-read-only') {
    const r = w.access(0, gva, true, 0x1234);
    qs.push({
      id: 'write-result',
      text: `vCPU 0 (CPL 0, CR0.WP=1) now writes to GVA ${hex(gva, 8)}. What happens? One of: ok, guest-pf, efault.`,
      kind: 'word',
      choices: ['ok', 'guest-pf', 'efault'],
      answer: r,
      explain: r === 'guest-pf' ? 'KVM walks the guest tables, finds no W with CR0.WP=1 and injects #PF into the guest: the guest, not KVM, must handle it' : `the engine's access ended with ${r}`,
    });
  } else if (twist !== 'write-tracked') {
    const before = vm.stats.pf_taken;
    const retriesBefore = vm.stats.pf_retry_seq + vm.stats.pf_retry_in_progress + vm.stats.pf_retry_unsafe;
    const gupsBefore = vm.host.stats.cowBreaks;
    const r = w.access(0, gva, true, 0x5eed0000 + seed);
    if (r !== 'ok') throw new Error(`translate: the write ended with ${r}`);
    const exits = vm.stats.pf_taken - before;
    const retries = vm.stats.pf_retry_seq + vm.stats.pf_retry_in_progress + vm.stats.pf_retry_unsafe - retriesBefore;
    const after = vm.guestMem.peekGpa32(gpteGpa)! >>> 0;
    const frameAfter = frameOf(walker.gfn);
    qs.push(
      {
        id: 'exits',
        text: `vCPU 0 now writes to GVA ${hex(gva, 8)}. How many page faults does it take into KVM (exits) before the write lands?`,
        kind: 'int',
        answer: String(exits),
        explain: exits === 0 ? 'none: the TLB or the writable spte serves it' : `${exits}: the spte lacks W, so the write exits; KVM walks the guest tables again${why === 'protect-clean-gpte' ? ' (setting D)' : ''}${why === 'host-read-only' ? ', gup asks for write and breaks COW' : ''} and installs a writable spte${retries > 0 ? `; ${retries} of them retried: the COW break ran its own invalidation (start/end), which moved mmu_invalidate_seq after the fault sampled it, so the fault dropped its page and the access faulted again` : ''}`,
      },
      {
        id: 'gpte-after',
        text: 'What is the guest PTE for that page after the write?',
        kind: 'hex',
        answer: hex(after, 8),
        explain: after === gpte ? 'unchanged: A and D were already set' : `${hex(gpte, 8)} | D (0x40): KVM's walk sets the dirty bit the hardware would have set`,
      },
      {
        id: 'frame-after',
        text: 'Which host frame backs the page after the write?',
        kind: 'int',
        answer: String(frameAfter),
        explain: frameAfter === pteFrame(hpte) ? 'the same frame: nothing had to be copied' : `a new frame: gup(FOLL_WRITE) broke COW (${vm.host.stats.cowBreaks - gupsBefore} copy), since the forked child still shares frame ${pteFrame(hpte)}`,
      },
    );
  }

  return {
    topic: 'translate',
    seed,
    title: `translate: follow GVA ${hex(gva, 8)} through every layer`,
    intro: [
      'A 32-bit guest (two-level paging, 4 KiB pages) runs under shadow paging. Its page directory and page tables are below as they sit in guest memory, with the memslots that map guest-physical pages into the VMM process, that process\'s host page table, the shadow page tables KVM built for vCPU 0, and vCPU 0\'s TLB.',
      'Answer from the tables alone; hex answers may be written with or without 0x.',
    ],
    dumps,
    questions: qs,
  };
}
