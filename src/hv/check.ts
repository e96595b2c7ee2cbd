// Invariant checks of the hypervisor's state against the host's (reference/kvm-mmu.md §7),
// TigerBeetle style: they state what must hold after every step and throw loudly when it does
// not. Run by tests after every simulated step and by `--check` runs at VM exit; cost nothing
// when not called.

import { TLB_SIZE } from '../cpu/tlb.js';
import { PTE_P, PTE_PS } from '../cpu/paging.js';
import type { Vm } from './vm.js';
import { checkTdpInvariants } from './tdp/tdp-check.js';
import { isDirect, roleLevel, ROLE_PSE } from './shadow/role.js';
import { refIndex, refPage, rmapOf, spteRef } from './shadow/rmap.js';
import { SPTE_MMIO, SPTE_NONLEAF, SPTE_P, SPTE_PINNED, SPTE_W } from './shadow/spte.js';

export class InvariantError extends Error {
  constructor(
    readonly invariant: number,
    message: string,
  ) {
    super(`invariant ${invariant}: ${message}`);
    this.name = 'InvariantError';
  }
}

function fail(n: number, msg: string): never {
  throw new InvariantError(n, msg);
}

/**
 * Invariant 1 (spte ⊆ host PTE), 10 (shadowed guest tables are not writable through any spte),
 * 14 (rmap and parent links mirror the sptes exactly), 5 (sequence counters sane), and the TLB
 * half of 2/4 (every cached translation is backed by a present spte mapping the same frame).
 * Invariant 1 is the notifier's promise: in `pin` mode the host may unmap a pinned frame (it then
 * sits in the swap cache, alive), so only invariant 4 (never a freed frame) is checked; in `none`
 * mode both are expected to break — that is the point of the mode.
 */
export function checkVmInvariants(vm: Vm, opts: { hostCoherence?: boolean } = {}): void {
  const { mmu, host, mm, inv } = vm;
  const hostCoherence = opts.hostCoherence ?? vm.mode === 'notifier';
  if (inv.inProgress < 0) fail(5, `inProgress ${inv.inProgress} < 0`);
  if (inv.activeInvalidateCount < 0) fail(5, `activeInvalidateCount ${inv.activeInvalidateCount} < 0`);
  if (vm.tdp !== null) {
    // No guest table is shadowed under TDP: the gpa->hpa table and the TLBs are all there is.
    checkTdpInvariants(vm, hostCoherence, fail);
    return;
  }

  let rmapEntries = 0;
  for (const slot of vm.memslots.slots) for (const refs of slot.rmap) if (refs !== undefined) rmapEntries += refs.length;

  let leaves = 0;
  const parentSeen = new Map<number, number[]>();
  for (const sp of mmu.validPages()) {
    let present = 0;
    for (let i = 0; i < 1024; i++) {
      const spte = sp.spt[i]!;
      if (!(spte & SPTE_P)) continue;
      present++;
      if (spte & SPTE_NONLEAF) {
        const child = mmu.pages[spte >>> 12];
        if (child === null || child === undefined) fail(14, `sp ${sp.id}[${i}] links to freed sp ${spte >>> 12}`);
        let l = parentSeen.get(child.id);
        if (l === undefined) parentSeen.set(child.id, (l = []));
        l.push(spteRef(sp.id, i));
        if (!isDirect(sp.role)) {
          // Invariant 11 one level up: the link follows what the guest's PDE says now.
          const gpde = vm.guestMem.peekGpa32(sp.gfn * 4096 + i * 4);
          if (gpde !== null) {
            const large = (gpde & PTE_PS) !== 0 && (sp.role & ROLE_PSE) !== 0;
            const want = large ? (gpde >>> 12) & ~0x3ff : gpde >>> 12;
            if (!(gpde & PTE_P) || child.gfn !== want || isDirect(child.role) !== large) {
              fail(11, `sp ${sp.id}[${i}] links to sp ${child.id} (gfn ${child.gfn}) but the guest PDE now says 0x${(gpde >>> 0).toString(16)}`);
            }
          }
        }
        continue;
      }
      if (spte & SPTE_MMIO) continue;
      leaves++;
      const gfn = sp.gfns[i]!;
      const frame = spte >>> 12;
      const slot = vm.memslots.find(gfn);
      if (slot === null) fail(14, `sp ${sp.id}[${i}] maps gfn ${gfn} outside every memslot`);
      const refs = rmapOf(slot, gfn);
      const ref = spteRef(sp.id, i);
      if (refs === undefined || refs.indexOf(ref) < 0) fail(14, `spte ${ref} (gfn ${gfn}) missing from the rmap`);
      if (refs.indexOf(ref) !== refs.lastIndexOf(ref)) fail(14, `spte ${ref} is in the rmap twice`);
      if (isDirect(sp.role)) {
        if (gfn !== sp.gfn + i) fail(14, `direct sp ${sp.id}[${i}] maps gfn ${gfn}, expected ${sp.gfn + i}`);
      } else if (roleLevel(sp.role) === 1) {
        // Invariant 11: the spte is what the guest's PTE says now (every gpte write is trapped).
        const gpte = vm.guestMem.peekGpa32(sp.gfn * 4096 + i * 4);
        if (gpte !== null && (!(gpte & PTE_P) || gpte >>> 12 !== gfn)) {
          fail(11, `sp ${sp.id}[${i}] maps gfn ${gfn} but the guest PTE now says 0x${(gpte >>> 0).toString(16)}`);
        }
      }
      if (spte & SPTE_W && mmu.isWriteTracked(gfn)) fail(10, `gfn ${gfn} is a shadowed guest table but sp ${sp.id}[${i}] maps it writable`);
      if (vm.mode === 'pin' && !(spte & SPTE_PINNED)) fail(8, `pin mode spte ${ref} holds no page reference`);
      if (vm.mode !== 'pin' && spte & SPTE_PINNED) fail(8, `spte ${ref} holds a page reference outside pin mode`);
      if (hostCoherence) {
        const hva = slot.gfnToHva(gfn);
        const inWindow = inv.inProgress > 0 && gfn >= inv.rangeStart && gfn < inv.rangeEnd;
        if (!inWindow) {
          const hostFrame = host.frameAt(mm, hva);
          if (hostFrame !== frame) fail(1, `spte for gfn ${gfn} maps frame ${frame} but the host PTE maps ${hostFrame}`);
          if (spte & SPTE_W && !host.pteWritable(mm, hva)) fail(1, `spte for gfn ${gfn} is writable but the host PTE is not`);
        }
      }
      if (vm.mode !== 'none' && host.frameGen[frame] !== sp.gens[i]) {
        fail(4, `spte for gfn ${gfn} maps frame ${frame}, which was freed since (generation ${sp.gens[i]} -> ${host.frameGen[frame]})`);
      }
    }
    if (present !== sp.presentCount) fail(14, `sp ${sp.id} counts ${sp.presentCount} present sptes, has ${present}`);
  }
  if (leaves !== rmapEntries) fail(14, `${leaves} present leaf sptes but ${rmapEntries} rmap entries`);
  for (const sp of mmu.validPages()) {
    const seen = (parentSeen.get(sp.id) ?? []).sort((a, b) => a - b);
    const have = [...sp.parentPtes].sort((a, b) => a - b);
    if (seen.length !== have.length || seen.some((v, k) => v !== have[k])) {
      fail(14, `sp ${sp.id} parentPtes [${have}] but linked from [${seen}]`);
    }
  }

  // Every TLB entry must be what a shadow walk gives now (flushes cannot have been missed).
  for (const v of vm.vcpus) {
    const tlb = v.cpu.tlb;
    for (let i = 0; i < TLB_SIZE; i++) {
      const vpn = tlb.tagSR[i]!;
      if (vpn === -1) continue;
      const lin = vpn << 12;
      const root = v.vmmu.root;
      const page = tlb.off[i]! >>> 12;
      if (root === null || !root.valid) fail(2, `vcpu ${v.index} TLB maps ${lin >>> 0} with no valid root`);
      const ref = v.vmmu.leafRef(lin);
      const sp = ref < 0 ? null : mmu.pages[refPage(ref)];
      const spte = sp ? sp.spt[refIndex(ref)]! : 0;
      if (!(spte & SPTE_P) || spte >>> 12 !== page) {
        fail(2, `vcpu ${v.index} TLB maps lin 0x${(lin >>> 0).toString(16)} to page ${page}, no spte does`);
      }
      if (tlb.tagSW[i] !== -1 && !(spte & SPTE_W)) fail(2, `vcpu ${v.index} TLB may write lin 0x${(lin >>> 0).toString(16)} but its spte is read-only`);
    }
  }
}
