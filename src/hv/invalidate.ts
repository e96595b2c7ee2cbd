// The VM-wide invalidation state KVM keeps for its mmu_notifier (struct kvm:
// mmu_invalidate_seq / _in_progress / _range_start / _range_end) and the retry predicates the
// fault path uses (mmu_invalidate_retry_gfn and its lockless _unsafe twin).
//
// The protocol, as a step table (V = vCPU fault, M = host mm operation on the same page):
//   V: seq0 = seq            M: start  -> inProgress++, range grows, sptes zapped, TLBs flushed
//   V: gup() -> frame P      M: PTE cleared, P on its way to being freed or replaced
//   V: lock; retry?          M: end    -> seq++, then inProgress--
// V may commit its spte only if, under mmu_lock, no invalidation covering its gfn is in progress
// AND seq still equals seq0. The first catches V between M's start and end; the second catches a
// whole start..end that ran between V's sample and V's lock. seq is bumped at end (not start) so
// an invalidation that started before V sampled but clears the PTE after V's gup is still seen
// through inProgress until it ends, and through seq afterwards.

import { HvInject } from './inject.js';

/** KVM's INVALID_GPA for the range: "no range recorded yet". */
const INVALID = -1;

export class InvalidateState {
  /** Bumped once at every invalidate_range_end that reached a memslot. */
  seq = 0;
  /** Invalidations between begin and end; nesting allowed. */
  inProgress = 0;
  /** Union of the gfn ranges of in-flight invalidations [rangeStart, rangeEnd). */
  rangeStart = INVALID;
  rangeEnd = INVALID;
  /** start..end calls in flight, memslot hit or not (mn_active_invalidate_count). */
  activeInvalidateCount = 0;

  constructor(readonly inject: HvInject = new HvInject()) {}

  /** kvm_mmu_invalidate_begin: called under mmu_lock on the first memslot the range hits. */
  begin(): void {
    if (this.inject.seqBumpedAtStart) this.seq++;
    this.inProgress++;
    if (this.inProgress === 1) {
      this.rangeStart = INVALID;
      this.rangeEnd = INVALID;
    }
  }

  /** kvm_mmu_invalidate_range_add: widen the recorded range to cover [gfnStart, gfnEnd). */
  rangeAdd(gfnStart: number, gfnEnd: number): void {
    if (this.rangeStart === INVALID) {
      this.rangeStart = gfnStart;
      this.rangeEnd = gfnEnd;
    } else {
      this.rangeStart = Math.min(this.rangeStart, gfnStart);
      this.rangeEnd = Math.max(this.rangeEnd, gfnEnd);
    }
  }

  /** kvm_mmu_invalidate_end: seq first, then the count (readers that see 0 also see the new seq). */
  end(): void {
    if (!this.inject.seqBumpedAtStart) this.seq++;
    this.inProgress--;
    if (this.inProgress < 0) throw new Error('invalidate: mmu_invalidate_in_progress went negative');
  }

  /** mmu_invalidate_retry_gfn, with mmu_lock held. Returns the cause, or 0 when the fault may commit. */
  retryGfn(seqSample: number, gfn: number): number {
    if (this.inProgress > 0 && !this.inject.noInProgressCheck) {
      // An in-progress invalidation with no range yet (a 0->1 begin before range_add) must retry.
      if (this.rangeStart === INVALID) return RETRY_IN_PROGRESS;
      if (gfn >= this.rangeStart && gfn < this.rangeEnd) return RETRY_IN_PROGRESS;
    }
    return this.seq !== seqSample ? RETRY_SEQ : 0;
  }

  /** The lockless pre-check: may say retry when a locked check would not, and the reverse. */
  retryGfnUnsafe(seqSample: number, gfn: number): number {
    // The seq-bumped-at-start injection models the fault path from before this pre-check
    // existed: in a sequentially consistent simulator the pre-check alone would mask that bug.
    if (this.inject.seqBumpedAtStart) return 0;
    if (this.inProgress > 0 && this.rangeStart !== INVALID && gfn >= this.rangeStart && gfn < this.rangeEnd &&
      !this.inject.noInProgressCheck) return RETRY_IN_PROGRESS;
    return this.seq !== seqSample ? RETRY_SEQ : 0;
  }
}

export const RETRY_IN_PROGRESS = 1;
export const RETRY_SEQ = 2;
