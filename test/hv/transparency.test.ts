// Transparency: a guest cannot tell the shadow MMU from the processor's own MMU. Every image in
// guest-images/ prints exactly the same bytes and exits with the same status under --mmu shadow
// as under --mmu native (the QEMU parity tests tie native to QEMU), also when the host is so
// small that guest pages are evicted and swapped back continuously, and with KSM merging. The
// stale-access detector is on (check) in every shadow run, and invariants are checked at the end.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GuestRunOptions } from '../../src/sim/run-guest.js';
import { IMAGE_MEM as MEM, runChecked, runNative } from './image-runs.js';

const dir = fileURLToPath(new URL('../../guest-images/', import.meta.url));
/** Long benchmarks are exercised by the benchmark, not here; their short variants are. */
const SKIP = new Set(['cpubench.elf', 'intbench.elf']);
const images = readdirSync(dir)
  .filter((f) => f.endsWith('.elf') && !SKIP.has(f))
  .sort();

const cache = new Map<string, { out: string; code: number }>();
function native(name: string): { out: string; code: number } {
  let r = cache.get(name);
  if (r === undefined) cache.set(name, (r = runNative(dir + name)));
  return r;
}

function shadow(name: string, extra: Partial<GuestRunOptions>): { out: string; code: number; swapIns: number; merges: number } {
  const { out, code, run } = runChecked(dir + name, extra);
  return { out, code, swapIns: run.host.stats.swapIns, merges: run.host.stats.ksmMerges };
}

describe('shadow MMU is invisible to guests', () => {
  it('has guest images to run', () => {
    expect(images.length).toBeGreaterThanOrEqual(3);
  });

  for (const name of images) {
    it(`${name}: same bytes and status as native, plenty of host memory`, () => {
      const n = native(name);
      const s = shadow(name, {});
      expect(s.out).toBe(n.out);
      expect(s.code).toBe(n.code);
    });

    it(`${name}: same bytes with a host too small for the guest's working set (constant swapping)`, () => {
      const n = native(name);
      const s = shadow(name, { hostMemBytes: 64 * 1024, swapBytes: MEM });
      expect(s.out).toBe(n.out);
      expect(s.code).toBe(n.code);
      expect(s.swapIns).toBeGreaterThan(0);
    });

    it(`${name}: same bytes with KSM merging guest pages`, () => {
      const n = native(name);
      const s = shadow(name, { ksm: true, hostMemBytes: 8 * 1024 * 1024 });
      expect(s.out).toBe(n.out);
      expect(s.code).toBe(n.code);
    });
  }
});
