// The role of a shadow page (KVM's `union kvm_mmu_page_role`): what a shadow page's sptes mean.
// Two guest tables at the same gfn get different shadow pages when their roles differ, e.g. one
// guest page used both as a page directory and as a page table, or walked with CR0.WP 0 and 1.

/** 2 = shadows a guest page directory (or the nonpaging root); 1 = shadows a page table. */
export const ROLE_LEVEL_MASK = 0x3;
/** Direct: maps a contiguous gfn range (guest 4 MiB page, or paging off), shadows no guest table. */
export const ROLE_DIRECT = 0x4;
/** Guest CR0.WP when the page was built: supervisor writes to read-only gptes differ. */
export const ROLE_CR0_WP = 0x8;
/** Guest CR4.PSE when the page was built: a PDE with PS means a 4 MiB page only with PSE. */
export const ROLE_PSE = 0x10;
/** Direct pages carry the guest access of the large page they map (GUEST_ACC_* << 5). */
export const ROLE_ACCESS_SHIFT = 5;
/** Zapped while still in use as a root: vCPUs must reload (KVM's role.invalid). */
export const ROLE_INVALID = 0x100;

/** The effective guest access of a walk (over every level, after protect_clean_gpte), as the
 *  shadow MMU records it: not the Cpu's access-kind bits (ports.ts ACC_WRITE / ACC_USER), which
 *  describe one access and have other values. */
export const GUEST_ACC_W = 1;
export const GUEST_ACC_U = 2;
export const GUEST_ACC_ALL = GUEST_ACC_W | GUEST_ACC_U;

export function roleLevel(role: number): number {
  return role & ROLE_LEVEL_MASK;
}

export function isDirect(role: number): boolean {
  return (role & ROLE_DIRECT) !== 0;
}

/** The part of a role that must match for a shadow page to be reused. */
export function roleKey(role: number): number {
  return role & ~ROLE_INVALID;
}
