// Shadow PTE encoding (KVM's u64 spte, shrunk to 32 bits for a 2-level guest).
// A leaf spte is `hostFrame << 12 | flags`; a non-leaf spte is `childShadowPageId << 12 | flags`.
// Non-leaf sptes are fully permissive (P|W|U): the leaf carries the effective access of the whole
// guest walk, as KVM's `pte_access` does, so one leaf check decides every access. All flags live
// in the low 12 bits; every one of them is in use.

/** Present (hardware bit). */
export const SPTE_P = 0x001;
/** Writable now (hardware bit). Clear while the gfn is write-tracked or the guest PTE is clean. */
export const SPTE_W = 0x002;
/** User accessible (hardware bit). */
export const SPTE_U = 0x004;
/** Accessed, set by the (simulated) hardware walker; harvested by clear_young / zap. */
export const SPTE_A = 0x020;
/** Dirty, set by a write through the spte; pushed into the host frame's dirty bit on zap. */
export const SPTE_D = 0x040;
/** Software: the guest's own walk allows this write (gpte W everywhere, leaf D set) — the
 *  spte lacks W only because KVM write-protects the gfn (`shadow_mmu_writable_mask`). */
export const SPTE_MMU_WRITABLE = 0x100;
/** Software: the host PTE was writable when the frame was faulted in (`shadow_host_writable_mask`). */
export const SPTE_HOST_WRITABLE = 0x200;
/** Software: the gfn has no memslot: reads give all ones, writes are dropped (KVM's MMIO spte). */
export const SPTE_MMIO = 0x400;
/** Software (pin mode only): this spte owns one host page reference, dropped when it is zapped. */
export const SPTE_PINNED = 0x800;
/** Detector: the host replaced or dropped the page this spte maps; every access is stale. */
export const SPTE_STALE = 0x008;
/** Detector: the host write-protected the page (COW, mprotect, KSM); writes are stale. */
export const SPTE_STALE_WRITE = 0x010;
/** Software: a non-leaf spte (points at a child shadow page, not a host frame). */
export const SPTE_NONLEAF = 0x080;

export const SPTE_FRAME_SHIFT = 12;

export function spteFrame(spte: number): number {
  return spte >>> SPTE_FRAME_SHIFT;
}

export function isLeafSpte(spte: number): boolean {
  return (spte & (SPTE_P | SPTE_NONLEAF)) === SPTE_P;
}
