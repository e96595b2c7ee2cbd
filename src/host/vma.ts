// Virtual memory areas of one mm: a sorted list of [start, end) ranges with protections and
// flags. Mirrors struct vm_area_struct (vm_flags VM_SHARED/VM_MERGEABLE, is_cow_mapping) and the
// find_vma / split_vma / vma merging done by mmap, munmap and mprotect.

import { PAGE_SHIFT, PROT_WRITE } from './constants.js';
import type { ShmemObject } from './shmem.js';

export const VM_SHARED = 1;
export const VM_MERGEABLE = 2;

export class Vma {
  constructor(
    public start: number,
    public end: number,
    public prot: number,
    public flags: number,
    /** MAP_SHARED|MAP_ANONYMOUS backing (shmem); null for private anonymous memory. */
    public shmem: ShmemObject | null,
    /** Page offset of `start` inside the shmem object. */
    public pgoff: number,
  ) {}

  get shared(): boolean {
    return (this.flags & VM_SHARED) !== 0;
  }
  get writable(): boolean {
    return (this.prot & PROT_WRITE) !== 0;
  }
  /** Private mappings may always become writable (VM_MAYWRITE), so every private vma is COW. */
  get isCowMapping(): boolean {
    return (this.flags & VM_SHARED) === 0;
  }
  /** shmem page index backing address `addr`. */
  shmemIndex(addr: number): number {
    return this.pgoff + ((addr - this.start) >>> PAGE_SHIFT);
  }
  clone(): Vma {
    return new Vma(this.start, this.end, this.prot, this.flags, this.shmem, this.pgoff);
  }
}

/** find_vma-like: the vma containing addr, or null. Linear scan is fine: mms have few vmas. */
export function findVma(vmas: readonly Vma[], addr: number): Vma | null {
  for (const v of vmas) {
    if (addr < v.start) return null;
    if (addr < v.end) return v;
  }
  return null;
}

/** Split so that no vma straddles `addr` (split_vma). */
export function splitAt(vmas: Vma[], addr: number): void {
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i];
    if (v.start < addr && addr < v.end) {
      const tail = v.clone();
      tail.start = addr;
      tail.pgoff = v.pgoff + ((addr - v.start) >>> PAGE_SHIFT);
      v.end = addr;
      if (tail.shmem !== null) tail.shmem.mapCount++;
      vmas.splice(i + 1, 0, tail);
      return;
    }
  }
}

/** Merge neighbours with identical attributes (vma_merge). */
export function mergeAdjacent(vmas: Vma[]): void {
  for (let i = 0; i + 1 < vmas.length; ) {
    const a = vmas[i];
    const b = vmas[i + 1];
    const contiguousShmem = a.shmem === b.shmem &&
      (a.shmem === null || b.pgoff === a.pgoff + ((a.end - a.start) >>> PAGE_SHIFT));
    if (a.end === b.start && a.prot === b.prot && a.flags === b.flags && contiguousShmem) {
      a.end = b.end;
      if (b.shmem !== null) b.shmem.mapCount--;
      vmas.splice(i + 1, 1);
    } else {
      i++;
    }
  }
}

export function insertVma(vmas: Vma[], vma: Vma): void {
  let i = 0;
  while (i < vmas.length && vmas[i].start < vma.start) i++;
  vmas.splice(i, 0, vma);
}
