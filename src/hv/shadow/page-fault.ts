// The shadow-paging fault path (KVM's kvm_mmu_page_fault -> FNAME(page_fault) -> FNAME(fetch)),
// written as a generator so the deterministic scheduler can preempt it exactly where KVM can be:
// after sampling the invalidation sequence, after gup, and before taking mmu_lock.
//
//   step                        KVM                                  here
//   guest walk, A/D bits        FNAME(walk_addr)                     GuestWalker.walk
//   sample seq                  fault->mmu_seq = mmu_invalidate_seq  seq = inv.seq   (yield)
//   lockless pre-check          mmu_invalidate_retry_gfn_unsafe      retryGfnUnsafe
//   gfn -> hva -> frame         __kvm_faultin_pfn (gup)              host.gup        (yield x2)
// (those three steps and the stale test are hv/faultin.ts, shared with the TDP fault path)
//   under mmu_lock: stale?      is_page_fault_stale                  retryGfn -> RETRY, put frame
//   build path, set spte        FNAME(fetch), mmu_set_spte           fetch()
//   drop the gup reference      kvm_release_faultin_page             putPage (not in pin mode)
// A RETRY leaves no spte: the guest re-executes the access and faults again.

import type { Cpu } from '../../cpu/cpu.js';
import { CR0_WP, CR4_PSE, EXC_PF } from '../../cpu/paging.js';
import { PP_AFTER_GUP, PP_AFTER_SEQ, PP_BEFORE_LOCK, type FaultPreemptPoint } from '../../host/preempt-points.js';
import { ACC_USER, ACC_WRITE } from '../../cpu/ports.js';
import {
  EV_FAULT,
  EV_GUEST_PF,
  EV_MMIO,
  EV_RETRY,
  EV_SPTE_SET,
  EV_WALK,
  RETRY_CAUSE_GPTE,
} from '../../obs/events.js';
import { FAULT_FIXED, FAULT_GUEST, FAULT_RETRY, FAULTIN_HELD, faultinPfn, staleUnderLock, type Faultin, type FaultSite } from '../faultin.js';
import type { HvInject } from '../inject.js';
import type { InvalidateState } from '../invalidate.js';
import type { Memslots } from '../memslots.js';
import type { KvmStats } from '../stats.js';
import type { GuestPhysMemory, GuestWalker } from './guest-walk.js';
import { ShadowMmu } from './mmu.js';
import { spteRef } from './rmap.js';
import { GUEST_ACC_U, GUEST_ACC_W, ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_PSE } from './role.js';
import { SPTE_PINNED, SPTE_W } from './spte.js';
import type { ShadowVcpuMmu } from './vcpu-mmu.js';

export { FAULT_EFAULT, FAULT_FIXED, FAULT_GUEST, FAULT_RETRY } from '../faultin.js';

export type MemoryMode = 'notifier' | 'pin' | 'none';
/** Every MemoryMode, in the order the CLI, the benchmarks and their reports list them. */
export const MEMORY_MODES: readonly MemoryMode[] = ['notifier', 'pin', 'none'];

/** The VM-wide pieces the fault path needs. */
export interface FaultVm {
  readonly mmu: ShadowMmu;
  readonly stats: KvmStats;
  readonly inv: InvalidateState;
  readonly memslots: Memslots;
  readonly guestMem: GuestPhysMemory;
  readonly mode: MemoryMode;
  /** Bug-injection switches (all off unless the explorer's --inject sets one). */
  readonly inject: HvInject;
  /** gup on the VM process's mm: a frame number with a reference taken, or a negative errno. */
  gup(hva: number, write: boolean): number;
  /** Whether the host PTE for hva currently maps `frame` writable (map_writable for read faults). */
  hostPteWritable(hva: number, frame: number): boolean;
  putPage(frame: number): void;
  markPageDirty(frame: number): void;
  frameGen(frame: number): number;
  /** A gfn outside every memslot was accessed (logged at debug level). */
  noteUnbacked(gfn: number): void;
  /** What the last gup had to do (GUP_*), recorded only while tracing. */
  readonly lastGupHow?: number;
}

/** Labels of the preemption points, in order (named in host/preempt-points.ts). */
export const YIELD_AFTER_SEQ = PP_AFTER_SEQ;
export const YIELD_AFTER_GUP = PP_AFTER_GUP;
export const YIELD_BEFORE_LOCK = PP_BEFORE_LOCK;

/** Details of the last EFAULT, for the VMM's error message. */
export interface FaultResult {
  gfn: number;
  hva: number;
  errno: number;
}

export function* pageFault(
  vm: FaultVm,
  cpu: Cpu,
  vmmu: ShadowVcpuMmu,
  walker: GuestWalker,
  lin: number,
  acc: number,
  out: FaultResult,
): Generator<FaultPreemptPoint, number, void> {
  const stats = vm.stats;
  const ring = vm.mmu.ring;
  const vc = vmmu.index;
  stats.pf_taken++;
  const write = (acc & ACC_WRITE) !== 0;
  const user = (acc & ACC_USER) !== 0;
  if (ring !== null) ring.emit(EV_FAULT, vc, lin >>> 0, acc, cpu.eip >>> 0);
  if (!walker.walk(vm.guestMem, cpu.cr0, cpu.cr3, cpu.cr4, lin, write, user)) {
    stats.pf_guest++;
    if (ring !== null) ring.emit(EV_GUEST_PF, vc, lin >>> 0, walker.errorCode);
    cpu.injectException(EXC_PF, walker.errorCode, lin);
    return FAULT_GUEST;
  }
  const gfn = walker.gfn;
  out.gfn = gfn;
  if (ring !== null) ring.emit(EV_WALK, vc, lin >>> 0, gfn, walker.access, (walker.level === 2 ? walker.pde : walker.pte) >>> 0, walker.level);
  const slot = vm.memslots.find(gfn);
  if (slot === null) {
    // No memslot: KVM installs an MMIO spte and exits to userspace; our "userspace" answers all ones.
    vm.noteUnbacked(gfn);
    vmmu.loadRoot(cpu);
    const sp = fetchPath(vm, cpu, vmmu, walker, lin);
    if (sp === null) {
      if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, RETRY_CAUSE_GPTE, vm.inv.seq, vm.inv.seq);
      stats.pf_retry_gpte_changed++;
      return FAULT_RETRY;
    }
    vm.mmu.setMmio(sp, (lin >>> 12) & 1023, gfn, walker.access);
    if (ring !== null) ring.emit(EV_MMIO, vc, lin >>> 0, gfn);
    return FAULT_FIXED;
  }
  const hva = slot.gfnToHva(gfn);
  out.hva = hva;

  const site: FaultSite = { ring, vc, lin };
  const fi: Faultin = { seq: 0, frame: -1, hostWritable: false, gen: 0 };
  const got = yield* faultinPfn(vm, gfn, hva, write, fi, out, site);
  if (got !== FAULTIN_HELD) return got;
  const { seq, frame, hostWritable, gen } = fi;
  // From here the fault holds a page reference. It is dropped on every way out, including a
  // fault abandoned mid-way (the VM stopped or its vCPU was torn down: generator return()).
  let keepRef = false;
  try {
    // ---- mmu_lock held from here: nothing below yields or calls into the host mm ----
    let result = FAULT_FIXED;
    if (staleUnderLock(vm, seq, gfn, vm.memslots.find(gfn) !== slot, site)) {
      result = FAULT_RETRY;
    } else {
      vm.mmu.makePagesAvailable();
      vmmu.loadRoot(cpu);
      const sp = fetchPath(vm, cpu, vmmu, walker, lin);
      if (sp === null) {
        stats.pf_retry_gpte_changed++;
        if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, RETRY_CAUSE_GPTE, seq, vm.inv.seq);
        result = FAULT_RETRY;
      } else {
        const tracked = vm.mmu.isWriteTracked(gfn);
        const pinned = vm.mode === 'pin';
        let flags = ShadowMmu.leafFlags(
          (walker.access & GUEST_ACC_W) !== 0,
          (walker.access & GUEST_ACC_U) !== 0,
          hostWritable,
          tracked,
          write,
        );
        if (pinned) flags |= SPTE_PINNED;
        const idx = (lin >>> 12) & 1023;
        if (vm.mmu.setLeaf(sp, idx, slot, gfn, frame, gen, flags)) vm.mmu.vcpus.flushRemoteTlbs();
        if (ring !== null) ring.emit(EV_SPTE_SET, vc, lin >>> 0, gfn, frame, spteRef(sp.id, idx), sp.spt[idx]! & 0xfff);
        cpu.tlb.flushPage(lin);
        // kvm_release_faultin_page(dirty = writable): a frame mapped writable may be written.
        if (flags & SPTE_W) vm.markPageDirty(frame);
        keepRef = pinned && !vm.inject.pinDropsRefEarly;
        stats.pf_fixed++;
      }
    }
    return result;
  } finally {
    if (!keepRef) vm.putPage(frame);
  }
}

/**
 * FNAME(fetch) down to the leaf's shadow page: find or create the level-1 shadow page for the
 * walk and link it under the root. Returns null when a gpte changed since the walk (the new
 * shadow page write-protected the table only now, so the walk must be redone).
 */
function fetchPath(vm: FaultVm, cpu: Cpu, vmmu: ShadowVcpuMmu, walker: GuestWalker, lin: number): ReturnType<ShadowMmu['get']> | null {
  const root = vmmu.root;
  if (root === null) return null;
  const mode = (cpu.cr0 & CR0_WP ? ROLE_CR0_WP : 0) | (cpu.cr4 & CR4_PSE ? ROLE_PSE : 0);
  let child;
  if (walker.level === 1) {
    child = vm.mmu.get(walker.ptGfn, 1 | mode);
  } else {
    // Paging off, or a guest 4 MiB page: a direct page maps the 1024 gfns of the region with the
    // access of the guest's large page (after protect_clean_gpte).
    const base = walker.level === 0 ? (lin >>> 22) << 10 : walker.gfn & ~0x3ff;
    child = vm.mmu.get(base, 1 | ROLE_DIRECT | mode | (walker.access << ROLE_ACCESS_SHIFT));
  }
  if (!root.valid || !child.valid) return null;
  if (walker.changed(vm.guestMem)) return null;
  root.writeFloodingCount = 0;
  child.writeFloodingCount = 0;
  if (vm.mmu.link(root, lin >>> 22, child)) vm.mmu.vcpus.flushRemoteTlbs();
  return child;
}
