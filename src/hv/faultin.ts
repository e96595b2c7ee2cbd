// The host half of a KVM page fault, shared by the shadow (shadow/page-fault.ts) and the TDP
// (tdp/tdp-fault.ts) fault paths, as KVM shares kvm_faultin_pfn between its MMUs: sample
// mmu_invalidate_seq, the lockless pre-check (mmu_invalidate_retry_gfn_unsafe), gup
// (__kvm_faultin_pfn), and after taking mmu_lock the staleness test (is_page_fault_stale:
// mmu_invalidate_retry_gfn, or a memslot/root that went away meanwhile).
//
// Invariant: faultinPfn returns FAULTIN_HELD with a page reference on fi.frame and no yield
// left before the caller's own try/finally takes it over; on every other way out (a retry, an
// EFAULT, or the caller's generator abandoned at one of the yields: return() runs the finally
// below) no reference is held.

import type { FaultPreemptPoint } from '../host/preempt-points.js';
import { PP_AFTER_GUP, PP_AFTER_SEQ, PP_BEFORE_LOCK } from '../host/preempt-points.js';
import type { EventRing } from '../obs/event-ring.js';
import { EV_GUP, EV_RETRY, GUP_FAILED, RETRY_CAUSE_MEMSLOT, RETRY_CAUSE_UNSAFE } from '../obs/events.js';
import type { HvInject } from './inject.js';
import { RETRY_IN_PROGRESS, type InvalidateState } from './invalidate.js';
import type { KvmStats } from './stats.js';

export const FAULT_FIXED = 0;
export const FAULT_RETRY = 1;
export const FAULT_GUEST = 2;
export const FAULT_EFAULT = 3;
/** faultinPfn's "go on": the frame is held and the caller now holds mmu_lock. */
export const FAULTIN_HELD = -1;

/** What faultin needs of the VM (a subset of FaultVm). */
export interface FaultinVm {
  readonly stats: KvmStats;
  readonly inv: InvalidateState;
  readonly inject: HvInject;
  gup(hva: number, write: boolean): number;
  hostPteWritable(hva: number, frame: number): boolean;
  putPage(frame: number): void;
  frameGen(frame: number): number;
  readonly lastGupHow?: number;
}

/** The frame faultinPfn got, and what the caller needs to build its entry. */
export interface Faultin {
  seq: number;
  frame: number;
  hostWritable: boolean;
  gen: number;
}

/** Where the event ring's RETRY/GUP events of this fault go. */
export interface FaultSite {
  ring: EventRing | null;
  vc: number;
  lin: number;
}

/**
 * Samples the sequence, pre-checks, gups hva and yields at the three preemption points KVM has.
 * Returns FAULTIN_HELD (fi filled, a reference on fi.frame), FAULT_RETRY or FAULT_EFAULT
 * (out.errno set).
 */
export function* faultinPfn(
  vm: FaultinVm,
  gfn: number,
  hva: number,
  write: boolean,
  fi: Faultin,
  out: { errno: number },
  site: FaultSite,
): Generator<FaultPreemptPoint, number, void> {
  const { stats } = vm;
  const { ring, vc, lin } = site;
  const seq = vm.inv.seq;
  fi.seq = seq;
  yield PP_AFTER_SEQ;
  if (vm.inv.retryGfnUnsafe(seq, gfn) !== 0) {
    stats.pf_retry_unsafe++;
    if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, RETRY_CAUSE_UNSAFE, seq, vm.inv.seq);
    return FAULT_RETRY;
  }
  // A read fault still maps writable when the host PTE already is (hva_to_pfn's fast path);
  // a write fault asks gup for write access, which breaks COW and swaps in as needed.
  const frame = vm.gup(hva, write);
  if (ring !== null) ring.emit(EV_GUP, vc, gfn, hva, frame, write ? 1 : 0, frame < 0 ? GUP_FAILED : (vm.lastGupHow ?? 0));
  if (frame < 0) {
    out.errno = frame;
    stats.pf_efault++;
    return FAULT_EFAULT;
  }
  let handed = false;
  try {
    fi.frame = frame;
    fi.hostWritable = write || vm.hostPteWritable(hva, frame);
    fi.gen = vm.frameGen(frame);
    yield PP_AFTER_GUP;
    yield PP_BEFORE_LOCK;
    handed = true;
    return FAULTIN_HELD;
  } finally {
    if (!handed) vm.putPage(frame);
  }
}

/**
 * Under mmu_lock: true (and the RETRY counted and traced) when the fault is stale: an
 * invalidation ran or is running over gfn since the sample, or the memslot (TDP: the root) the
 * fault began under went away (`slotGone`, computed by the caller).
 */
export function staleUnderLock(vm: FaultinVm, seq: number, gfn: number, slotGone: boolean, site: FaultSite): boolean {
  const { stats } = vm;
  const { ring, vc, lin } = site;
  const cause = vm.inject.noRetryCheck ? 0 : vm.inv.retryGfn(seq, gfn);
  if (cause !== 0) {
    if (cause === RETRY_IN_PROGRESS) stats.pf_retry_in_progress++;
    else stats.pf_retry_seq++;
    if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, cause, seq, vm.inv.seq);
    return true;
  }
  if (slotGone) {
    // KVM's memslot update zapped every root (kvm_mmu_zap_all_fast): is_page_fault_stale finds
    // the fault's root obsolete and it retries.
    stats.pf_retry_memslot++;
    if (ring !== null) ring.emit(EV_RETRY, vc, lin >>> 0, gfn, RETRY_CAUSE_MEMSLOT, seq, vm.inv.seq);
    return true;
  }
  return false;
}
