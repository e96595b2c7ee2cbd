// The guest page-table walk done in software by the hypervisor (KVM's FNAME(walk_addr_generic)
// in paging_tmpl.h, for 2-level 32-bit guests): reads guest PDE/PTE through guest memory (which
// may fault the host: swap-in), computes the effective access over both levels, raises the
// guest's #PF error code, and sets A (every level) and D (leaf, on writes) like hardware would.

import { CR0_PG, CR0_WP, CR4_PSE, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW as PTE_W, PTE_US as PTE_U } from '../../cpu/paging.js';
import { GUEST_ACC_U, GUEST_ACC_W } from './role.js';

/** Guest-physical memory as the hypervisor sees it: through memslots and the host mm. */
export interface GuestPhysMemory {
  /** 32-bit read at a 4-aligned gpa; may fault the host in. All ones outside every memslot. */
  readGpa32(gpa: number): number;
  /** 32-bit write (guest A/D updates); dropped outside every memslot. */
  writeGpa32(gpa: number, value: number): void;
  /** Read without faulting the host (KVM's kvm_vcpu_read_guest_atomic); null if not resident. */
  peekGpa32(gpa: number): number | null;
}


export const PFERR_PRESENT = 1;
export const PFERR_WRITE = 2;
export const PFERR_USER = 4;

export class GuestWalker {
  /** Translated gfn of the access. */
  gfn = 0;
  /** Effective guest access (GUEST_ACC_W | GUEST_ACC_U), after protect_clean_gpte. */
  access = 0;
  /** Leaf level: 1 = 4 KiB PTE, 2 = 4 MiB PDE, 0 = paging off. */
  level = 0;
  /** gfn of the guest page directory and (level 1 only) page table walked. */
  pdGfn = 0;
  ptGfn = 0;
  /** The gptes read (after A/D update) and their guest-physical addresses, for gpte_changed. */
  pde = 0;
  pte = 0;
  pdeGpa = 0;
  pteGpa = 0;
  /** #PF error code when the walk fails. */
  errorCode = 0;

  /**
   * Walk `lin` for an access (write/user). Returns true with gfn/access filled, or false with
   * errorCode set (the caller injects #PF with CR2 = lin).
   */
  walk(mem: GuestPhysMemory, cr0: number, cr3: number, cr4: number, lin: number, write: boolean, user: boolean): boolean {
    const paging = (cr0 & CR0_PG) !== 0;
    if (!paging) {
      this.level = 0;
      this.gfn = lin >>> 12;
      this.access = GUEST_ACC_W | GUEST_ACC_U;
      return true;
    }
    const wp = (cr0 & CR0_WP) !== 0;
    const pse = (cr4 & CR4_PSE) !== 0;
    const errBase = (write ? PFERR_WRITE : 0) | (user ? PFERR_USER : 0);
    this.pdGfn = cr3 >>> 12;
    this.pdeGpa = ((cr3 & 0xfffff000) + ((lin >>> 22) << 2)) >>> 0;
    let pde = mem.readGpa32(this.pdeGpa);
    if (!(pde & PTE_P)) return this.fail(errBase);
    let pte = 0;
    let leaf: number;
    if (pse && pde & PTE_PS) {
      this.level = 2;
      leaf = pde;
      this.gfn = ((pde >>> 12) & 0xffc00) | ((lin >>> 12) & 0x3ff);
    } else {
      this.level = 1;
      // The PDE is used to find the PTE, so the processor sets its A bit now, even if the PTE
      // then turns out not present or denies the access (the native walker and QEMU do).
      if (!(pde & PTE_A)) {
        pde |= PTE_A;
        mem.writeGpa32(this.pdeGpa, pde);
      }
      this.ptGfn = pde >>> 12;
      this.pteGpa = ((pde & 0xfffff000) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      pte = mem.readGpa32(this.pteGpa);
      if (!(pte & PTE_P)) return this.fail(errBase);
      leaf = pte;
      this.gfn = pte >>> 12;
    }
    const u = (pde & (this.level === 1 ? pte : pde) & PTE_U) !== 0;
    const w = (pde & (this.level === 1 ? pte : pde) & PTE_W) !== 0;
    if (user && !u) return this.fail(errBase | PFERR_PRESENT);
    if (write && !w && (user || wp)) return this.fail(errBase | PFERR_PRESENT);

    // update_accessed_dirty_bits: A on every level, D on the leaf for a write.
    if (!(pde & PTE_A) || (this.level === 2 && write && !(pde & PTE_D))) {
      pde |= PTE_A;
      if (this.level === 2 && write) pde |= PTE_D;
      mem.writeGpa32(this.pdeGpa, pde);
    }
    if (this.level === 1 && (!(pte & PTE_A) || (write && !(pte & PTE_D)))) {
      pte |= PTE_A;
      if (write) pte |= PTE_D;
      mem.writeGpa32(this.pteGpa, pte);
      leaf = pte;
    } else if (this.level === 2) {
      leaf = pde;
    }
    this.pde = pde;
    this.pte = pte;

    let access = (u ? GUEST_ACC_U : 0) | (w ? GUEST_ACC_W : 0);
    // CR0.WP=0: a supervisor may write a read-only page. The spte is made writable but
    // supervisor-only, so a later user access faults back here (KVM does the same).
    if (write && !user && !w && !wp) access = GUEST_ACC_W;
    // protect_clean_gpte: a clean leaf gets a read-only spte so the first write faults and sets D.
    if (!write && !(leaf & PTE_D)) access &= ~GUEST_ACC_W;
    this.access = access;
    return true;
  }

  private fail(code: number): boolean {
    this.errorCode = code;
    return false;
  }

  /** FNAME(gpte_changed): re-read the walked gptes without faulting; true if any differs. */
  changed(mem: GuestPhysMemory): boolean {
    if (this.level === 0) return false;
    const pde = mem.peekGpa32(this.pdeGpa);
    if (pde !== this.pde) return true;
    if (this.level === 1) return mem.peekGpa32(this.pteGpa) !== this.pte;
    return false;
  }
}
