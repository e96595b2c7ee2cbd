// The TDP fault path (KVM's kvm_tdp_page_fault -> kvm_tdp_mmu_map): an EPT violation on gfn is
// resolved by the same protocol as a shadow fault (shadow/page-fault.ts), minus the guest walk,
// which the hardware already did:
//
//   step                        KVM                                  here
//   sample seq                  fault->mmu_seq = mmu_invalidate_seq  seq = inv.seq   (yield)
//   lockless pre-check          mmu_invalidate_retry_gfn_unsafe      retryGfnUnsafe
//   gfn -> hva -> frame         __kvm_faultin_pfn (gup)              vm.gup          (yield x2)
// (those three steps and the stale test are hv/faultin.ts, shared with the shadow fault path)
//   under mmu_lock: stale?      is_page_fault_stale                  retryGfn / memslot moved -> RETRY
//   set the leaf                tdp_mmu_map_handle_target_level      tdp.setLeaf
//   drop the gup reference      kvm_release_faultin_page             putPage (not in pin mode)
// KVM takes mmu_lock for read here (TDP faults run in parallel); with one step at a time the
// difference is not observable. A RETRY leaves no leaf: the access re-executes and faults again.

import type { Cpu } from '../../cpu/cpu.js';
import { EV_FAULT, EV_RETRY, EV_SPTE_SET, RETRY_CAUSE_MEMSLOT } from '../../obs/events.js';
import type { FaultPreemptPoint } from '../../host/preempt-points.js';
import { FAULT_FIXED, FAULT_RETRY, FAULTIN_HELD, faultinPfn, staleUnderLock, type Faultin, type FaultSite } from '../faultin.js';
import type { FaultResult, FaultVm } from '../shadow/page-fault.js';
import { SPTE_PINNED, SPTE_W } from '../shadow/spte.js';
import { TDP_LEAF_REF, TdpMmu } from './tdp-mmu.js';
import type { TdpVcpuMmu } from './tdp-vcpu.js';

/** The VM-wide pieces the TDP fault path needs (FaultVm plus the TDP MMU). */
export interface TdpFaultVm extends FaultVm {
  readonly tdp: TdpMmu | null;
}

export function* tdpPageFault(
  vm: TdpFaultVm,
  cpu: Cpu,
  vmmu: TdpVcpuMmu,
  gfn: number,
  write: boolean,
  out: FaultResult,
): Generator<FaultPreemptPoint, number, void> {
  const tdp = vmmu.mmu;
  const stats = vm.stats;
  const ring = tdp.ring;
  const vc = vmmu.index;
  const lin = cpu.exitLin;
  stats.pf_taken++;
  if (ring !== null) ring.emit(EV_FAULT, vc, lin >>> 0, cpu.exitAcc, cpu.eip >>> 0);
  out.gfn = gfn;
  const slot = vm.memslots.find(gfn);
  if (slot === null) {
    // The slot went away between the violation and now (a memslot update): the walker will
    // see the gfn as unbacked on the re-executed access.
    stats.pf_retry_memslot++;
    if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, RETRY_CAUSE_MEMSLOT, vm.inv.seq, vm.inv.seq);
    return FAULT_RETRY;
  }
  const hva = slot.gfnToHva(gfn);
  out.hva = hva;
  const rootGeneration = tdp.rootGeneration;

  const site: FaultSite = { ring, vc, lin };
  const fi: Faultin = { seq: 0, frame: -1, hostWritable: false, gen: 0 };
  const got = yield* faultinPfn(vm, gfn, hva, write, fi, out, site);
  if (got !== FAULTIN_HELD) return got;
  const { seq, frame, hostWritable, gen } = fi;
  let keepRef = false;
  try {
    // ---- mmu_lock held from here: nothing below yields or calls into the host mm ----
    // is_page_fault_stale also finds the fault stale when the root it began under is obsolete
    // (a memslot update retired it).
    if (staleUnderLock(vm, seq, gfn, vm.memslots.find(gfn) !== slot || tdp.rootGeneration !== rootGeneration, site)) return FAULT_RETRY;
    const pinned = vm.mode === 'pin';
    let flags = TdpMmu.leafFlags(hostWritable, write);
    if (pinned) flags |= SPTE_PINNED;
    if (tdp.setLeaf(gfn, frame, gen, flags)) tdp.vcpus.flushRemoteTlbs();
    if (ring !== null) ring.emit(EV_SPTE_SET, vc, lin >>> 0, gfn, frame, TDP_LEAF_REF, tdp.entry(gfn) & 0xfff);
    // kvm_release_faultin_page(dirty = writable): a frame mapped writable may be written.
    if (flags & SPTE_W) vm.markPageDirty(frame);
    keepRef = pinned && !vm.inject.pinDropsRefEarly;
    stats.pf_fixed++;
    return FAULT_FIXED;
  } finally {
    if (!keepRef) vm.putPage(frame);
  }
}
