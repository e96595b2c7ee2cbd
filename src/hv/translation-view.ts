// What one guest-virtual address means right now, under either hypervisor MMU: the GVA->GPA->HVA
// ->HPA chain and the MMU entry that the processor would use (the shadow spte, or the TDP leaf for
// the gfn). For debuggers (`monitor translate`) and views; it reads everything without side
// effects: no A/D bits, no faults, no swap-in (a guest page table the host swapped out is read
// where the host keeps it; a data page swapped out shows as not resident: no HPA).

import { peekGuestWalk } from '../cpu/paging.js';
import type { Vm } from './vm.js';
import { refIndex, refPage } from './shadow/rmap.js';
import { SPTE_A, SPTE_D, SPTE_MMIO, SPTE_NONLEAF, SPTE_P, SPTE_PINNED, SPTE_U, SPTE_W } from './shadow/spte.js';

export interface TranslationView {
  mmu: 'shadow' | 'tdp';
  gva: number;
  /** The guest's own walk: PDE and PTE values (null: not read, or the host has no bytes for
   *  them). A table page the host swapped out is read where the host keeps it, not swapped in. */
  pde: number | null;
  pte: number | null;
  /** The PDE's, the PTE's table page was not resident in the host (read from swap). */
  pdeSwapped: boolean;
  pteSwapped: boolean;
  /** Guest-physical address, or null when the guest's tables do not map gva. */
  gpa: number | null;
  /** Host virtual address of the gpa in the VM process (null: no memslot). */
  hva: number | null;
  /** Host physical address (frame * 4096 + offset) the host PTE gives now (null: not resident). */
  hpa: number | null;
  /** The MMU entry: for shadow the leaf spte the current root has for gva, for TDP the gpa->hpa
   *  leaf of the gfn (null: none yet, the next access faults into KVM). */
  entry: number | null;
  /** The frame the entry maps (may differ from hpa's frame only inside an invalidation window). */
  entryFrame: number | null;
  /** One line: "gva 0x.. -> gpa 0x.. -> hva 0x.. -> hpa 0x..; tdp leaf frame N W A D". */
  text: string;
}

const hex = (v: number | null): string => (v === null ? '-' : `0x${(v >>> 0).toString(16)}`);

function entryFlags(e: number): string {
  const f: string[] = [];
  if (e & SPTE_W) f.push('W');
  if (e & SPTE_U) f.push('U');
  if (e & SPTE_A) f.push('A');
  if (e & SPTE_D) f.push('D');
  if (e & SPTE_PINNED) f.push('pinned');
  if (e & SPTE_MMIO) f.push('mmio');
  return f.join(' ');
}

export function describeTranslation(vm: Vm, gva: number, vcpuIndex = 0): TranslationView {
  const v = vm.vcpus[vcpuIndex];
  if (v === undefined) throw new RangeError(`no vCPU ${vcpuIndex}`);
  const cpu = v.cpu;
  const lin = gva >>> 0;
  // Each table read in walk order (PDE, then PTE): whether its page was out of RAM.
  const swapped: boolean[] = [];
  const page = new Uint8Array(4096);
  const { pde, pte, gpa } = peekGuestWalk(cpu.cr0, cpu.cr3, cpu.cr4, lin, (a) => {
    const resident = vm.guestMem.peekGpa32(a);
    swapped.push(resident === null);
    return resident ?? vm.guestMem.peekGpa32Anywhere(a, page);
  });
  let hva: number | null = null;
  let hpa: number | null = null;
  if (gpa !== null) {
    const slot = vm.memslots.find(gpa >>> 12);
    if (slot !== null) {
      hva = slot.gfnToHva(gpa >>> 12) + (gpa & 0xfff);
      const frame = vm.host.frameAt(vm.mm, hva & ~0xfff);
      if (frame >= 0) hpa = frame * 4096 + (gpa & 0xfff);
    }
  }
  let entry: number | null = null;
  let what: string;
  if (vm.tdp !== null) {
    const e = gpa === null ? 0 : vm.tdp.entry(gpa >>> 12);
    if (e & SPTE_P) entry = e;
    what = gpa === null ? 'tdp leaf -' : entry === null ? `tdp leaf for gfn ${hex(gpa >>> 12)}: none` : `tdp leaf for gfn ${hex(gpa >>> 12)}: frame ${e >>> 12} ${entryFlags(e)}`;
  } else {
    const ref = v.vmmu.leafRef(lin);
    const sp = ref < 0 ? null : (vm.mmu.pages[refPage(ref)] ?? null);
    const e = sp === null ? 0 : sp.spt[refIndex(ref)]!;
    if (e & SPTE_P && !(e & SPTE_NONLEAF)) entry = e;
    what = entry === null ? 'spte: none' : `spte ${ref}: ${e & SPTE_MMIO ? 'mmio' : `frame ${e >>> 12}`} ${entryFlags(e)}`;
  }
  const entryFrame = entry === null || entry & SPTE_MMIO ? null : entry >>> 12;
  const text = `gva ${hex(lin)} -> gpa ${hex(gpa)} -> hva ${hex(hva)} -> hpa ${hex(hpa)}; ${what.trim()}`;
  return { mmu: vm.tdp !== null ? 'tdp' : 'shadow', gva: lin, pde, pte, pdeSwapped: swapped[0] === true, pteSwapped: swapped[1] === true, gpa, hva, hpa, entry, entryFrame, text };
}
