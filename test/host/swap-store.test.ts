// The in-memory swap store allocates its backing lazily, so a large swap device costs only what
// is swapped: the scale benchmark's 2 GiB swap must not cost 2 GiB up front.
import { describe, expect, it } from 'vitest';
import { MemorySwapStore } from '../../src/host/swap.js';

describe('MemorySwapStore', () => {
  it('holds no memory until written, then 1 MiB chunks; unwritten slots read as zeros', () => {
    const s = new MemorySwapStore(1 << 20); // a 4 GiB device
    expect(s.bytesAllocated).toBe(0);
    const page = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    expect(s.write(300_000, page)).toBe(0);
    expect(s.bytesAllocated).toBe(1 << 20);
    const back = new Uint8Array(4096).fill(0xee);
    expect(s.read(300_000, back)).toBe(0);
    expect(back).toEqual(page);
    s.read(300_001, back);
    expect(back.every((b) => b === 0)).toBe(true);
    s.read(5, back); // a chunk never written
    expect(back.every((b) => b === 0)).toBe(true);
    expect(s.bytesAllocated).toBe(1 << 20);
  });
});
