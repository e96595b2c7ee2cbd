// The WebAssembly arena's link stamps (src/cpu/jit/wasm-arena.ts): a region tests a mirrored
// link's validity with one comparison against the calling Cpu's stamp, so a stamp must name one
// (Cpu, TLB epoch, invalidation count) and never come back for another; when the 31-bit stamps
// run out, every link mirrored before must stop being valid.

import { describe, expect, it } from 'vitest';
import { Block } from '../../src/cpu/insn.js';
import { allocRam, arenaOf, LINK_WORDS, LK_STAMP, type WasmArena } from '../../src/cpu/jit/wasm-arena.js';

function arena(): WasmArena {
  const a = arenaOf(allocRam(1 << 20, true));
  if (a === null) throw new Error('no WebAssembly here');
  return a;
}

/** Mirror a block with one link into a fresh slot under `stamp`; returns the slot. */
function mirror(a: WasmArena, stamp: number): number {
  const b = new Block();
  b.wslot = a.takeSlot();
  b.l0eip = 0x1000;
  a.mirrorLinks(b, stamp);
  return b.wslot;
}
const stampOf = (a: WasmArena, slot: number): number => a.i32[(a.linkBase >> 2) + slot * LINK_WORDS + LK_STAMP];

describe('link stamps', () => {
  it('the same triple keeps its stamp; a new epoch, count or Cpu gets one never given before', () => {
    const a = arena();
    const seen = new Set<number>();
    const s = a.stamp(1, 0, 0);
    expect(s).not.toBe(0);
    seen.add(s);
    expect(a.stamp(1, 0, 0)).toBe(s);
    for (const [cpu, epoch, inv] of [[1, 1, 0], [1, 1, 1], [2, 1, 1], [1, 2, 1], [2, 1, 2]]) {
      const t = a.stamp(cpu, epoch, inv);
      expect(seen.has(t), `(${cpu}, ${epoch}, ${inv})`).toBe(false);
      expect(t).not.toBe(0);
      seen.add(t);
      expect(a.stamp(cpu, epoch, inv)).toBe(t);
    }
  });

  it('when stamps run out, every mirrored link is invalid and numbering starts again', () => {
    const a = arena();
    const old = a.stamp(1, 5, 5);
    const slots = [mirror(a, old), mirror(a, old), mirror(a, a.stamp(2, 0, 0))];
    for (const s of slots) expect(stampOf(a, s)).not.toBe(0);
    (a as unknown as { nextStamp: number }).nextStamp = 0x7fffffff;
    const fresh = a.stamp(1, 6, 5);
    expect(fresh).toBe(1);
    // no stamp is 0: a zeroed record matches no Cpu, whatever it gets next
    for (const s of slots) expect(stampOf(a, s)).toBe(0);
    // numbers are given out again, so Cpu 2 at the triple it had before must be stamped anew,
    // not keep a number another triple now has
    const other = a.stamp(3, 0, 0);
    const again = a.stamp(2, 0, 0);
    expect(new Set([fresh, other, again]).size).toBe(3);
  });
});
