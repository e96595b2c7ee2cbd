// The mmu_notifier API secondary MMUs subscribe to: hlist subscriptions (register/unregister,
// get/put, release, young, change_pte, invalidate_range_start/end) and interval subscriptions
// (an interval tree plus the invalidate_seq collision-retry). Mirrors mm/mmu_notifier.c (5.x
// seed) with the 4.6-era ops (invalidate_range, change_pte) and include/linux/mmu_notifier.h.

import {
  EAGAIN, EINVAL, EOVERFLOW, MMU_NOTIFY_RELEASE, TASK_SIZE,
} from './constants.js';
import { IntervalNode, IntervalTree } from './interval-tree.js';
import { mmdrop, mmgrab, type Mm } from './mm.js';
import type { Srcu } from './srcu.js';

export interface MmuNotifierRange {
  mm: Mm;
  start: number;
  end: number;
  /** MMU_NOTIFY_* */
  event: number;
  /** False only on paths that must not sleep (the OOM reaper); then start may return -EAGAIN. */
  blockable: boolean;
}

export interface MmuNotifierOps {
  release?(sub: MmuNotifier, mm: Mm): void;
  /** Returns 0, or -EAGAIN on a non-blockable range (then no end is called for it). */
  invalidateRangeStart?(sub: MmuNotifier, range: MmuNotifierRange): number;
  invalidateRangeEnd?(sub: MmuNotifier, range: MmuNotifierRange): void;
  /** Secondary TLB only (IOMMU-style); also called just before invalidateRangeEnd. */
  invalidateRange?(sub: MmuNotifier, mm: Mm, start: number, end: number): void;
  clearFlushYoung?(sub: MmuNotifier, mm: Mm, start: number, end: number): boolean;
  clearYoung?(sub: MmuNotifier, mm: Mm, start: number, end: number): boolean;
  testYoung?(sub: MmuNotifier, mm: Mm, addr: number): boolean;
  /** Called inside start/end (as since 2012), before the new pte is set. */
  changePte?(sub: MmuNotifier, mm: Mm, addr: number, frame: number, writable: boolean): void;
  allocNotifier?(mm: Mm): MmuNotifier;
  freeNotifier?(sub: MmuNotifier): void;
}

/** struct mmu_notifier: one subscription on one mm's hlist. */
export class MmuNotifier {
  mm: Mm | null = null;
  /** get/put users. */
  users = 0;
  /** On the mm's list (!hlist_unhashed). */
  hashed = false;
  constructor(public ops: MmuNotifierOps) {}
}

export interface MmuIntervalNotifierOps {
  /** Must call mmuIntervalSetSeq(sub, curSeq) under the user's lock and tear down its sptes.
   *  Returns false only for a non-blockable range it cannot handle without sleeping. */
  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): boolean;
}

/** struct mmu_interval_notifier: a subscription for [start, last] in the mm's itree. */
export class MmuIntervalNotifier extends IntervalNode {
  mm: Mm | null = null;
  ops: MmuIntervalNotifierOps | null = null;
  invalidateSeq = 0;
  /** On the deferred list (pending insert if !inTree, pending remove if inTree). */
  deferred = false;
}

/** struct mmu_notifier_subscriptions, hung off mm.notifierSubscriptions on first register. */
export class MmuNotifierSubscriptions {
  /** hlist: newest first, as hlist_add_head leaves it. */
  readonly list: MmuNotifier[] = [];
  hasItree = false;
  /** Odd while the itree is being invalidated ("fully excluded" write side). */
  invalidateSeq = 2;
  activeInvalidateRanges = 0;
  readonly itree = new IntervalTree<MmuIntervalNotifier>();
  readonly deferredList: MmuIntervalNotifier[] = [];
  /** Invalidations per MMU_NOTIFY_* event, for stats and tests. */
  readonly startsByEvent = new Int32Array(8);
}

// --- interval-notifier write side -------------------------------------------------------------
//
// The itree's write side has two states while ranges are active, as in the seed:
//   fully excluded     activeInvalidateRanges != 0, invalidateSeq odd: some range hit a
//                      subscription; the tree may not change (inserts/removes are deferred).
//   partially excluded activeInvalidateRanges != 0, invalidateSeq even: no subscription hit;
//                      the tree may change directly.
// The last end of a fully excluded period makes the seq even again and applies deferred changes.

function itreeIsInvalidating(subs: MmuNotifierSubscriptions): boolean {
  return (subs.invalidateSeq & 1) !== 0;
}

interface ItreeWalk {
  range: MmuNotifierRange;
  curSeq: number;
  failed: boolean;
}
const walkScratch: ItreeWalk[] = [];
let walkDepth = 0;

function itreeVisit(sub: MmuIntervalNotifier, w: ItreeWalk): void {
  if (w.failed) return;
  const ok = (sub.ops as MmuIntervalNotifierOps).invalidate(sub, w.range, w.curSeq);
  if (!ok) {
    if (w.range.blockable) throw new Error('mmu_interval_notifier: invalidate returned false on a blockable range');
    w.failed = true;
  }
}

function itreeInvStartRange(subs: MmuNotifierSubscriptions, range: MmuNotifierRange): boolean {
  subs.activeInvalidateRanges++;
  const hit = subs.itree.iterFirst(range.start, range.end - 1) !== null;
  if (hit) subs.invalidateSeq |= 1;
  return hit;
}

function itreeInvEnd(subs: MmuNotifierSubscriptions): void {
  subs.activeInvalidateRanges--;
  if (subs.activeInvalidateRanges !== 0 || !itreeIsInvalidating(subs)) return;
  subs.invalidateSeq++;
  // Deferred adds and removes are applied by the last end, like rtnl_unlock().
  for (const sub of subs.deferredList) {
    if (!sub.inTree) subs.itree.insert(sub);
    else subs.itree.remove(sub);
    sub.deferred = false;
  }
  subs.deferredList.length = 0;
}

function itreeInvalidate(subs: MmuNotifierSubscriptions, range: MmuNotifierRange): number {
  const hit = itreeInvStartRange(subs, range);
  if (!hit) return 0;
  if (walkDepth === walkScratch.length) walkScratch.push({ range, curSeq: 0, failed: false });
  const w = walkScratch[walkDepth++];
  w.range = range;
  w.curSeq = subs.invalidateSeq;
  w.failed = false;
  try {
    subs.itree.visitOverlaps(range.start, range.end - 1, itreeVisit, w);
  } finally {
    walkDepth--;
  }
  if (w.failed) {
    // A non-blockable caller that gets -EAGAIN never calls end: undo our half here.
    itreeInvEnd(subs);
    return -EAGAIN;
  }
  return 0;
}

// --- range start / end and the other ops (what the mm calls) -----------------------------------

export function mmuNotifierInvalidateRangeStart(range: MmuNotifierRange): number {
  const subs = range.mm.notifierSubscriptions;
  if (subs === null) return 0;
  subs.startsByEvent[range.event]++;
  if (subs.hasItree) {
    const r = itreeInvalidate(subs, range);
    if (r !== 0) return r;
  }
  if (subs.list.length === 0) return 0;
  const srcu = range.mm.srcu;
  srcu.readLock();
  let ret = 0;
  try {
    for (let i = 0; i < subs.list.length; i++) {
      const sub = subs.list[i];
      const fn = sub.ops.invalidateRangeStart;
      if (fn === undefined) continue;
      const r = fn.call(sub.ops, sub, range);
      if (r !== 0) {
        if (range.blockable || r !== -EAGAIN) {
          throw new Error(`mmu_notifier: invalidate_range_start failed with ${r} in a blockable context`);
        }
        ret = r;
      }
    }
  } finally {
    srcu.readUnlock();
  }
  return ret;
}

export function mmuNotifierInvalidateRangeEnd(range: MmuNotifierRange, onlyEnd = false): void {
  const subs = range.mm.notifierSubscriptions;
  if (subs === null) return;
  if (subs.hasItree) itreeInvEnd(subs);
  if (subs.list.length === 0) return;
  const srcu = range.mm.srcu;
  srcu.readLock();
  try {
    for (let i = 0; i < subs.list.length; i++) {
      const sub = subs.list[i];
      if (!onlyEnd && sub.ops.invalidateRange !== undefined) {
        sub.ops.invalidateRange(sub, range.mm, range.start, range.end);
      }
      if (sub.ops.invalidateRangeEnd !== undefined) sub.ops.invalidateRangeEnd(sub, range);
    }
  } finally {
    srcu.readUnlock();
  }
}

/** mmu_notifier_invalidate_range: secondary-TLB-only flush inside a start/end pair. */
export function mmuNotifierInvalidateRange(mm: Mm, start: number, end: number): void {
  eachSubscriber(mm, (sub) => {
    sub.ops.invalidateRange?.(sub, mm, start, end);
    return false;
  });
}

/** Call `op` on every subscriber under the SRCU read lock; true if any of them returned true. */
function eachSubscriber(mm: Mm, op: (sub: MmuNotifier) => boolean): boolean {
  const subs = mm.notifierSubscriptions;
  if (subs === null || subs.list.length === 0) return false;
  let any = false;
  mm.srcu.readLock();
  try {
    // Every subscriber is called (each must clear its own accessed bits, see its own range),
    // not just the first that answers true.
    for (let i = 0; i < subs.list.length; i++) if (op(subs.list[i]!)) any = true;
  } finally {
    mm.srcu.readUnlock();
  }
  return any;
}

export function mmuNotifierClearFlushYoung(mm: Mm, start: number, end: number): boolean {
  return eachSubscriber(mm, (sub) => sub.ops.clearFlushYoung?.(sub, mm, start, end) === true);
}

export function mmuNotifierClearYoung(mm: Mm, start: number, end: number): boolean {
  return eachSubscriber(mm, (sub) => sub.ops.clearYoung?.(sub, mm, start, end) === true);
}

/** Stops at the first subscriber that reports young, as the kernel does. */
export function mmuNotifierTestYoung(mm: Mm, addr: number): boolean {
  const subs = mm.notifierSubscriptions;
  if (subs === null || subs.list.length === 0) return false;
  mm.srcu.readLock();
  try {
    for (let i = 0; i < subs.list.length; i++) {
      const sub = subs.list[i];
      if (sub.ops.testYoung !== undefined && sub.ops.testYoung(sub, mm, addr)) return true;
    }
  } finally {
    mm.srcu.readUnlock();
  }
  return false;
}

export function mmuNotifierChangePte(mm: Mm, addr: number, frame: number, writable: boolean): void {
  eachSubscriber(mm, (sub) => {
    sub.ops.changePte?.(sub, mm, addr, frame, writable);
    return false;
  });
}

/** __mmu_notifier_release, called first by exit_mmap: every interval subscription gets a
 *  RELEASE invalidation of the whole address space, every hlist subscription its ->release, and
 *  the hlist subscriptions are unhooked so later start/end calls no longer reach them. */
export function mmuNotifierRelease(mm: Mm): void {
  const subs = mm.notifierSubscriptions;
  if (subs === null) return;
  if (subs.hasItree) {
    const range: MmuNotifierRange = { mm, start: 0, end: TASK_SIZE, event: MMU_NOTIFY_RELEASE, blockable: true };
    subs.startsByEvent[MMU_NOTIFY_RELEASE]++;
    itreeInvalidate(subs, range);
    itreeInvEnd(subs);
  }
  if (subs.list.length === 0) return;
  mm.srcu.readLock();
  try {
    // ->release must run before any page is freed: it is the only way for the subscriber to
    // drop its sptes and stop creating new ones. A release may put() its own subscription.
    const snapshot = subs.list.slice();
    for (const sub of snapshot) if (sub.ops.release !== undefined) sub.ops.release(sub, mm);
    for (const sub of subs.list) sub.hashed = false;
    subs.list.length = 0;
  } finally {
    mm.srcu.readUnlock();
  }
  mm.srcu.synchronize();
}

// --- subscription lifetime ----------------------------------------------------------------------

function ensureSubscriptions(mm: Mm): MmuNotifierSubscriptions {
  if (mm.notifierSubscriptions === null) mm.notifierSubscriptions = new MmuNotifierSubscriptions();
  return mm.notifierSubscriptions;
}

/** mmu_notifier_register: 0 or -EINVAL when the mm has no users (exit_mmap already ran). */
export function mmuNotifierRegister(sub: MmuNotifier, mm: Mm): number {
  if (mm.users <= 0) return -EINVAL;
  if (sub.hashed) throw new Error('mmu_notifier_register: subscription already registered');
  const subs = ensureSubscriptions(mm);
  mmgrab(mm);
  sub.mm = mm;
  sub.users = 1;
  sub.hashed = true;
  subs.list.unshift(sub);
  return 0;
}

function unhook(sub: MmuNotifier, mm: Mm): void {
  const subs = mm.notifierSubscriptions;
  if (subs !== null) {
    const i = subs.list.indexOf(sub);
    if (i >= 0) subs.list.splice(i, 1);
  }
  sub.hashed = false;
}

/** mmu_notifier_unregister: ->release unless exit_mmap already ran it, unhook, wait for
 *  every running callback (synchronize), drop the mm reference. */
export function mmuNotifierUnregister(sub: MmuNotifier, mm: Mm): void {
  if (sub.hashed) {
    mm.srcu.readLock();
    try {
      if (sub.ops.release !== undefined) sub.ops.release(sub, mm);
    } finally {
      mm.srcu.readUnlock();
    }
    unhook(sub, mm);
  }
  mm.srcu.synchronize();
  mmdrop(mm);
}

/** mmu_notifier_unregister_no_release: unhook without ->release and without waiting; the caller
 *  frees its structure through mmuNotifierCallSrcu so running readers finish first. */
export function mmuNotifierUnregisterNoRelease(sub: MmuNotifier, mm: Mm): void {
  unhook(sub, mm);
  mmdrop(mm);
}

/** mmu_notifier_get_locked: the existing subscription with the same ops (users++), or a new one
 *  from ops.allocNotifier, registered. Returns a negative errno on failure. */
export function mmuNotifierGetLocked(ops: MmuNotifierOps, mm: Mm): MmuNotifier | number {
  const subs = mm.notifierSubscriptions;
  if (subs !== null) {
    for (const sub of subs.list) {
      if (sub.ops === ops) {
        sub.users++;
        return sub;
      }
    }
  }
  if (ops.allocNotifier === undefined) return -EINVAL;
  const sub = ops.allocNotifier(mm);
  sub.ops = ops;
  const ret = mmuNotifierRegister(sub, mm);
  if (ret !== 0) {
    if (ops.freeNotifier !== undefined) ops.freeNotifier(sub);
    return ret;
  }
  return sub;
}

/** mmu_notifier_put: drop a get reference; the last one unhooks and frees (free_notifier, then
 *  mmdrop) after an SRCU grace period. May be called from the subscription's own ->release. */
export function mmuNotifierPut(sub: MmuNotifier): void {
  const mm = sub.mm;
  if (mm === null) throw new Error('mmu_notifier_put: subscription was never registered');
  if (sub.users <= 0) throw new Error('mmu_notifier_put: users already 0');
  if (--sub.users > 0) return;
  unhook(sub, mm);
  mm.srcu.callSrcu(() => {
    if (sub.ops.freeNotifier !== undefined) sub.ops.freeNotifier(sub);
    mmdrop(mm);
  });
}

export function mmuNotifierCallSrcu(srcu: Srcu, fn: () => void): void {
  srcu.callSrcu(fn);
}

/** mmu_notifier_synchronize: every callSrcu/put free queued so far has run when this returns. */
export function mmuNotifierSynchronize(srcu: Srcu): void {
  srcu.synchronize();
}

// --- interval notifiers -------------------------------------------------------------------------

/** mmu_interval_notifier_insert: watch [start, start + length). If an invalidation is running the
 *  new range is assumed to be included: its seq starts "colliding" so a reader must wait, and
 *  while the tree is fully excluded the insert itself is deferred to the last end. */
export function mmuIntervalNotifierInsert(sub: MmuIntervalNotifier, mm: Mm, start: number, length: number,
  ops: MmuIntervalNotifierOps): number {
  if (length <= 0 || start + length - 1 > Number.MAX_SAFE_INTEGER) return -EOVERFLOW;
  if (mm.count <= 0) return -EINVAL;
  const subs = ensureSubscriptions(mm);
  subs.hasItree = true;
  sub.mm = mm;
  sub.ops = ops;
  sub.start = start;
  sub.last = start + length - 1;
  sub.inTree = false;
  mmgrab(mm);
  if (subs.activeInvalidateRanges !== 0) {
    if (itreeIsInvalidating(subs)) {
      sub.deferred = true;
      subs.deferredList.push(sub);
    } else {
      subs.invalidateSeq |= 1;
      subs.itree.insert(sub);
    }
    sub.invalidateSeq = subs.invalidateSeq;
  } else {
    // Odd, and not the current seq: a reader starting now does not collide.
    sub.invalidateSeq = subs.invalidateSeq - 1;
    subs.itree.insert(sub);
  }
  return 0;
}

/** mmu_interval_notifier_remove. Returns true when the subscription is gone; false when an
 *  invalidation is in progress and the remove was deferred: ops may still be called until that
 *  invalidation ends (Linux sleeps here until then; a synchronous caller must yield and must not
 *  free its state before `mmuIntervalRemoveDone(sub)`). Must not be called from a callback. */
export function mmuIntervalNotifierRemove(sub: MmuIntervalNotifier): boolean {
  const mm = sub.mm;
  if (mm === null) throw new Error('mmu_interval_notifier_remove: not inserted');
  const subs = mm.notifierSubscriptions as MmuNotifierSubscriptions;
  let deferred = false;
  if (itreeIsInvalidating(subs)) {
    if (!sub.inTree) {
      // Inserted during this invalidation and never reached the tree: just forget the insert.
      const i = subs.deferredList.indexOf(sub);
      if (i >= 0) subs.deferredList.splice(i, 1);
      sub.deferred = false;
    } else {
      sub.deferred = true;
      subs.deferredList.push(sub);
      deferred = true;
    }
  } else {
    subs.itree.remove(sub);
  }
  mmdrop(mm);
  return !deferred;
}

/** True once a deferred remove has been applied by the last invalidate_range_end. */
export function mmuIntervalRemoveDone(sub: MmuIntervalNotifier): boolean {
  return !sub.inTree && !sub.deferred;
}

/** mmu_interval_read_begin. Returns the seq to pass to read_retry, or -1 when the range is being
 *  invalidated right now: Linux sleeps until the invalidation ends; a synchronous caller yields
 *  and calls again.
 *
 *   step  invalidation (writer)                 reader
 *   1     start: subs seq |= 1 (odd)
 *   2     ops.invalidate: set_seq(sub, seq)     read_begin: sub seq == subs seq -> -1 (wait)
 *   3     end: subs seq++ (even)                read_begin: returns sub seq (odd, != subs seq)
 *   4     next start + set_seq                  read_retry(seq) under the user lock -> true
 */
export function mmuIntervalReadBegin(sub: MmuIntervalNotifier): number {
  const subs = (sub.mm as Mm).notifierSubscriptions as MmuNotifierSubscriptions;
  const seq = sub.invalidateSeq;
  if (seq === subs.invalidateSeq) return -1;
  return seq;
}

/** mmu_interval_read_retry: call under the user lock that also serialises set_seq. */
export function mmuIntervalReadRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_check_retry: a lockless early hint; may be stale, never a substitute. */
export function mmuIntervalCheckRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_set_seq: from ops.invalidate, under the user lock. */
export function mmuIntervalSetSeq(sub: MmuIntervalNotifier, curSeq: number): void {
  sub.invalidateSeq = curSeq;
}
