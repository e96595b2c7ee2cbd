// The event kinds of the trace ring and what their numeric fields mean: the one table the
// emitters (hv/, sim/), `shadowvisor trace` and the visualizer agree on. Mirrors the role of the
// kernel's tracepoint definitions (include/trace/events/kvm.h, kvmmmu.h): a name, named fields.
// Every event carries a kind, a sequence number, virtual time, a vCPU (or HOST) and 5 numbers.

/** vcpu value of events emitted from host context (notifier callbacks, reclaim, ksmd). */
export const HOST = -1;

// ---- kinds ------------------------------------------------------------------------------------
/** A vCPU exited to the hypervisor on a shadow miss. gva, access (ACC_*), eip. */
export const EV_FAULT = 1;
/** The guest walk failed: #PF injected. gva, error code. */
export const EV_GUEST_PF = 2;
/** The guest walk succeeded. gva, gfn, effective access (GUEST_ACC_W|GUEST_ACC_U), leaf gpte, level. */
export const EV_WALK = 3;
/** gfn -> hva -> host frame. gfn, hva, frame (or -errno), write, how (GUP_*). */
export const EV_GUP = 4;
/** The fault was dropped and the access will re-execute. gva, gfn, cause (RETRY_*), seq sampled, seq now. */
export const EV_RETRY = 5;
/** A leaf spte was installed. gva, gfn, frame, spte ref (spId*1024+index), spte flags. */
export const EV_SPTE_SET = 6;
/** A gfn outside every memslot got an MMIO spte. gva, gfn. */
export const EV_MMIO = 7;
/** A guest store to a write-tracked page table. gfn, offset, bytes, shadow pages zapped whole, sptes dropped. */
export const EV_EMULATED_PT_WRITE = 8;
/** invalidate_range_start. mmu event (MMU_NOTIFY_*), hva start, hva end, gfn start, gfn end (-1: no memslot). */
export const EV_INV_START = 9;
/** A leaf spte torn down. gfn, frame, cause (ZAP_*), spte ref, gva (or -1 when unknown). */
export const EV_SPTE_ZAP = 10;
/** TLBs emptied. vCPUs flushed, cause (FLUSH_*). */
export const EV_TLB_FLUSH = 11;
/** invalidate_range_end. new mmu_invalidate_seq, hva start, hva end, host page now (HOSTPAGE_*), frame now. */
export const EV_INV_END = 12;
/** Aging through the notifier. hva start, hva end, young, op (AGE_*). */
export const EV_AGE = 13;
/** The VM process's mm is going away (mmu_notifier release). */
export const EV_RELEASE = 14;
/** The stale-access detector caught an access. gva, gfn, frame, write. */
export const EV_STALE = 15;
/** A host task of the simulation ran a step. task (TASK_*). */
export const EV_HOST_TASK = 16;
/** change_pte. hva, new frame, writable. */
export const EV_CHANGE_PTE = 17;
/** The stale detector saw an invalidation leave an spte behind (KVM was not told, or did not
 *  zap). gfn, frame the spte maps, host frame now (-1: none), hva, what (UNSEEN_*). */
export const EV_UNSEEN = 18;
/** A TLB miss under TDP: the two-dimensional walk. gva, gfn it reached (-1: none), guest entries
 *  read (PDE/PTE), gpa->hpa entries read, gfn of the EPT violation that ended it (-1: none). */
export const EV_TDP_WALK = 19;

export const EVENT_NAMES: readonly string[] = [
  '?', 'FAULT', 'GUEST_PF', 'WALK', 'GUP', 'RETRY', 'SPTE_SET', 'MMIO', 'EMULATED_PT_WRITE', 'INV_START',
  'SPTE_ZAP', 'TLB_FLUSH', 'INV_END', 'AGE', 'RELEASE', 'STALE', 'HOST_TASK', 'CHANGE_PTE', 'UNSEEN',
  'TDP_WALK',
];

/** EV_UNSEEN: the host replaced or dropped the page / took write access away. */
export const UNSEEN_REPLACED = 1;
export const UNSEEN_WRITE_PROTECTED = 2;
/** The host unmapped the page (swap entry) but the frame is still in the swap cache. */
export const UNSEEN_UNMAPPED = 3;
export const UNSEEN_NAMES: readonly string[] = ['?', 'replaced or dropped', 'write-protected', 'unmapped, in swap cache'];

/** Names of the 5 numeric fields per kind ('' = unused), as --json prints them. */
export const EVENT_FIELDS: readonly (readonly string[])[] = [
  [],
  ['gva', 'access', 'eip'],
  ['gva', 'error_code'],
  ['gva', 'gfn', 'access', 'gpte', 'level'],
  ['gfn', 'hva', 'frame', 'write', 'how'],
  ['gva', 'gfn', 'cause', 'seq_sampled', 'seq'],
  ['gva', 'gfn', 'frame', 'spte_ref', 'flags'],
  ['gva', 'gfn'],
  ['gfn', 'offset', 'bytes', 'pages_zapped', 'sptes_dropped'],
  ['mmu_event', 'hva_start', 'hva_end', 'gfn_start', 'gfn_end'],
  ['gfn', 'frame', 'cause', 'spte_ref', 'gva'],
  ['vcpus', 'cause'],
  ['seq', 'hva_start', 'hva_end', 'host_page', 'frame'],
  ['hva_start', 'hva_end', 'young', 'op'],
  [],
  ['gva', 'gfn', 'frame', 'write'],
  ['task'],
  ['hva', 'frame', 'writable'],
  ['gfn', 'frame', 'host_frame', 'hva', 'what'],
  ['gva', 'gfn', 'guest_refs', 'tdp_refs', 'exit_gfn'],
];

// ---- field codes ------------------------------------------------------------------------------
/** GUP how: what the host had to do to produce the frame. */
export const GUP_PRESENT = 0;
export const GUP_ZERO_FILL = 1;
export const GUP_SWAP_IN = 2;
export const GUP_SWAP_CACHE = 3;
export const GUP_COW_BREAK = 4;
export const GUP_FAILED = 5;
export const GUP_NAMES: readonly string[] = ['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'failed'];

/** RETRY causes (the first two are invalidate.ts's RETRY_IN_PROGRESS / RETRY_SEQ). */
export const RETRY_CAUSE_IN_PROGRESS = 1;
export const RETRY_CAUSE_SEQ = 2;
export const RETRY_CAUSE_UNSAFE = 3;
export const RETRY_CAUSE_GPTE = 4;
/** The memslot the fault started with was deleted or moved meanwhile (KVM: the root became obsolete). */
export const RETRY_CAUSE_MEMSLOT = 5;
export const RETRY_NAMES: readonly string[] = ['?', 'in-progress', 'seq', 'unsafe', 'gpte-changed', 'memslot-changed'];

/** SPTE_ZAP causes. */
export const ZAP_OTHER = 0;
export const ZAP_INVALIDATION = 1;
export const ZAP_PTE_WRITE = 2;
export const ZAP_RECYCLE = 3;
export const ZAP_RELEASE = 4;
export const ZAP_MEMSLOT = 5;
export const ZAP_FLOOD = 6;
export const ZAP_REPLACE = 7;
export const ZAP_CHANGE_PTE = 8;
export const ZAP_NAMES: readonly string[] = [
  'other', 'invalidation', 'pte-write', 'recycle', 'release', 'memslot', 'flooded', 'replaced', 'change-pte',
];

/** TLB_FLUSH causes: a remote flush of every vCPU (kvm_flush_remote_tlbs), or a vCPU's own. */
export const FLUSH_REMOTE = 0;
export const FLUSH_CR3 = 1;
export const FLUSH_MODE = 2;
export const FLUSH_NAMES: readonly string[] = ['remote', 'cr3-write', 'paging-mode'];

/** INV_END: what the host has at the range's first page once the operation is done. */
export const HOSTPAGE_NONE = 0;
export const HOSTPAGE_PRESENT = 1;
export const HOSTPAGE_READONLY = 2;
export const HOSTPAGE_SWAPPED = 3;
export const HOSTPAGE_MULTI = 4;
export const HOSTPAGE_NAMES: readonly string[] = ['unmapped', 'mapped', 'mapped read-only', 'swapped out', 'range'];

/** AGE ops. */
export const AGE_CLEAR_FLUSH = 0;
export const AGE_CLEAR = 1;
export const AGE_TEST = 2;
export const AGE_NAMES: readonly string[] = ['clear_flush_young', 'clear_young', 'test_young'];

/** HOST_TASK tasks. */
export const TASK_KSWAPD = 0;
export const TASK_KSMD = 1;
export const TASK_NAMES: readonly string[] = ['kswapd', 'ksmd'];
