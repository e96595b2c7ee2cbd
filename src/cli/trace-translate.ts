// `shadowvisor trace --translate GVA`: one guest virtual address followed through every layer at
// the end of a run, for vCPU 0: the guest's own walk (PDE, PTE) -> GPA -> memslot -> HVA -> the
// host PTE -> HPA (host frame) -> the spte the shadow MMU built -> the TLB entry, if any. What
// KVM's kvm_mmu_gva_to_gpa and the host's follow_page would say, side by side; it reads only, so
// nothing swapped out is faulted back in to answer.

import { CR0_PG, peekGuestWalk, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../cpu/paging.js';
import { TLB_MASK } from '../cpu/tlb.js';
import { pteFrame, ptePresent, pteIsSwap, pteSwapSlot, PTE_DIRTY, PTE_WRITE, PTE_YOUNG } from '../host/page-table.js';
import type { Vm } from '../hv/vm.js';
import { SPTE_MMIO, SPTE_NONLEAF, SPTE_P, SPTE_STALE } from '../hv/shadow/spte.js';
import { spteFlagsText } from './trace-format.js';

const hex = (v: number, w = 8): string => `0x${(v >>> 0).toString(16).padStart(w, '0')}`;

function gpteText(v: number): string {
  const f: string[] = [];
  if (v & PTE_P) f.push('P');
  if (v & PTE_RW) f.push('W');
  if (v & PTE_US) f.push('U');
  if (v & PTE_A) f.push('A');
  if (v & PTE_D) f.push('D');
  if (v & PTE_PS) f.push('PS');
  return f.length === 0 ? 'not present' : f.join(' ');
}

export interface TranslationView {
  lines: string[];
  json: Record<string, unknown>;
}

export function translateGva(vm: Vm, gva: number): TranslationView {
  gva >>>= 0;
  const lines: string[] = [];
  const json: Record<string, unknown> = { gva };
  const row = (label: string, text: string): void => {
    lines.push(`  ${label.padEnd(10)}  ${text}`);
  };
  const v = vm.vcpus[0]!;
  const cpu = v.cpu;
  lines.push(`translate ${hex(gva)} on vcpu0 at t=${cpu.vtime()} (CR0 ${hex(cpu.cr0)}, CR3 ${hex(cpu.cr3)}, CR4 ${hex(cpu.cr4)})`);
  row('GVA', hex(gva));

  // ---- the guest's walk ------------------------------------------------------------------------
  let gpa: number;
  const done = (): TranslationView => ({ lines, json });
  if (!(cpu.cr0 & CR0_PG)) {
    gpa = gva;
    row('guest walk', 'paging off: GPA = GVA');
    json.paging = false;
  } else {
    json.paging = true;
    // The shared side-effect-free walk; `at` collects the guest-physical addresses of the entries
    // it read, in order (the PDE, then the PTE unless the PDE was the leaf or was not readable).
    const at: number[] = [];
    const walk = peekGuestWalk(cpu.cr0, cpu.cr3, cpu.cr4, gva, (a) => {
      at.push(a);
      return vm.guestMem.peekGpa32(a);
    });
    const pdeGpa = at[0]!;
    const pde = walk.pde;
    if (pde === null) {
      row('guest PDE', `[${gva >>> 22}] @ gpa ${hex(pdeGpa)}: its page is swapped out on the host (not read, to change nothing)`);
      json.pde = { gpa: pdeGpa, resident: false };
      return done();
    }
    row('guest PDE', `[${gva >>> 22}] @ gpa ${hex(pdeGpa)} = ${hex(pde)} (${gpteText(pde)})`);
    json.pde = { gpa: pdeGpa, value: pde >>> 0 };
    if (!(pde & PTE_P)) {
      row('result', 'the guest has no mapping here: an access raises #PF in the guest');
      return done();
    }
    if (at.length === 1) {
      gpa = walk.gpa!;
      row('guest PTE', '(4 MiB page: the PDE is the leaf)');
    } else {
      const pteGpa = at[1]!;
      const pte = walk.pte;
      if (pte === null) {
        row('guest PTE', `[${(gva >>> 12) & 0x3ff}] @ gpa ${hex(pteGpa)}: its page is swapped out on the host (not read)`);
        json.pte = { gpa: pteGpa, resident: false };
        return done();
      }
      row('guest PTE', `[${(gva >>> 12) & 0x3ff}] @ gpa ${hex(pteGpa)} = ${hex(pte)} (${gpteText(pte)})`);
      json.pte = { gpa: pteGpa, value: pte >>> 0 };
      if (!(pte & PTE_P)) {
        row('result', 'the guest has no mapping here: an access raises #PF in the guest');
        return done();
      }
      gpa = walk.gpa!;
    }
  }
  const gfn = gpa >>> 12;
  row('GPA', `${hex(gpa)} (gfn ${hex(gfn, 0)})`);
  json.gpa = gpa;
  json.gfn = gfn;

  // ---- memslot and the host ----------------------------------------------------------------------
  const slot = vm.memslots.find(gfn);
  if (slot === null) {
    row('memslot', 'none: not guest RAM (MMIO: reads all ones, writes dropped)');
    return done();
  }
  row('memslot', `${slot.id}: gfn ${hex(slot.baseGfn, 0)}-${hex(slot.baseGfn + slot.npages - 1, 0)} -> hva ${hex(slot.hva)}`);
  const hva = (slot.gfnToHva(gfn) + (gpa & 0xfff)) >>> 0;
  row('HVA', hex(hva));
  json.memslot = slot.id;
  json.hva = hva;
  const hpte = vm.mm.pt.get(hva >>> 12);
  let frame = -1;
  if (ptePresent(hpte)) {
    frame = pteFrame(hpte);
    const bits = [hpte & PTE_WRITE ? 'writable' : 'read-only', hpte & PTE_YOUNG ? 'young' : 'old', hpte & PTE_DIRTY ? 'dirty' : 'clean'];
    row('host PTE', `present: frame ${frame} (${bits.join(', ')})`);
    json.host_pte = { state: 'present', frame, writable: (hpte & PTE_WRITE) !== 0 };
  } else if (pteIsSwap(hpte)) {
    row('host PTE', `swap entry: slot ${pteSwapSlot(hpte)} (swapped out; the next access faults it back in)`);
    json.host_pte = { state: 'swapped', slot: pteSwapSlot(hpte) };
  } else {
    row('host PTE', 'none: never touched (or discarded); the next access zero-fills it');
    json.host_pte = { state: 'none' };
  }
  if (frame >= 0) {
    const hpa = frame * 4096 + (gpa & 0xfff);
    row('HPA', `${hex(hpa)} (host frame ${frame})`);
    json.hpa = hpa;
    json.frame = frame;
  }

  // ---- the shadow MMU and the TLB --------------------------------------------------------------
  const root = v.vmmu.root;
  let spteText = 'no shadow root loaded';
  const spteJson: Record<string, unknown> = { present: false };
  if (root !== null) {
    const spde = root.spt[gva >>> 22]!;
    if (!(spde & SPTE_P)) spteText = `not present (shadow root sp ${root.id}: PDE slot ${gva >>> 22} empty); the next access faults into KVM`;
    else if (!(spde & SPTE_NONLEAF)) spteText = 'unexpected leaf in the root';
    else {
      const sp = vm.mmu.pages[spde >>> 12];
      const idx = (gva >>> 12) & 1023;
      const spte = sp === null || sp === undefined ? 0 : sp.spt[idx]!;
      if (sp === null || sp === undefined || !(spte & SPTE_P)) {
        spteText = `not present (sp ${spde >>> 12}[${hex(idx, 3)}]); the next access faults into KVM`;
      } else if (spte & SPTE_MMIO) {
        spteText = `MMIO spte (sp ${sp.id}[${hex(idx, 3)}])`;
      } else {
        const sf = spte >>> 12;
        const agree = sf === frame ? 'agrees with the host PTE' : `DIFFERS from the host PTE (${frame < 0 ? 'not mapped' : `frame ${frame}`})`;
        const live = vm.host.frameGen[sf] === sp.gens[idx] ? '' : ', frame generation changed: stale';
        const stale = spte & SPTE_STALE ? ', flagged stale by the detector' : '';
        spteText = `sp ${sp.id}[${hex(idx, 3)}] = ${hex(spte)}: frame ${sf} (${spteFlagsText(spte & 0xfff)}), ${agree}${live}${stale}`;
        Object.assign(spteJson, { present: true, sp: sp.id, index: idx, value: spte >>> 0, frame: sf, agrees: sf === frame });
      }
    }
  }
  if (vm.tdp !== null) {
    // --mmu tdp: no shadow root; the processor walks the guest tables itself and the entry that
    // matters is the gpa->hpa leaf of the gfn.
    const e = vm.tdp.entry(gfn);
    const tdpJson: Record<string, unknown> = { present: false };
    let text = `none for gfn ${hex(gfn, 0)}; the next access is an EPT violation (exit to KVM)`;
    if (e & SPTE_P) {
      const tf = e >>> 12;
      const agree = tf === frame ? 'agrees with the host PTE' : `DIFFERS from the host PTE (${frame < 0 ? 'not mapped' : `frame ${frame}`})`;
      const live = vm.host.frameGen[tf] === vm.tdp.gen(gfn) ? '' : ', frame generation changed: stale';
      const stale = e & SPTE_STALE ? ', flagged stale by the detector' : '';
      text = `gfn ${hex(gfn, 0)} = ${hex(e)}: frame ${tf} (${spteFlagsText(e & 0xfff)}), ${agree}${live}${stale}`;
      Object.assign(tdpJson, { present: true, gfn, value: e >>> 0, frame: tf, agrees: tf === frame });
    }
    row('tdp leaf', text);
    json.tdp = tdpJson;
  } else {
    row('spte', spteText);
    json.spte = spteJson;
  }
  const tlb = cpu.tlb;
  const vpn = gva >>> 12;
  const i = vpn & TLB_MASK;
  if (tlb.tagSR[i] === vpn) {
    const tf = tlb.off[i]! >>> 12;
    const perms = [tlb.tagSW[i] === vpn ? 'write' : 'read-only', tlb.tagUR[i] === vpn ? 'user' : 'kernel'].join(', ');
    row('TLB', `vcpu0 holds ${hex(vpn << 12)} -> frame ${tf} (${perms})`);
    json.tlb = { held: true, frame: tf };
  } else {
    row('TLB', `no entry in vcpu0 (the next access walks ${vm.tdp !== null ? 'the guest tables and the tdp table' : 'the shadow tables'})`);
    json.tlb = { held: false };
  }
  return done();
}
