// hmm-tests.c scenarios (anon_write_child, anon_write_child_shared, anon_read_prot,
// anon_write_prot, anon_teardown) and the read_begin/gup/read_retry race of reference §1.6,
// with the "no retry check" mutation that must be caught.

import { describe, expect, test } from 'vitest';
import {
  EFAULT, MADV_DONTNEED, MADV_MERGEABLE, PAGE_SIZE, PROT_NONE, PROT_READ,
} from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { Prng } from '../../src/host/prng.js';
import { DMirror } from './dmirror.js';
import { fill, pattern, PRIV, readPage, RW, SHARED, swapOut, world } from './helpers.js';
import { expectBytes } from './helpers.js';

describe('hmm-tests scenarios', () => {
  test('anon_write_child: device write in the child changes only the child', () => {
    const h = new Host({ frames: 64, swapPages: 16 });
    const parent = h.createMm();
    const a = h.mmap(parent, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, parent, a, 4, 50);
    const child = h.fork(parent);
    const dev = new DMirror(h, child);
    for (let i = 0; i < 4; i++) expect(dev.write(a + i * PAGE_SIZE, pattern(900 + i))).toBe(0);
    for (let i = 0; i < 4; i++) {
      expectBytes(readPage(h, child, a + i * PAGE_SIZE), pattern(900 + i));
      expectBytes(readPage(h, parent, a + i * PAGE_SIZE), pattern(50 + i));
    }
    expect(dev.stale()).toEqual([]);
    h.checkInvariants();
  });

  test('anon_write_child_shared: MAP_SHARED writes are seen by the parent', () => {
    const h = new Host({ frames: 64, swapPages: 16 });
    const parent = h.createMm();
    const a = h.mmap(parent, 4 * PAGE_SIZE, RW, SHARED);
    fill(h, parent, a, 2, 60); // half touched before fork, half after
    const child = h.fork(parent);
    const dev = new DMirror(h, child);
    for (let i = 0; i < 4; i++) expect(dev.write(a + i * PAGE_SIZE, pattern(700 + i))).toBe(0);
    for (let i = 0; i < 4; i++) expectBytes(readPage(h, parent, a + i * PAGE_SIZE), pattern(700 + i));
    h.mmput(child);
    expectBytes(readPage(h, parent, a + 3 * PAGE_SIZE), pattern(703));
    h.checkInvariants();
  });

  test('anon_read_prot: PROT_NONE -> -EFAULT and the mirror stays empty', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 2, 1);
    h.mprotect(mm, a, 2 * PAGE_SIZE, PROT_NONE);
    const dev = new DMirror(h, mm);
    expect(dev.read(a, 16)).toBe(-EFAULT);
    expect(dev.pt.size).toBe(0);
  });

  test('anon_write_prot: RO -> write refused, memory unchanged; RW -> write succeeds', () => {
    const h = new Host({ frames: 16, swapPages: 16 });
    const mm = h.createMm();
    const a = h.mmap(mm, PAGE_SIZE, PROT_READ, PRIV);
    const dev = new DMirror(h, mm);
    expect(dev.read(a, 4)).toEqual(new Uint8Array(4));
    expect(dev.write(a, new Uint8Array([9, 9]))).toBe(-EFAULT);
    expect(readPage(h, mm, a).subarray(0, 2)).toEqual(new Uint8Array(2));
    h.mprotect(mm, a, PAGE_SIZE, RW);
    expect(dev.write(a, new Uint8Array([9, 9]))).toBe(0);
    expect(readPage(h, mm, a).subarray(0, 2)).toEqual(new Uint8Array([9, 9]));
    expect(dev.stale()).toEqual([]);
  });

  test('anon_teardown: munmap of half the buffer at random points of device reads', () => {
    const prng = new Prng(1234);
    for (let iter = 0; iter < 40; iter++) {
      const h = new Host({ frames: 48, swapPages: 32, seed: iter });
      const mm = h.createMm();
      const n = 8;
      const a = h.mmap(mm, n * PAGE_SIZE, RW, PRIV);
      for (let i = 0; i < n; i++) h.accessUser(mm, a + i * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(i + 1), true);
      const dev = new DMirror(h, mm);
      const killAt = prng.below(n);
      let unmapped = false;
      for (let i = 0; i < n; i++) {
        const raceWindow = i === killAt ? () => { h.munmap(mm, a + (n / 2) * PAGE_SIZE, (n / 2) * PAGE_SIZE); unmapped = true; } : undefined;
        const vpnAddr = a + i * PAGE_SIZE;
        const r = dev.fault(vpnAddr, false, raceWindow);
        if (r === 0) {
          // Either exactly the initial value, or nothing: never garbage from a freed frame.
          const e = dev.pt.get(vpnAddr >>> 12)!;
          expect(h.ram[e.frame * PAGE_SIZE]).toBe(i + 1);
        } else {
          expect(r).toBe(-EFAULT);
          expect(unmapped && i >= n / 2).toBe(true);
        }
        expect(dev.stale()).toEqual([]);
      }
      h.checkInvariants();
    }
  });
});

describe('the collision-retry race (reference §1.6) for each invalidating operation', () => {
  const ops: Record<string, (h: Host, mm: ReturnType<Host['createMm']>, a: number) => void> = {
    'swap-out': (h, mm, a) => { expect(swapOut(h, mm, a)).toBe(true); },
    munmap: (h, mm, a) => h.munmap(mm, a, PAGE_SIZE),
    dontneed: (h, mm, a) => h.madvise(mm, a, PAGE_SIZE, MADV_DONTNEED),
    'fork+cow': (h, mm, a) => { h.fork(mm); h.accessUser(mm, a, new Uint8Array([0xee]), true); },
  };
  for (const [name, op] of Object.entries(ops)) {
    const setup = () => {
      const { h, mm, mirror } = world(32, 64);
      h.onPreempt = null;
      const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
      h.accessUser(mm, a, pattern(3), true);
      h.accessUser(mm, a + PAGE_SIZE, pattern(3), true);
      h.madvise(mm, a, 2 * PAGE_SIZE, MADV_MERGEABLE);
      return { h, mm, mirror, a };
    };
    test(`${name} between gup and read_retry forces a retry; the mirror stays coherent`, () => {
      const { h, mm, mirror, a } = setup();
      expect(mirror.fault(a, true, () => op(h, mm, a))).toBe(name === 'munmap' ? -EFAULT : 0);
      if (name !== 'munmap') expect(mirror.retries).toBe(1);
      expect(mirror.stale()).toEqual([]);
      h.checkInvariants();
    });
    test(`${name}: without the read_retry check the mirror ends up stale (mutation)`, () => {
      const { h, mm, mirror, a } = setup();
      mirror.skipRetryCheck = true;
      mirror.fault(a, true, () => op(h, mm, a));
      expect(mirror.stale().length).toBeGreaterThan(0);
    });
  }
});

test('KSM cannot merge a page while a gup reference is in flight (the refcount check), and can after', () => {
  const { h, mm, mirror } = world(32, 64);
  const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
  h.accessUser(mm, a, pattern(3), true);
  h.accessUser(mm, a + PAGE_SIZE, pattern(3), true);
  h.madvise(mm, a, 2 * PAGE_SIZE, MADV_MERGEABLE);
  expect(mirror.fault(a, false, () => { h.ksmdStep(8); })).toBe(0);
  expect(h.stats.ksmMerges).toBe(0);
  expect(h.stats.ksmRefusedPinned).toBeGreaterThan(0);
  h.ksmdStep(8);
  expect(h.stats.ksmMerges).toBe(1);
  expect(mirror.stale()).toEqual([]);
  h.checkInvariants();
});
