// Every mm operation, seen by a test_hmm-style mirror and a recording subscriber: the right
// notifier events, in the right order, and never a stale mirrored frame.

import { describe, expect, test } from 'vitest';
import {
  EAGAIN, EFAULT, MADV_DONTNEED, MADV_MERGEABLE, PAGE_SIZE, PROT_READ,
} from '../../src/host/constants.js';
import { hex } from './dmirror.js';
import { fill, pattern, PRIV, readPage, RW, swapOut, world } from './helpers.js';
import { expectBytes } from './helpers.js';

describe('notifier events per operation (mirror + recorder)', () => {
  test('swap-out: CLEAR start/end around the pte clear; mirror refaults identical bytes', () => {
    const { h, mm, mirror, rec, labels } = world(16, 64);
    const a = h.mmap(mm, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 4, 100);
    expect(mirror.fault(a, false)).toBe(0);
    rec.log.length = 0;
    expect(swapOut(h, mm, a)).toBe(true);
    expect(rec.log).toContain(`start CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`);
    const i = rec.log.indexOf(`start CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`);
    expect(rec.log[i + 1]).toBe(`end CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`);
    expect(mirror.pt.has(a >>> 12)).toBe(false);
    expect(labels).toContain('after-clear');
    expect(mirror.events).toContain(`CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`);
    expectBytes(mirror.read(a, PAGE_SIZE) as Uint8Array, pattern(100));
    expect(h.stats.swapIns).toBeGreaterThan(0);
    expect(mirror.stale()).toEqual([]);
    h.checkInvariants();
  });

  test('KSM merge: write_protect_page then replace_page, each a 1-page CLEAR; change_pte inside', () => {
    const { h, mm, mirror, rec } = world(64, 64);
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    h.accessUser(mm, a, pattern(5), true);
    h.accessUser(mm, a + PAGE_SIZE, pattern(5), true);
    h.madvise(mm, a, 2 * PAGE_SIZE, MADV_MERGEABLE);
    expect(mirror.fault(a, true)).toBe(0);
    expect(mirror.fault(a + PAGE_SIZE, true)).toBe(0);
    rec.log.length = 0;
    for (let i = 0; i < 3 && h.stats.ksmMerges === 0; i++) h.ksmdStep(2);
    expect(h.stats.ksmMerges).toBe(1);
    expect(h.frameAt(mm, a)).toBe(h.frameAt(mm, a + PAGE_SIZE));
    const p0 = `${hex(a)}-${hex(a + PAGE_SIZE)}`;
    const p1 = `${hex(a + PAGE_SIZE)}-${hex(a + 2 * PAGE_SIZE)}`;
    // The tree page is write-protected first, then our page is write-protected and replaced.
    expect(rec.log).toEqual([
      `start CLEAR ${p0}`, `end CLEAR ${p0}`,
      `start CLEAR ${p1}`, `end CLEAR ${p1}`,
      `start CLEAR ${p1}`, `change_pte ${hex(a + PAGE_SIZE)}`, `end CLEAR ${p1}`,
    ]);
    expect(mirror.pt.size).toBe(0);
    expectBytes(mirror.read(a + PAGE_SIZE, PAGE_SIZE) as Uint8Array, pattern(5));
    // A write to the merged page breaks COW: the other sharer keeps its bytes.
    expect(mirror.write(a, new Uint8Array([1, 2, 3]))).toBe(0);
    expect(h.frameAt(mm, a)).not.toBe(h.frameAt(mm, a + PAGE_SIZE));
    expectBytes(readPage(h, mm, a + PAGE_SIZE), pattern(5));
    expect(readPage(h, mm, a).subarray(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(h.stats.ksmCowBreaks).toBe(1);
    expect(mirror.stale()).toEqual([]);
    h.checkInvariants();
  });

  test('fork: PROTECTION_PAGE over the parent vma, child mm has no subscriber; parent write COWs', () => {
    const { h, mm, mirror, rec } = world();
    const a = h.mmap(mm, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 4, 1);
    expect(mirror.fault(a, true)).toBe(0);
    rec.log.length = 0;
    const child = h.fork(mm);
    expect(rec.log).toEqual([`start PROTECTION_PAGE ${hex(a)}-${hex(a + 4 * PAGE_SIZE)}`, `end PROTECTION_PAGE ${hex(a)}-${hex(a + 4 * PAGE_SIZE)}`]);
    expect(child.notifierSubscriptions).toBeNull();
    expect(mirror.pt.size).toBe(0);
    expect(h.pteWritable(mm, a)).toBe(false);
    rec.log.length = 0;
    expect(mirror.write(a, new Uint8Array([42]))).toBe(0);
    expect(rec.log).toEqual([`start CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`, `change_pte ${hex(a)}`, `end CLEAR ${hex(a)}-${hex(a + PAGE_SIZE)}`]);
    expectBytes(readPage(h, child, a), pattern(1));
    expect(readPage(h, mm, a)[0]).toBe(42);
    expect(h.stats.cowBreaks).toBe(1);
    expect(mirror.stale()).toEqual([]);
    h.checkInvariants();
  });

  test('munmap: one UNMAP range; frames freed only after end; later faults fail', () => {
    const { h, mm, mirror, rec, labels } = world();
    const a = h.mmap(mm, 4 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 4, 9);
    for (let i = 0; i < 4; i++) expect(mirror.fault(a + i * PAGE_SIZE, false)).toBe(0);
    const frames = [0, 1, 2, 3].map((i) => h.frameAt(mm, a + i * PAGE_SIZE));
    const gens = frames.map((f) => h.frameGen[f]);
    rec.log.length = 0;
    let genAtEnd: number[] = [];
    h.onPreempt = (label) => {
      labels.push(label);
      expect(mirror.stale()).toEqual([]);
      if (label === 'before-end') genAtEnd = frames.map((f) => h.frameGen[f]);
    };
    h.munmap(mm, a, 4 * PAGE_SIZE);
    expect(genAtEnd).toEqual(gens); // nothing freed before end
    expect(frames.map((f) => h.frameGen[f])).not.toEqual(gens);
    expect(rec.log).toEqual([`start UNMAP ${hex(a)}-${hex(a + 4 * PAGE_SIZE)}`, `end UNMAP ${hex(a)}-${hex(a + 4 * PAGE_SIZE)}`]);
    expect(mirror.fault(a, false)).toBe(-EFAULT);
    expect(mirror.pt.size).toBe(0);
    h.checkInvariants();
  });

  test('MADV_DONTNEED: CLEAR; the mirror then reads zeros', () => {
    const { h, mm, mirror, rec } = world();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 2, 3);
    expect(mirror.read(a, 8)).toEqual(pattern(3).subarray(0, 8));
    rec.log.length = 0;
    h.madvise(mm, a, 2 * PAGE_SIZE, MADV_DONTNEED);
    expect(rec.log).toEqual([`start CLEAR ${hex(a)}-${hex(a + 2 * PAGE_SIZE)}`, `end CLEAR ${hex(a)}-${hex(a + 2 * PAGE_SIZE)}`]);
    expect(mirror.read(a, PAGE_SIZE)).toEqual(new Uint8Array(PAGE_SIZE));
    h.checkInvariants();
  });

  test('mprotect RO then RW: PROTECTION_VMA; writes refused while RO, memory unchanged', () => {
    const { h, mm, mirror, rec } = world();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 2, 11);
    expect(mirror.fault(a, true)).toBe(0);
    rec.log.length = 0;
    h.mprotect(mm, a, 2 * PAGE_SIZE, PROT_READ);
    expect(rec.log).toEqual([`start PROTECTION_VMA ${hex(a)}-${hex(a + 2 * PAGE_SIZE)}`, `end PROTECTION_VMA ${hex(a)}-${hex(a + 2 * PAGE_SIZE)}`]);
    expect(mirror.write(a, new Uint8Array([7]))).toBe(-EFAULT);
    expectBytes(readPage(h, mm, a), pattern(11));
    h.mprotect(mm, a, 2 * PAGE_SIZE, RW);
    expect(mirror.write(a, new Uint8Array([7]))).toBe(0);
    expect(readPage(h, mm, a)[0]).toBe(7);
    expect(mirror.stale()).toEqual([]);
    h.checkInvariants();
  });

  test('mprotect of an unpopulated range calls no notifier (lazy start)', () => {
    const { h, mm, rec } = world();
    const a = h.mmap(mm, 2 * PAGE_SIZE, RW, PRIV);
    h.mprotect(mm, a, 2 * PAGE_SIZE, PROT_READ);
    expect(rec.log).toEqual([]);
  });

  test('exit_mmap: release (hlist) and RELEASE (itree) before any UNMAP or free', () => {
    const { h, mm, mirror, rec } = world();
    const a = h.mmap(mm, 3 * PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 3, 21);
    expect(mirror.fault(a, false)).toBe(0);
    const f = h.frameAt(mm, a);
    const gen = h.frameGen[f];
    let genAtRelease = -1;
    rec.sub.ops.release = () => { rec.log.push('release'); genAtRelease = h.frameGen[f]; };
    rec.log.length = 0;
    h.mmput(mm);
    expect(genAtRelease).toBe(gen);
    expect(rec.log).toEqual(['release']); // unhooked: the UNMAP that follows no longer reaches it
    expect(mirror.events.slice(-2)).toEqual([`RELEASE 0x0-${hex(0xc0000000)}`, `UNMAP 0x0-${hex(0xc0000000)}`]);
    expect(mirror.pt.size).toBe(0);
    expect(mirror.violations).toEqual([]);
    expect(h.gup(mm, a, false)).toBe(-EFAULT);
    expect(h.nrFreeFrames).toBe(64);
    h.checkInvariants();
  });

  test('read_begin collides while an invalidation is running (Linux would sleep)', () => {
    const { h, mm, mirror } = world();
    const a = h.mmap(mm, PAGE_SIZE, RW, PRIV);
    fill(h, mm, a, 1, 1);
    const seen: number[] = [];
    h.onPreempt = (label) => { if (label === 'after-start') seen.push(mirror.fault(a, false)); };
    h.madvise(mm, a, PAGE_SIZE, MADV_DONTNEED);
    expect(seen).toEqual([-EAGAIN]);
    h.onPreempt = null;
    expect(mirror.fault(a, false)).toBe(0);
  });
});
