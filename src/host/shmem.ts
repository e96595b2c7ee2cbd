// The backing object of a MAP_SHARED|MAP_ANONYMOUS mapping: a page cache of frames indexed by
// page offset, shared by every vma (in every forked mm) that maps it. Mirrors shmem's
// address_space (the cache holds one reference per page). Shmem pages are unevictable here:
// shmem swap is not modelled, so reclaim never picks them.

export class ShmemObject {
  /** Frame per page index, or -1 when the page was never touched. */
  readonly pages: Int32Array;
  /** Number of vmas mapping this object; the cache is freed when it drops to zero. */
  mapCount = 0;
  constructor(public readonly nrPages: number) {
    this.pages = new Int32Array(nrPages).fill(-1);
  }
}
