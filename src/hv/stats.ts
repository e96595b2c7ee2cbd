// Counters with KVM's names (vcpu->stat and kvm->stat) plus simulator-only ones. Plain numbers:
// incremented on slow paths only, read by --stats, benchmarks and tests.

export class KvmStats {
  // vcpu-side (summed over vCPUs)
  pf_taken = 0;
  pf_fixed = 0;
  pf_guest = 0;
  pf_spurious = 0;
  pf_emulate = 0;
  pf_mmio_spte_created = 0;
  pf_efault = 0;
  /** RET_PF_RETRY by cause: an invalidation in progress over the gfn, or seq moved since sampled. */
  pf_retry_in_progress = 0;
  pf_retry_seq = 0;
  pf_retry_unsafe = 0;
  pf_retry_gpte_changed = 0;
  /** The fault's memslot was deleted or moved between gup and mmu_lock. */
  pf_retry_memslot = 0;
  invlpg = 0;
  tlb_flush = 0;
  // vm-side
  remote_tlb_flush = 0;
  mmu_pte_write = 0;
  mmu_flooded = 0;
  mmu_shadow_zapped = 0;
  mmu_cache_miss = 0;
  mmu_recycled = 0;
  mmu_pde_zapped = 0;
  max_mmu_rmap_size = 0;
  shadow_pages = 0;
  sptes_present = 0;
  // notifier side
  invalidations = 0;
  sptes_zapped_by_invalidation = 0;
  max_sptes_zapped_per_invalidation = 0;
  notifier_calls: Record<string, number> = {};
  age_young = 0;
  // detector
  stale_accesses = 0;
  // pin mode
  pinned_pages = 0;

  countCall(name: string): void {
    this.notifier_calls[name] = (this.notifier_calls[name] ?? 0) + 1;
  }
}
