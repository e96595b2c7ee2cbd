// A shadow page (KVM's struct kvm_mmu_page): 1024 sptes shadowing one guest table (or a direct
// 4 MiB region), the reverse information needed to undo each spte, and its links to parents.
// Geometry matches the 2-level guest exactly, so one guest table is one shadow page (no quadrants).

export class ShadowPage {
  readonly spt = new Uint32Array(1024);
  /** Host frame generation recorded when each leaf spte was made (the stale-access detector). */
  readonly gens = new Int32Array(1024);
  /** For each present leaf spte, the gfn it maps (KVM's shadowed_translation). */
  readonly gfns = new Int32Array(1024);
  /** Non-leaf sptes pointing at this page, as spte refs (rmap.ts spteRef; KVM's parent_ptes). */
  parentPtes: number[] = [];
  /** How many vCPU root slots (current + cached previous roots) hold this page. */
  rootCount = 0;
  /** Emulated guest writes to this (non-leaf) table since a walk last used it. */
  writeFloodingCount = 0;
  /** Present sptes, to skip empty pages quickly. */
  presentCount = 0;
  valid = true;

  constructor(
    readonly id: number,
    readonly gfn: number,
    public role: number,
  ) {}
}
