// Invariant checks of the TDP MMU against the host (reference/kvm-mmu.md §7), as check.ts does
// for shadow paging: 1 (leaf ⊆ host PTE outside an invalidation window), 4 (no leaf maps a freed
// frame), 8 (pins only in pin mode) and the TLB half of 2 (every cached translation is what the
// gpa->hpa leaf of its gfn maps, writable only if the leaf is).

import { TLB_SIZE } from '../../cpu/tlb.js';

import type { Vm } from '../vm.js';
import { SPTE_PINNED, SPTE_W } from '../shadow/spte.js';

export function checkTdpInvariants(vm: Vm, hostCoherence: boolean, fail: (n: number, msg: string) => never): void {
  const tdp = vm.tdp;
  if (tdp === null) return;
  const { host, mm, inv } = vm;
  let leaves = 0;
  for (const [gfn, spte, gen] of tdp.presentLeaves()) {
    leaves++;
    const frame = spte >>> 12;
    const slot = vm.memslots.find(gfn);
    if (slot === null) fail(22, `tdp leaf for gfn ${gfn} outside every memslot`);
    if (vm.mode === 'pin' && !(spte & SPTE_PINNED)) fail(8, `pin mode tdp leaf for gfn ${gfn} holds no page reference`);
    if (vm.mode !== 'pin' && spte & SPTE_PINNED) fail(8, `tdp leaf for gfn ${gfn} holds a page reference outside pin mode`);
    if (hostCoherence) {
      const inWindow = inv.inProgress > 0 && gfn >= inv.rangeStart && gfn < inv.rangeEnd;
      if (!inWindow) {
        const hva = slot.gfnToHva(gfn);
        const hostFrame = host.frameAt(mm, hva);
        if (hostFrame !== frame) fail(1, `tdp leaf for gfn ${gfn} maps frame ${frame} but the host PTE maps ${hostFrame}`);
        if (spte & SPTE_W && !host.pteWritable(mm, hva)) fail(1, `tdp leaf for gfn ${gfn} is writable but the host PTE is not`);
      }
    }
    if (vm.mode !== 'none' && host.frameGen[frame] !== gen) {
      fail(4, `tdp leaf for gfn ${gfn} maps frame ${frame}, which was freed since (generation ${gen} -> ${host.frameGen[frame]})`);
    }
  }
  if (leaves !== tdp.leaves) fail(14, `tdp counts ${tdp.leaves} leaves, has ${leaves}`);
  for (const v of vm.vcpus) {
    const t = v.tdpMmu;
    if (t === null) fail(2, `vcpu ${v.index} has no 2-D walker under --mmu tdp`);
    const tlb = v.cpu.tlb;
    for (let i = 0; i < TLB_SIZE; i++) {
      const vpn = tlb.tagSR[i]!;
      if (vpn === -1) continue;
      const page = tlb.off[i]! >>> 12;
      const gfn = t.tlbGfn[i]!;
      const spte = gfn < 0 ? 0 : tdp.entry(gfn);
      if (!(spte & 1) || spte >>> 12 !== page) {
        fail(2, `vcpu ${v.index} TLB maps lin 0x${((vpn << 12) >>> 0).toString(16)} to page ${page}, the tdp leaf of gfn ${gfn} does not`);
      }
      if (tlb.tagSW[i] !== -1 && !(spte & SPTE_W)) fail(2, `vcpu ${v.index} TLB may write lin 0x${((vpn << 12) >>> 0).toString(16)} but its tdp leaf is read-only`);
    }
  }
}


