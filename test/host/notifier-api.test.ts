// The mmu_notifier API itself: registration lifetimes, get/put with SRCU-deferred frees,
// unregister vs release, non-blockable -EAGAIN, and interval notifiers inserted or removed while
// an invalidation is running (deferred exactly as the 5.x seed describes).

import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  EAGAIN, EINVAL, MMU_NOTIFY_CLEAR, MMU_NOTIFY_UNMAP, PAGE_SIZE,
} from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { IntervalNode, IntervalTree } from '../../src/host/interval-tree.js';
import {
  MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalNotifierRemove, mmuIntervalReadBegin,
  mmuIntervalReadRetry, mmuIntervalRemoveDone, mmuIntervalSetSeq, MmuNotifier, mmuNotifierCallSrcu,
  mmuNotifierGetLocked, mmuNotifierInvalidateRangeEnd, mmuNotifierInvalidateRangeStart,
  mmuNotifierPut, mmuNotifierRegister, mmuNotifierSynchronize, mmuNotifierUnregister,
  mmuNotifierUnregisterNoRelease, type MmuNotifierOps, type MmuNotifierRange,
} from '../../src/host/mmu-notifier.js';
import { PRIV, RW } from './helpers.js';

function setup() {
  const h = new Host({ frames: 16, swapPages: 16 });
  const mm = h.createMm();
  return { h, mm };
}

const range = (mm: MmuNotifierRange['mm'], start: number, end: number, blockable = true): MmuNotifierRange =>
  ({ mm, start, end, event: MMU_NOTIFY_CLEAR, blockable });

describe('hlist subscriptions', () => {
  test('register holds an mm reference; unregister calls release, then drops it', () => {
    const { h, mm } = setup();
    const log: string[] = [];
    const sub = new MmuNotifier({ release: () => { log.push('release'); } });
    expect(mmuNotifierRegister(sub, mm)).toBe(0);
    expect(mm.count).toBe(2);
    mmuNotifierUnregister(sub, mm);
    expect(log).toEqual(['release']);
    expect(mm.count).toBe(1);
    expect(sub.hashed).toBe(false);
    h.mmput(mm);
    expect(mm.count).toBe(0);
  });

  test('unregister after exit_mmap does not call release twice', () => {
    const { h, mm } = setup();
    let n = 0;
    const sub = new MmuNotifier({ release: () => { n++; } });
    mmuNotifierRegister(sub, mm);
    h.mmput(mm);
    expect(n).toBe(1);
    mmuNotifierUnregister(sub, mm);
    expect(n).toBe(1);
    expect(mm.count).toBe(0);
    expect(mmuNotifierRegister(new MmuNotifier({}), mm)).toBe(-EINVAL);
  });

  test('get_locked shares one subscription per ops; put frees via SRCU only after synchronize', () => {
    const { h, mm } = setup();
    const freed: MmuNotifier[] = [];
    const ops: MmuNotifierOps = {
      allocNotifier: () => new MmuNotifier(ops),
      freeNotifier: (s) => { freed.push(s); },
    };
    const a = mmuNotifierGetLocked(ops, mm) as MmuNotifier;
    const b = mmuNotifierGetLocked(ops, mm) as MmuNotifier;
    expect(a).toBe(b);
    expect(a.users).toBe(2);
    mmuNotifierPut(a);
    expect(a.hashed).toBe(true);
    mmuNotifierPut(a);
    expect(a.hashed).toBe(false); // unhooked at once ...
    expect(freed).toEqual([]); // ... but freed only after a grace period
    expect(mm.count).toBe(2);
    mmuNotifierSynchronize(h.srcu);
    expect(freed).toEqual([a]);
    expect(mm.count).toBe(1);
  });

  test('a subscriber may put itself from its own release; the free waits for the grace period', () => {
    const { h, mm } = setup();
    const freed: string[] = [];
    const ops: MmuNotifierOps = {
      allocNotifier: () => new MmuNotifier(ops),
      freeNotifier: () => { freed.push('free'); },
      release: (s) => { freed.push(`release readers=${h.srcu.readers}`); mmuNotifierPut(s); },
    };
    mmuNotifierGetLocked(ops, mm);
    h.mmput(mm); // exit_mmap -> release -> put; mn_hlist_release ends with synchronize_srcu
    expect(freed).toEqual(['release readers=1', 'free']);
    expect(mm.count).toBe(0);
  });

  test('unregister_no_release + call_srcu: the free runs after readers are done', () => {
    const { h, mm } = setup();
    const log: string[] = [];
    const sub = new MmuNotifier({
      invalidateRangeStart: (s, r) => {
        // Unhooking from inside a callback (a reader): the free must wait.
        mmuNotifierUnregisterNoRelease(s, r.mm);
        mmuNotifierCallSrcu(h.srcu, () => { log.push('freed'); });
        expect(h.srcu.step()).toBe(false);
        log.push('start');
        return 0;
      },
    });
    mmuNotifierRegister(sub, mm);
    mmuNotifierInvalidateRangeStart(range(mm, 0, PAGE_SIZE));
    expect(log).toEqual(['start']);
    expect(() => h.srcu.readLock()).not.toThrow();
    expect(() => mmuNotifierSynchronize(h.srcu)).toThrow(/deadlock/);
    h.srcu.readUnlock();
    expect(h.srcuStep()).toBe(true);
    expect(log).toEqual(['start', 'freed']);
  });

  test('non-blockable start may return -EAGAIN; blockable may not', () => {
    const { mm } = setup();
    const sub = new MmuNotifier({ invalidateRangeStart: (_s, r) => (r.blockable ? 0 : -EAGAIN) });
    mmuNotifierRegister(sub, mm);
    expect(mmuNotifierInvalidateRangeStart(range(mm, 0, PAGE_SIZE, false))).toBe(-EAGAIN);
    expect(mmuNotifierInvalidateRangeStart(range(mm, 0, PAGE_SIZE, true))).toBe(0);
    const bad = new MmuNotifier({ invalidateRangeStart: () => -EAGAIN });
    mmuNotifierRegister(bad, mm);
    expect(() => mmuNotifierInvalidateRangeStart(range(mm, 0, PAGE_SIZE, true))).toThrow(/blockable/);
  });

  test('invalidate_range (secondary TLB) is called before invalidate_range_end', () => {
    const { mm } = setup();
    const log: string[] = [];
    mmuNotifierRegister(new MmuNotifier({
      invalidateRange: () => { log.push('invalidate_range'); },
      invalidateRangeEnd: () => { log.push('end'); },
    }), mm);
    const r = range(mm, 0, PAGE_SIZE);
    mmuNotifierInvalidateRangeStart(r);
    mmuNotifierInvalidateRangeEnd(r);
    expect(log).toEqual(['invalidate_range', 'end']);
  });
});

describe('interval subscriptions', () => {
  const ops = (log: string[]) => ({
    invalidate: (s: MmuIntervalNotifier, r: MmuNotifierRange, seq: number) => {
      log.push(`inv ${s.start}-${s.last}`);
      mmuIntervalSetSeq(s, seq);
      return true;
    },
  });

  test('only overlapping subscriptions are invalidated; read_retry sees the collision', () => {
    const { mm } = setup();
    const log: string[] = [];
    const a = new MmuIntervalNotifier();
    const b = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(a, mm, 0x1000, 0x1000, ops(log));
    mmuIntervalNotifierInsert(b, mm, 0x5000, 0x1000, ops(log));
    const seqA = mmuIntervalReadBegin(a);
    const seqB = mmuIntervalReadBegin(b);
    const r = range(mm, 0x1000, 0x3000);
    mmuNotifierInvalidateRangeStart(r);
    expect(log).toEqual(['inv 4096-8191']);
    expect(mmuIntervalReadBegin(a)).toBe(-1); // colliding: Linux sleeps
    expect(mmuIntervalReadBegin(b)).toBe(seqB); // untouched range: no wait
    mmuNotifierInvalidateRangeEnd(r);
    expect(mmuIntervalReadRetry(a, seqA)).toBe(true);
    expect(mmuIntervalReadRetry(b, seqB)).toBe(false);
    const again = mmuIntervalReadBegin(a);
    expect(again).not.toBe(-1);
    expect(mmuIntervalReadRetry(a, again)).toBe(false);
  });

  test('insert during an invalidation of the tree is deferred to the last end and starts colliding', () => {
    const { mm } = setup();
    const log: string[] = [];
    const a = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(a, mm, 0, 0x10000, ops(log));
    const r = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(r);
    const b = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(b, mm, 0, 0x1000, ops(log));
    expect(b.inTree).toBe(false);
    expect(mmuIntervalReadBegin(b)).toBe(-1); // assumed included in the running invalidation
    const nested = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(nested);
    expect(log).toEqual(['inv 0-65535', 'inv 0-65535']); // b not yet visible
    mmuNotifierInvalidateRangeEnd(nested);
    expect(b.inTree).toBe(false); // still one range active
    mmuNotifierInvalidateRangeEnd(r);
    expect(b.inTree).toBe(true);
    expect(mmuIntervalReadBegin(b)).not.toBe(-1);
    mm.notifierSubscriptions!.itree.check();
  });

  test('insert while only non-overlapping ranges run goes straight in, colliding', () => {
    const { mm } = setup();
    const log: string[] = [];
    const far = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(far, mm, 0x100000, 0x1000, ops(log));
    const r = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(r); // hits nothing: partially excluded, seq stays even
    expect(mm.notifierSubscriptions!.invalidateSeq & 1).toBe(0);
    const b = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(b, mm, 0, 0x1000, ops(log));
    expect(b.inTree).toBe(true);
    expect(mmuIntervalReadBegin(b)).toBe(-1);
    mmuNotifierInvalidateRangeEnd(r);
    expect(mmuIntervalReadBegin(b)).not.toBe(-1);
  });

  test('remove during an invalidation is deferred; callbacks may run until the end', () => {
    const { mm } = setup();
    const log: string[] = [];
    const a = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(a, mm, 0, 0x1000, ops(log));
    const count = mm.count;
    const r = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(r);
    expect(mmuIntervalNotifierRemove(a)).toBe(false);
    expect(mmuIntervalRemoveDone(a)).toBe(false);
    const nested = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(nested);
    expect(log).toEqual(['inv 0-4095', 'inv 0-4095']);
    mmuNotifierInvalidateRangeEnd(nested);
    mmuNotifierInvalidateRangeEnd(r);
    expect(mmuIntervalRemoveDone(a)).toBe(true);
    expect(mm.count).toBe(count - 1);
    mmuNotifierInvalidateRangeStart(range(mm, 0, 0x1000, true));
    expect(log.length).toBe(2);
  });

  test('remove of an insert still pending on the deferred list cancels it', () => {
    const { mm } = setup();
    const log: string[] = [];
    const a = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(a, mm, 0, 0x1000, ops(log));
    const r = range(mm, 0, 0x1000);
    mmuNotifierInvalidateRangeStart(r);
    const b = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(b, mm, 0x2000, 0x1000, ops(log));
    expect(mmuIntervalNotifierRemove(b)).toBe(true);
    mmuNotifierInvalidateRangeEnd(r);
    expect(b.inTree).toBe(false);
    expect(mm.notifierSubscriptions!.itree.size).toBe(1);
  });

  test('a non-blockable invalidation that fails returns -EAGAIN and undoes its half (no end)', () => {
    const { mm } = setup();
    const a = new MmuIntervalNotifier();
    mmuIntervalNotifierInsert(a, mm, 0, 0x1000, { invalidate: (_s, r) => r.blockable });
    expect(mmuNotifierInvalidateRangeStart(range(mm, 0, 0x1000, false))).toBe(-EAGAIN);
    const subs = mm.notifierSubscriptions!;
    expect(subs.activeInvalidateRanges).toBe(0);
    expect(subs.invalidateSeq & 1).toBe(0);
  });

  test('interval tree agrees with a linear scan (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(200), fc.nat(50), fc.boolean()), { maxLength: 60 }),
      fc.array(fc.tuple(fc.nat(260), fc.nat(60)), { maxLength: 20 }),
      (items, queries) => {
        const t = new IntervalTree<IntervalNode>();
        const live: IntervalNode[] = [];
        for (const [s, l, rm] of items) {
          if (rm && live.length > 0) {
            const n = live.splice(s % live.length, 1)[0];
            t.remove(n);
          } else {
            const n = new IntervalNode();
            n.start = s; n.last = s + l;
            t.insert(n);
            live.push(n);
          }
          t.check();
        }
        for (const [qs, ql] of queries) {
          const got: IntervalNode[] = [];
          t.visitOverlaps(qs, qs + ql, (n, out: IntervalNode[]) => { out.push(n); }, got);
          const want = live.filter((n) => n.start <= qs + ql && n.last >= qs);
          expect(new Set(got)).toEqual(new Set(want));
          expect(t.iterFirst(qs, qs + ql) !== null).toBe(want.length > 0);
        }
      },
    ), { numRuns: 200, seed: 3 });
  });
});

test('exit_mmap sends interval subscribers a RELEASE invalidation before UNMAP', () => {
  const { h, mm } = setup();
  const events: number[] = [];
  const a = new MmuIntervalNotifier();
  mmuIntervalNotifierInsert(a, mm, 0, 0xc0000000, {
    invalidate: (s, r, seq) => { events.push(r.event); mmuIntervalSetSeq(s, seq); return true; },
  });
  const p = h.mmap(mm, PAGE_SIZE, RW, PRIV);
  h.accessUser(mm, p, new Uint8Array([1]), true);
  h.mmput(mm);
  expect(events).toEqual([5 /* RELEASE */, MMU_NOTIFY_UNMAP]);
  expect(mmuIntervalNotifierRemove(a)).toBe(true);
  expect(mm.count).toBe(0);
});
