// Memory slots (KVM_SET_USER_MEMORY_REGION): guest-physical frame ranges backed by host virtual
// addresses of the VM process. Each slot also holds the rmap heads for its gfns (KVM keeps
// rmaps in the memslot too, `slot->arch.rmap`), so deleting a slot drops its rmap with it.
//
// Two gfns may alias one hva (two slots over the same host range) but an hva maps to at most one
// gfn per slot: an hva invalidation must therefore visit every slot (kvm_for_each_memslot_in_hva_range).

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

export class Memslot {
  /** rmap[gfn - baseGfn]: refs (shadow/rmap.ts spteRef) of the leaf sptes mapping that gfn. */
  readonly rmap: (number[] | undefined)[];
  /** Count of valid indirect shadow pages shadowing each gfn (KVM's write-tracking count). */
  readonly writeTrack: Uint16Array;

  constructor(
    readonly id: number,
    readonly baseGfn: number,
    readonly npages: number,
    readonly hva: number,
  ) {
    this.rmap = new Array(npages);
    this.writeTrack = new Uint16Array(npages);
  }

  containsGfn(gfn: number): boolean {
    return gfn >= this.baseGfn && gfn < this.baseGfn + this.npages;
  }

  gfnToHva(gfn: number): number {
    return this.hva + (gfn - this.baseGfn) * PAGE_SIZE;
  }

  get hvaEnd(): number {
    return this.hva + this.npages * PAGE_SIZE;
  }
}

export class Memslots {
  readonly slots: Memslot[] = [];
  private last: Memslot | null = null;

  add(id: number, baseGfn: number, npages: number, hva: number): Memslot {
    if (npages <= 0) throw new RangeError('memslot: empty slot');
    for (const s of this.slots) {
      if (s.id === id) throw new RangeError(`memslot ${id} exists`);
      if (baseGfn < s.baseGfn + s.npages && s.baseGfn < baseGfn + npages)
        throw new RangeError(`memslot ${id} overlaps slot ${s.id}`);
    }
    const slot = new Memslot(id, baseGfn, npages, hva);
    this.slots.push(slot);
    return slot;
  }

  remove(id: number): Memslot | undefined {
    const i = this.slots.findIndex((s) => s.id === id);
    if (i < 0) return undefined;
    const [slot] = this.slots.splice(i, 1);
    if (this.last === slot) this.last = null;
    return slot;
  }

  /** gfn -> slot (KVM's gfn_to_memslot, with the same one-entry "last used" cache). */
  find(gfn: number): Memslot | null {
    const last = this.last;
    if (last !== null && last.containsGfn(gfn)) return last;
    for (const s of this.slots) {
      if (s.containsGfn(gfn)) {
        this.last = s;
        return s;
      }
    }
    return null;
  }

  /**
   * Visit each slot intersecting host range [start, end) with the gfn range it covers there
   * (KVM's __kvm_handle_hva_range clipping: gfn_end rounds the last partial page up).
   */
  forEachGfnRangeInHva(start: number, end: number, fn: (slot: Memslot, gfnStart: number, gfnEnd: number) => void): void {
    for (const s of this.slots) {
      const hs = Math.max(start, s.hva);
      const he = Math.min(end, s.hvaEnd);
      if (hs >= he) continue;
      const gfnStart = s.baseGfn + Math.floor((hs - s.hva) / PAGE_SIZE);
      const gfnEnd = s.baseGfn + Math.floor((he - s.hva + PAGE_SIZE - 1) / PAGE_SIZE);
      fn(s, gfnStart, gfnEnd);
    }
  }
}
