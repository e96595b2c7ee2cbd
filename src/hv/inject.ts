// The hypervisor's bug-injection switches: each one removes or moves one rule of the
// mmu_notifier protocol (reference/kvm-mmu.md §1.3–§1.8) so the schedule explorer can show what
// the rule is for. Plain booleans, all false unless `--inject NAME` sets one (the catalogue of
// names, kinds and the kernel rule each breaks is src/sim/explore/bugs.ts). They are read only on
// slow paths (fault commit, notifier callbacks, memslot updates), never per instruction or per
// TLB hit, so a VM without injections pays nothing for them.

export class HvInject {
  /** Fault path commits without mmu_invalidate_retry_gfn (the §1.6 race). */
  noRetryCheck = false;
  /** The retry predicates ignore mmu_invalidate_in_progress and look only at the sequence. */
  noInProgressCheck = false;
  /** mmu_invalidate_seq is bumped in invalidate_range_start instead of _end. */
  seqBumpedAtStart = false;
  /** invalidate_range_start opens the window but zaps nothing. */
  noZapInStart = false;
  /** The zap moves from invalidate_range_start to _end, after the host cleared (and may have freed) the page. */
  lateZap = false;
  /** kvm_flush_remote_tlbs is skipped after a notifier zap: other vCPUs keep cached translations. */
  noRemoteTlbFlush = false;
  /** ->release (exit_mmap) does not zap the shadow MMU. */
  releaseNoZap = false;
  /** Pin mode: the fault drops its page reference although the spte is marked pinned. */
  pinDropsRefEarly = false;
  /** Memslot updates run at once even between an invalidation's start and end. */
  memslotDeleteNotDeferred = false;
  /** clear_flush_young reports "not young" without looking at spte accessed bits. */
  clearFlushYoungIgnoresSpteAccessed = false;
  /** Control (not a bug): change_pte outside start/end re-points the spte in place and bumps the
   *  sequence, as KVM did from 2009 until change_pte was moved inside start/end in 2012. */
  changePteInPlace = false;
}
