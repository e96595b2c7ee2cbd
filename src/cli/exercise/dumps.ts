// The tables an exercise prints, read from the engine's state as it is at that moment (nothing
// here faults a page in or changes a bit): the guest's page directory and page tables as they
// sit in guest memory, the memslots, the VM process's host PTEs, the shadow pages' sptes and a
// vCPU's TLB. The same reads `trace --translate` makes, laid out as tables a student can walk.

import { TLB_MASK } from '../../cpu/tlb.js';
import { PG_ANON, PG_DIRTY, PG_KSM, PG_SWAPCACHE } from '../../host/frames.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pteFrame, pteIsSwap, ptePresent, pteSwapSlot } from '../../host/page-table.js';
import { SPTE_MMIO, SPTE_NONLEAF, SPTE_P } from '../../hv/shadow/spte.js';
import { spteFlagsText } from '../trace-format.js';
import { hex, type Dump } from './model.js';
import { PD_GFN, type World } from './world.js';

export function gpteFlags(v: number): string {
  if (!(v & 1)) return 'not present';
  const f = ['P'];
  if (v & 2) f.push('W');
  if (v & 4) f.push('U');
  if (v & 0x20) f.push('A');
  if (v & 0x40) f.push('D');
  if (v & 0x80) f.push('PS');
  return f.join(' ');
}

/** Read a guest word without faulting the host (null: its page is not resident). */
function peek(w: World, gpa: number): number | null {
  const v = w.vm.guestMem.peekGpa32(gpa);
  return v === null ? null : v >>> 0;
}

/** Present entries of the guest page directory (CR3 of vCPU 0). */
export function guestPdDump(w: World): Dump {
  const cr3 = w.vm.vcpus[0]!.cpu.cr3 >>> 0;
  const rows: string[][] = [];
  for (let i = 0; i < 1024; i++) {
    const v = peek(w, (cr3 & ~0xfff) + i * 4);
    if (v === null || !(v & 1)) continue;
    rows.push([String(i), hex((cr3 & ~0xfff) + i * 4, 8), hex(v, 8), gpteFlags(v)]);
  }
  return {
    title: `guest page directory (CR3 = ${hex(cr3, 8)}, CR0.PG and CR0.WP set; present entries only)`,
    note: 'PDE index = GVA bits 31..22; a PDE\'s bits 31..12 are the gfn of its page table',
    columns: ['index', 'gpa', 'PDE', 'flags'],
    rows,
  };
}

/** Present entries of the guest page table at `ptGfn`. */
export function guestPtDump(w: World, ptGfn: number): Dump {
  const rows: string[][] = [];
  for (let i = 0; i < 1024; i++) {
    const v = peek(w, ptGfn * 4096 + i * 4);
    if (v === null || !(v & 1)) continue;
    rows.push([String(i), hex(ptGfn * 4096 + i * 4, 8), hex(v, 8), gpteFlags(v)]);
  }
  return {
    title: `guest page table at gfn ${hex(ptGfn)} (present entries only)`,
    note: 'PTE index = GVA bits 21..12; a PTE\'s bits 31..12 are the gfn of the page, bits 11..0 its flags (P W U A D)',
    columns: ['index', 'gpa', 'PTE', 'flags'],
    rows,
  };
}

export function memslotDump(w: World): Dump {
  return {
    title: 'memslots (KVM_SET_USER_MEMORY_REGION)',
    note: 'hva(gfn) = hva base + (gfn - first gfn) * 0x1000',
    columns: ['slot', 'first gfn', 'pages', 'hva base'],
    rows: w.vm.memslots.slots.map((s) => [String(s.id), hex(s.baseGfn), String(s.npages), hex(s.hva, 8)]),
  };
}

export function hostPteText(pte: number): string {
  if (ptePresent(pte)) {
    return `frame ${pteFrame(pte)} (${pte & PTE_WRITE ? 'writable' : 'read-only'}${pte & PTE_YOUNG ? ', young' : ''}${pte & PTE_DIRTY ? ', dirty' : ''})`;
  }
  if (pteIsSwap(pte)) return `swap entry, slot ${pteSwapSlot(pte)}`;
  return 'none';
}

/** The VM process's host PTEs for the pages of `gfns` (by hva; a gfn outside every slot is skipped). */
export function hostPteDump(w: World, gfns: readonly number[], title = 'host page table of the VMM process (the guest RAM mappings)'): Dump {
  const rows: string[][] = [];
  const seen = new Set<number>();
  for (const g of [...gfns].sort((a, b) => w.hvaOf(a) - w.hvaOf(b))) {
    const hva = w.hvaOf(g);
    if (hva < 0 || seen.has(hva)) continue;
    seen.add(hva);
    rows.push([hex(hva, 8), hostPteText(w.vm.mm.pt.get(hva >>> 12))]);
  }
  return { title, note: 'HPA = frame * 0x1000 + page offset', columns: ['hva', 'host PTE'], rows };
}

export interface SpteDumpOptions {
  /** Show the gfn each leaf spte translates (KVM's shadowed_translation). */
  gfns?: boolean;
  /** Show the guest address each leaf maps (root index and leaf index put together). */
  gvas?: boolean;
}

/** The current shadow root of vCPU `vcpu` and the leaf sptes under it. */
export function spteDump(w: World, vcpu: number, o: SpteDumpOptions = {}): Dump[] {
  const vm = w.vm;
  const root = vm.vcpus[vcpu]!.vmmu.root;
  const rootRows: string[][] = [];
  const leafRows: string[][] = [];
  if (root !== null) {
    for (let i = 0; i < 1024; i++) {
      const e = root.spt[i]!;
      if (!(e & SPTE_P) || !(e & SPTE_NONLEAF)) continue;
      rootRows.push([String(i), `shadow page ${e >>> 12}`]);
      const sp = vm.mmu.pages[e >>> 12];
      if (sp === null || sp === undefined) continue;
      for (let j = 0; j < 1024; j++) {
        const s = sp.spt[j]!;
        if (!(s & SPTE_P)) continue;
        const row = [`${sp.id}[${j}]`];
        if (o.gvas === true) row.push(hex(((i << 22) | (j << 12)) >>> 0, 8));
        if (o.gfns === true) row.push(s & SPTE_MMIO ? '-' : hex(sp.gfns[j]!));
        row.push(hex(s, 8), s & SPTE_MMIO ? 'MMIO' : `frame ${s >>> 12}; ${spteFlagsText(s & 0xfff)}`);
        leafRows.push(row);
      }
    }
  }
  const cols = ['sp[index]'];
  if (o.gvas === true) cols.push('gva');
  if (o.gfns === true) cols.push('gfn');
  cols.push('spte', 'decoded');
  return [
    {
      title: `vcpu${vcpu}'s shadow root (shadow page ${root === null ? '-' : root.id}, shadowing the guest page directory at gfn ${hex(PD_GFN)}): present entries`,
      note: 'root index = GVA bits 31..22, as in the guest page directory',
      columns: ['index', 'points to'],
      rows: rootRows,
    },
    {
      title: 'leaf sptes (shadow page id [index = GVA bits 21..12])',
      note: 'spte = host frame << 12 | flags: P W U hardware bits, A D, mmu-w (the guest walk allows writes), host-w (the host PTE was writable at fault time)',
      columns: cols,
      rows: leafRows,
    },
  ];
}

/** What vCPU `vcpu`'s TLB holds for the pages of `gvas` (supervisor view). */
export function tlbDump(w: World, vcpu: number, gvas: readonly number[]): Dump {
  const tlb = w.vm.vcpus[vcpu]!.cpu.tlb;
  const rows: string[][] = [];
  for (const gva of [...new Set(gvas.map((g) => g >>> 12))].sort((a, b) => a - b)) {
    const i = gva & TLB_MASK;
    if (tlb.tagSR[i] !== gva) {
      rows.push([hex(gva << 12, 8), 'no entry']);
      continue;
    }
    rows.push([hex(gva << 12, 8), `frame ${tlb.off[i]! >>> 12} (${tlb.tagSW[i] === gva ? 'read/write' : 'read-only'})`]);
  }
  return { title: `vcpu${vcpu}'s TLB for the guest pages in play`, columns: ['gva page', 'entry'], rows };
}

/** Whether vCPU `vcpu`'s TLB holds gva's page, and the frame. */
export function tlbHolds(w: World, vcpu: number, gva: number): number {
  const tlb = w.vm.vcpus[vcpu]!.cpu.tlb;
  const vpn = gva >>> 12;
  return tlb.tagSR[vpn & TLB_MASK] === vpn ? tlb.off[vpn & TLB_MASK]! >>> 12 : -1;
}

/** The host frames (struct page) behind `frames`: mapcount, refcount and flags. */
export function frameDump(w: World, frames: readonly number[]): Dump {
  const ft = w.host.ft;
  const rows = [...new Set(frames)].filter((f) => f >= 0).sort((a, b) => a - b).map((f) => {
    const fl: string[] = [];
    if (ft.flags[f]! & PG_ANON) fl.push('anon');
    if (ft.flags[f]! & PG_KSM) fl.push('KSM');
    if (ft.flags[f]! & PG_SWAPCACHE) fl.push('swapcache');
    if (ft.flags[f]! & PG_DIRTY) fl.push('dirty');
    return [String(f), String(ft.mapcount[f]), String(ft.refcount[f]), fl.join(' ')];
  });
  return { title: 'host frames (struct page)', note: 'mapcount: page table entries mapping the frame, in any process; refcount: all references', columns: ['frame', 'mapcount', 'refcount', 'flags'], rows };
}
