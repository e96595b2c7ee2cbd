// Shared fixtures for host tests: a small host, a recording hlist subscriber, byte patterns.

import { expect } from 'vitest';
import {
  MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MMU_NOTIFY_EVENT_NAMES, PAGE_SIZE, PROT_READ, PROT_WRITE,
} from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import { MmuNotifier, mmuNotifierRegister } from '../../src/host/mmu-notifier.js';
import { DMirror, hex } from './dmirror.js';

export const RW = PROT_READ | PROT_WRITE;
export const PRIV = MAP_PRIVATE | MAP_ANONYMOUS;
export const SHARED = MAP_SHARED | MAP_ANONYMOUS;

export function recorder(mm: Mm): { log: string[]; sub: MmuNotifier } {
  const log: string[] = [];
  const sub = new MmuNotifier({
    invalidateRangeStart: (_s, r) => { log.push(`start ${MMU_NOTIFY_EVENT_NAMES[r.event]} ${hex(r.start)}-${hex(r.end)}`); return 0; },
    invalidateRangeEnd: (_s, r) => { log.push(`end ${MMU_NOTIFY_EVENT_NAMES[r.event]} ${hex(r.start)}-${hex(r.end)}`); },
    release: () => { log.push('release'); },
    changePte: (_s, _mm, addr) => { log.push(`change_pte ${hex(addr)}`); },
  });
  expect(mmuNotifierRegister(sub, mm)).toBe(0);
  return { log, sub };
}

export function fill(h: Host, mm: Mm, addr: number, pages: number, seed: number): void {
  for (let i = 0; i < pages; i++) {
    expect(h.accessUser(mm, addr + i * PAGE_SIZE, pattern(seed + i), true)).toBe(PAGE_SIZE);
  }
}

export function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < PAGE_SIZE; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Fast byte equality (vitest's deep equality is slow on 4 KiB arrays). */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  let diff = actual.length === expected.length ? -1 : Math.min(actual.length, expected.length);
  for (let i = 0; diff < 0 && i < actual.length; i++) if (actual[i] !== expected[i]) diff = i;
  if (diff >= 0) {
    expect.fail(`bytes differ at ${diff}: got ${actual[diff]} expected ${expected[diff]} (lengths ${actual.length}/${expected.length})`);
  }
}

export function readPage(h: Host, mm: Mm, addr: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  expect(h.accessUser(mm, addr, b, false)).toBe(PAGE_SIZE);
  return b;
}

/** Reclaims until the page at addr is swapped out (bounded). */
export function swapOut(h: Host, mm: Mm, addr: number): boolean {
  for (let i = 0; i < 64 && h.frameAt(mm, addr) >= 0; i++) h.reclaim(1);
  return h.frameAt(mm, addr) < 0;
}

/** A host with one mm, a mirror and a recorder, and a preempt hook that checks the mirror at
 *  every labelled point inside every mm operation. */
export function world(frames = 64, swapPages = 64) {
  const h = new Host({ frames, swapPages, seed: 7 });
  const mm = h.createMm();
  const mirror = new DMirror(h, mm);
  const rec = recorder(mm);
  const labels: string[] = [];
  h.onPreempt = (label) => {
    labels.push(label);
    expect(mirror.stale()).toEqual([]);
  };
  return { h, mm, mirror, rec, labels };
}
