// The named places where the simulation may preempt a host mm operation or a vCPU fault: the
// explorer's choice points inside an operation (reference/kvm-mmu.md §1.6, §3). The host calls
// Host.preempt(point, ...) at the first five; the shadow fault path yields the last three.
// Labels are plain strings so traces and schedules stay readable; the union type makes a typo
// a compile error.

/** invalidate_range_start returned: secondary MMUs have zapped, the window is open. */
export const PP_AFTER_START = 'after-start';
/** The primary PTE is cleared (or rewritten); the old frame may still be alive. */
export const PP_AFTER_CLEAR = 'after-clear';
/** About to call invalidate_range_end. */
export const PP_BEFORE_END = 'before-end';
/** invalidate_range_end ran; the gathered frames are about to be freed (tlb_finish_mmu, __remove_mapping). */
export const PP_BEFORE_FREE = 'before-free';
/** exit_mmap: mmu_notifier_release ran, the unmap of everything follows. */
export const PP_AFTER_RELEASE = 'after-release';
/** Fault path: mmu_invalidate_seq sampled, gup not yet done. */
export const PP_AFTER_SEQ = 'after-seq';
/** Fault path: gup returned a frame with a reference held. */
export const PP_AFTER_GUP = 'after-gup';
/** Fault path: about to take mmu_lock and check for a stale fault. */
export const PP_BEFORE_LOCK = 'before-lock';

export type HostPreemptPoint =
  | typeof PP_AFTER_START
  | typeof PP_AFTER_CLEAR
  | typeof PP_BEFORE_END
  | typeof PP_BEFORE_FREE
  | typeof PP_AFTER_RELEASE;

export type FaultPreemptPoint = typeof PP_AFTER_SEQ | typeof PP_AFTER_GUP | typeof PP_BEFORE_LOCK;

export type PreemptPoint = HostPreemptPoint | FaultPreemptPoint;

/** Every point, in the order an operation meets them (host points, then fault points). */
export const PREEMPT_POINTS: readonly PreemptPoint[] = [
  PP_AFTER_START, PP_AFTER_CLEAR, PP_BEFORE_END, PP_BEFORE_FREE, PP_AFTER_RELEASE,
  PP_AFTER_SEQ, PP_AFTER_GUP, PP_BEFORE_LOCK,
];
