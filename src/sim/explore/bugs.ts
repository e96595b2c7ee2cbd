// The catalogue of injectable bugs (`explore --inject NAME`, `explore --list-bugs`): each entry
// names one rule of the mmu_notifier protocol, says what breaks without it and which kernel rule
// or commit it violates, and which scenario shows it. The switches themselves are plain booleans
// on the VM (hv/inject.ts) and one host knob; this module is the only place that sets them.

import type { Host } from '../../host/host.js';
import type { HvInject } from '../../hv/inject.js';

export type BugKind = 'correctness' | 'performance' | 'control';

export interface Bug {
  name: string;
  kind: BugKind;
  /** What goes wrong, in one line. */
  what: string;
  /** The kernel rule or commit it violates. */
  rule: string;
  /** The scenario that shows it (`--inject NAME` without `--scenario` runs this one). */
  scenario: string;
  apply(inject: HvInject, host: Host): void;
}

export const BUGS: readonly Bug[] = [
  {
    name: 'no-retry-check',
    kind: 'correctness',
    what: 'the fault commits its spte without mmu_invalidate_retry_gfn: a frame gup()ed before an invalidation gets mapped after it',
    rule: 'is_page_fault_stale() -> mmu_invalidate_retry_gfn() under mmu_lock (kvm-mmu.md §1.5 step 7, §1.6)',
    scenario: 'swap-fault',
    apply: (i) => { i.noRetryCheck = true; },
  },
  {
    name: 'no-in-progress-check',
    kind: 'correctness',
    what: 'the retry predicates look only at the sequence: a fault reaching mmu_lock between start and end commits a frame the host is tearing down',
    rule: 'mmu_invalidate_retry_gfn: "if (kvm->mmu_invalidate_in_progress && gfn in range) return 1" (§1.4)',
    scenario: 'dontneed-read',
    apply: (i) => { i.noInProgressCheck = true; },
  },
  {
    name: 'seq-bumped-at-start',
    kind: 'correctness',
    what: 'mmu_invalidate_seq moves at start instead of end: a fault that sampled it inside the window and gup()ed before the pte was cleared commits after end',
    rule: 'kvm_mmu_invalidate_end: seq++ then in_progress-- (§1.4, §1.6 "seq bumped at end, not start"); modelled on the fault path before the lockless pre-check, which masks it here',
    scenario: 'swap-race',
    apply: (i) => { i.seqBumpedAtStart = true; },
  },
  {
    name: 'no-zap-in-start',
    kind: 'correctness',
    what: 'invalidate_range_start opens the window but leaves the sptes: the guest keeps using a page the host replaces or frees',
    rule: 'kvm_mmu_notifier_invalidate_range_start -> kvm_unmap_gfn_range; mmu_notifier.h: secondary mappings gone when start returns (invariant 2)',
    scenario: 'fork-write',
    apply: (i) => { i.noZapInStart = true; },
  },
  {
    name: 'late-zap',
    kind: 'correctness',
    what: 'the zap moves to invalidate_range_end, after the host cleared the pte and may have freed or replaced the page',
    rule: 'mmu_notifier contract "S before Free" (kvm-mmu.md §3): start, not end, must leave no spte; KSM replace_page and COW free the old page before end',
    scenario: 'ksm-write',
    apply: (i) => { i.lateZap = true; },
  },
  {
    name: 'no-remote-tlb-flush',
    kind: 'correctness',
    what: 'sptes are zapped but the vCPUs keep their cached translations: another vCPU reads a freed page through its TLB',
    rule: 'kvm_flush_remote_tlbs() before invalidate_range_start returns (§1.3 "flush: yes, before unlock"; invariant 15)',
    scenario: 'tlb-remote',
    apply: (i) => { i.noRemoteTlbFlush = true; },
  },
  {
    name: 'release-no-zap',
    kind: 'correctness',
    what: '->release on exit_mmap leaves every spte: the exiting process frees its pages under running vCPUs',
    rule: 'kvm_mmu_notifier_release -> kvm_flush_shadow_all; exit_mmap calls mmu_notifier_release first (§1.8, invariant 17)',
    scenario: 'release',
    apply: (i) => { i.releaseNoZap = true; },
  },
  {
    name: 'pin-drops-ref-early',
    kind: 'correctness',
    what: 'pin mode: the fault puts its gup reference although the spte is marked pinned: reclaim frees the page under the spte',
    rule: '2007 "KVM: MMU: Partial swapping of guest memory": the gfn_to_page reference lives as long as the spte (kvm-mmu.md §4)',
    scenario: 'swap-fault-pin',
    apply: (i) => { i.pinDropsRefEarly = true; },
  },
  {
    name: 'memslot-delete-not-deferred',
    kind: 'correctness',
    what: 'a memslot is deleted between an invalidation\'s start and end: end no longer finds the slot, in_progress never drops, faults retry forever',
    rule: 'kvm_swap_active_memslots waits for mn_active_invalidate_count == 0 (mn_memslots_update_rcuwait; §1.2, invariant 22)',
    scenario: 'memslot-fault',
    apply: (i) => { i.memslotDeleteNotDeferred = true; },
  },
  {
    name: 'clear-flush-young-ignores-spte-accessed',
    kind: 'performance',
    what: 'clear_flush_young answers "not young" without the spte accessed bits: reclaim evicts the guest\'s hot pages, which swap straight back in',
    rule: 'kvm_mmu_notifier_clear_flush_young -> kvm_age_gfn (§1.3); commit "kvm: Fix page ageing bugs" (A. Lagar-Cavilla)',
    scenario: 'hot-reclaim',
    apply: (i) => { i.clearFlushYoungIgnoresSpteAccessed = true; },
  },
  {
    name: 'change_pte-outside-start-end-in-place',
    kind: 'control',
    what: 'positive control, not a bug: KSM and COW call change_pte outside start/end and KVM re-points the spte in place (bumping the sequence); must find nothing, and saves refaults',
    rule: 'the 2009 KSM optimisation (set_pte_at_notify, Izik Eidus); nonfunctional since 6bdb913f0a70 (2012), removed in 6.10 (kvm-mmu.md §1.7)',
    scenario: 'ksm-write',
    apply: (i, h) => {
      i.changePteInPlace = true;
      h.changePteOutsideInvalidate = true;
    },
  },
];

export function findBug(name: string): Bug | undefined {
  return BUGS.find((b) => b.name === name);
}

/** `--list-bugs --json`: one object per line. */
export function bugJsonLines(): string[] {
  return BUGS.map((b) => JSON.stringify({ name: b.name, kind: b.kind, what: b.what, rule: b.rule, scenario: b.scenario }));
}
