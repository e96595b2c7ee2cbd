// One address space: its vmas, host page table, lifetimes and notifier subscriptions. Mirrors
// struct mm_struct: mm_users (tasks/gup users; exit_mmap at 0) and mm_count (mmgrab holders such
// as notifier subscriptions; the struct outlives exit_mmap until it drops to 0).

import { PageTable } from './page-table.js';
import type { Srcu } from './srcu.js';
import type { Vma } from './vma.js';
import type { MmuNotifierSubscriptions } from './mmu-notifier.js';

export class Mm {
  readonly pt = new PageTable();
  vmas: Vma[] = [];
  /** mm_users: 0 means exit_mmap ran (or is running). */
  users = 1;
  /** mm_count: references to the struct itself (mmgrab/mmdrop). */
  count = 1;
  /** Set once exit_mmap started; faults and gup fail with -EFAULT afterwards. */
  dead = false;
  oomKilled = false;
  /** Nesting depth of mm operations in progress (the OOM killer skips busy victims). */
  busy = 0;
  /** Present ptes (MM_ANONPAGES + MM_SHMEMPAGES). */
  rss = 0;
  /** Swap ptes (MM_SWAPENTS). */
  swapEnts = 0;
  notifierSubscriptions: MmuNotifierSubscriptions | null = null;
  /** What the process's open files do when it exits, after exit_mmap (a VM fd: kvm_destroy_vm). */
  onExit: (() => void) | null = null;
  /** MMF_HAS_PINNED: a long-term pin was ever taken; fork then copies possibly pinned pages. */
  hasPinned = false;

  constructor(
    readonly id: number,
    /** The host's SRCU domain (the kernel's global notifier srcu). */
    readonly srcu: Srcu,
  ) {}
}

export function mmgrab(mm: Mm): void {
  mm.count++;
}

export function mmdrop(mm: Mm): void {
  if (mm.count <= 0) throw new Error(`mmdrop: mm ${mm.id} count already ${mm.count}`);
  mm.count--;
}
