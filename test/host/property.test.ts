// Property-based tests: random operation sequences on a tiny host (overcommitted, with swap,
// KSM, fork, pins, mprotect, DONTNEED, munmap, exit and a notifier mirror), checking after every
// step the refcount/mapcount/rmap/LRU/swap invariants, the bytes every process sees against a
// model, and that the mirror never holds a stale frame.

import { expect, test } from 'vitest';
import fc from 'fast-check';
import {
  EFAULT, MADV_DONTNEED, MADV_MERGEABLE, MAP_FIXED, PAGE_SIZE, PROT_READ,
} from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import { DMirror } from './dmirror.js';
import { PRIV, RW, SHARED } from './helpers.js';

const NPRIV = 6;
const NSHARED = 2;
const BASE = 0x1000_0000;
const SBASE = 0x2000_0000;

type Op =
  | { k: 'write'; p: number; page: number; v: number }
  | { k: 'read'; p: number; page: number }
  | { k: 'fork'; p: number }
  | { k: 'exit'; p: number }
  | { k: 'dontneed'; p: number; page: number }
  | { k: 'munmap'; p: number; page: number }
  | { k: 'remap'; p: number; page: number }
  | { k: 'protect'; p: number; ro: boolean }
  | { k: 'reclaim'; n: number }
  | { k: 'ksm'; n: number }
  | { k: 'pin'; p: number; page: number }
  | { k: 'unpin' }
  | { k: 'mirrorRead'; page: number }
  | { k: 'mirrorWrite'; page: number; v: number }
  | { k: 'racy'; page: number; write: boolean; skip: number };

const proc = fc.nat(3);
const page = fc.nat(NPRIV + NSHARED - 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('write' as const), p: proc, page, v: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('read' as const), p: proc, page }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fork' as const), p: proc }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('exit' as const), p: proc }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dontneed' as const), p: proc, page }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('munmap' as const), p: proc, page }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remap' as const), p: proc, page }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('protect' as const), p: proc, ro: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('ksm' as const), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pin' as const), p: proc, page }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unpin' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mirrorRead' as const), page }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mirrorWrite' as const), page, v: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('racy' as const), page, write: fc.boolean(), skip: fc.nat(3) }) },
);

interface Proc {
  mm: Mm;
  priv: (number | null)[]; // value per private page, null = unmapped
  shared: number[]; // shared between fork relatives
  ro: boolean;
}

const addrOf = (pg: number) => (pg < NPRIV ? BASE + pg * PAGE_SIZE : SBASE + (pg - NPRIV) * PAGE_SIZE);

const seen = { racyFaults: 0, racyCollisions: 0, swapIns: 0, ksmMerges: 0, oomKills: 0, cowBreaks: 0, reclaimFailPinned: 0, mirrorRetries: 0 };

function run(ops: Op[], frames: number, swapPages: number): void {
  const h = new Host({ frames, swapPages, seed: 11 });
  const procs: Proc[] = [];
  const spawn = (): Proc => {
    const mm = h.createMm();
    expect(h.mmap(mm, NPRIV * PAGE_SIZE, RW, PRIV | MAP_FIXED, BASE)).toBe(BASE);
    expect(h.mmap(mm, NSHARED * PAGE_SIZE, RW, SHARED | MAP_FIXED, SBASE)).toBe(SBASE);
    h.madvise(mm, BASE, NPRIV * PAGE_SIZE, MADV_MERGEABLE);
    return { mm, priv: new Array(NPRIV).fill(0), shared: new Array(NSHARED).fill(0), ro: false };
  };
  procs.push(spawn());
  const mirror = new DMirror(h, procs[0].mm);
  const pins: number[] = [];
  const buf = new Uint8Array(PAGE_SIZE);

  const expected = (pr: Proc, pg: number): number | null => (pg < NPRIV ? pr.priv[pg] : pr.shared[pg - NPRIV]);
  const setModel = (pr: Proc, pg: number, v: number): void => {
    if (pg < NPRIV) pr.priv[pg] = v;
    else pr.shared[pg - NPRIV] = v; // the array object is shared by fork relatives
  };
  const checkPage = (pr: Proc, pg: number, got: Uint8Array): void => {
    const want = expected(pr, pg);
    for (let i = 0; i < PAGE_SIZE; i += 511) expect(got[i]).toBe(want);
  };

  for (const op of ops) {
    const live = procs.filter((p) => !p.mm.dead);
    const pr = 'p' in op && live.length > 0 ? live[op.p % live.length] : undefined;
    switch (op.k) {
      case 'write': {
        if (pr === undefined) break;
        const want = expected(pr, op.page);
        const r = h.accessUser(pr.mm, addrOf(op.page), buf.fill(op.v), true);
        if (r === PAGE_SIZE) {
          expect(want !== null && !(pr.ro && op.page < NPRIV)).toBe(true);
          setModel(pr, op.page, op.v);
        } else if (!pr.mm.dead) {
          expect(r).toBe(want === null || (pr.ro && op.page < NPRIV) ? -EFAULT : -12);
        }
        break;
      }
      case 'read': {
        if (pr === undefined) break;
        const r = h.accessUser(pr.mm, addrOf(op.page), buf, false);
        if (r === PAGE_SIZE) checkPage(pr, op.page, buf);
        else if (!pr.mm.dead && r === -EFAULT) expect(expected(pr, op.page)).toBeNull();
        break;
      }
      case 'fork': {
        if (pr === undefined || procs.length >= 4) break;
        try {
          const mm = h.fork(pr.mm);
          procs.push({ mm, priv: pr.priv.slice(), shared: pr.shared, ro: pr.ro });
        } catch (e) {
          expect(String(e)).toMatch(/out of memory/);
        }
        break;
      }
      case 'exit':
        if (pr !== undefined && pr.mm !== mirror.mm) h.mmput(pr.mm);
        break;
      case 'dontneed':
        if (pr === undefined) break;
        h.madvise(pr.mm, addrOf(op.page), PAGE_SIZE, MADV_DONTNEED);
        if (op.page < NPRIV && pr.priv[op.page] !== null) pr.priv[op.page] = 0;
        break;
      case 'munmap':
        if (pr === undefined || op.page >= NPRIV) break;
        h.munmap(pr.mm, addrOf(op.page), PAGE_SIZE);
        pr.priv[op.page] = null;
        break;
      case 'remap':
        if (pr === undefined || op.page >= NPRIV || pr.priv[op.page] !== null) break;
        expect(h.mmap(pr.mm, PAGE_SIZE, pr.ro ? PROT_READ : RW, PRIV | MAP_FIXED, addrOf(op.page))).toBe(addrOf(op.page));
        pr.priv[op.page] = 0;
        break;
      case 'protect':
        if (pr === undefined) break;
        h.mprotect(pr.mm, BASE, NPRIV * PAGE_SIZE, op.ro ? PROT_READ : RW);
        pr.ro = op.ro;
        break;
      case 'reclaim':
        h.reclaim(op.n);
        break;
      case 'ksm':
        h.ksmdStep(op.n);
        break;
      case 'pin': {
        if (pr === undefined || pins.length >= 3) break;
        const f = h.gup(pr.mm, addrOf(op.page), false);
        if (f >= 0) pins.push(f);
        break;
      }
      case 'unpin':
        if (pins.length > 0) h.putPage(pins.shift()!);
        break;
      case 'racy': {
        // Arm a mirror fault at the (skip+1)-th preemption point of whatever operation runs next:
        // the secondary MMU races the host between start and end, or just before the free.
        let skip = op.skip;
        h.onPreempt = () => {
          if (skip-- > 0) return;
          h.onPreempt = null;
          if (!procs[0].mm.dead) {
            const r = mirror.fault(addrOf(op.page), op.write);
            if (r === 0) seen.racyFaults++;
            else if (r === -11) seen.racyCollisions++;
          }
          expect(mirror.stale()).toEqual([]);
        };
        break;
      }
      case 'mirrorRead':
      case 'mirrorWrite': {
        const m0 = procs[0];
        if (m0.mm.dead) break;
        if (op.k === 'mirrorRead') {
          const got = mirror.read(addrOf(op.page), PAGE_SIZE);
          if (typeof got !== 'number') checkPage(m0, op.page, got);
          else expect(got === -EFAULT || got === -12).toBe(true);
        } else {
          const r = mirror.write(addrOf(op.page), new Uint8Array(PAGE_SIZE).fill(op.v));
          if (r === 0) setModel(m0, op.page, op.v);
        }
        break;
      }
    }
    h.checkInvariants();
    expect(mirror.stale()).toEqual([]);
  }
  while (pins.length > 0) h.putPage(pins.pop()!);
  for (const p of procs) h.mmput(p.mm);
  h.checkInvariants();
  // Pages that were pinned while unmapped linger in the swap cache (as in Linux) until reclaim.
  h.reclaim(4 * frames);
  h.checkInvariants();
  expect(h.nrFreeFrames).toBe(frames);
  expect(h.swap.nrFree).toBe(swapPages);
  seen.swapIns += h.stats.swapIns;
  seen.ksmMerges += h.stats.ksmMerges;
  seen.oomKills += h.stats.oomKills;
  seen.cowBreaks += h.stats.cowBreaks;
  seen.reclaimFailPinned += h.stats.reclaimFailPinned;
  seen.mirrorRetries += mirror.retries;
}

const replay = process.env.HOST_PROP_REPLAY;
if (replay !== undefined) test('replay one sequence (HOST_PROP_REPLAY=json, HOST_PROP_FRAMES)', () => {
  const frames = Number(process.env.HOST_PROP_FRAMES ?? 10);
  run(JSON.parse(replay!) as Op[], frames, frames === 10 ? 4 : 12);
});

test('random operation sequences keep every invariant and every byte (roomy host)', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => run(ops, 40, 12)), { numRuns: Number(process.env.HOST_PROP_RUNS ?? 400), seed: Number(process.env.HOST_PROP_SEED ?? 20261121) });
  expect(seen.ksmMerges).toBeGreaterThan(0);
  expect(seen.racyFaults).toBeGreaterThan(0);
  expect(seen.racyCollisions).toBeGreaterThan(0);
  expect(seen.cowBreaks).toBeGreaterThan(0);
});

test('random operation sequences under memory pressure (swap, OOM)', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => run(ops, 10, 4)), { numRuns: Number(process.env.HOST_PROP_RUNS ?? 400), seed: Number(process.env.HOST_PROP_SEED ?? 20261121) });
  // The sequences must actually reach the interesting paths, or the property proves little.
  expect(seen.swapIns).toBeGreaterThan(0);
  expect(seen.oomKills).toBeGreaterThan(0);
  expect(seen.reclaimFailPinned).toBeGreaterThan(0);
});
