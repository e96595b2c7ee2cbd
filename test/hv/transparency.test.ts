// Transparency: a guest cannot tell the shadow MMU from the processor's own MMU. Every image in
// guest-images/ prints exactly the same bytes and exits with the same status under --mmu shadow
// as under --mmu native (the QEMU parity tests tie native to QEMU), also when the host is so
// small that guest pages are evicted and swapped back continuously, and with KSM merging. The
// stale-access detector is on (check) in every shadow run, and invariants are checked at the end.

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { nullLogger } from '../../src/obs/log.js';
import { runGuest, type GuestRunOptions } from '../../src/sim/run-guest.js';
import { checkVmInvariants } from '../../src/hv/check.js';

const dir = fileURLToPath(new URL('../../guest-images/', import.meta.url));
const MEM = 64 * 1024 * 1024;
/** Long benchmarks are exercised by the benchmark, not here; their short variants are. */
const SKIP = new Set(['cpubench.elf', 'intbench.elf']);
const images = readdirSync(dir)
  .filter((f) => f.endsWith('.elf') && !SKIP.has(f))
  .sort();

const cache = new Map<string, { out: string; code: number }>();
function native(name: string): { out: string; code: number } {
  let r = cache.get(name);
  if (r === undefined) {
    const bytes: number[] = [];
    const m = new NativeMachine({ image: readFileSync(dir + name), ramBytes: MEM, output: { write: (b) => void bytes.push(b) } });
    const res = m.run(2e9);
    r = { out: Buffer.from(bytes).toString('latin1'), code: res.exitCode };
    cache.set(name, r);
  }
  return r;
}

function shadow(name: string, extra: Partial<GuestRunOptions>): { out: string; code: number; swapIns: number; merges: number } {
  const bytes: number[] = [];
  const g = runGuest({
    image: readFileSync(dir + name),
    memBytes: MEM,
    output: { write: (b) => void bytes.push(b) },
    log: nullLogger,
    check: true,
    maxInsns: 2e9,
    seed: 3,
    ...extra,
  });
  expect(g.vm.stats.stale_accesses).toBe(0);
  checkVmInvariants(g.vm);
  g.host.checkInvariants();
  return { out: Buffer.from(bytes).toString('latin1'), code: g.result.exitCode, swapIns: g.host.stats.swapIns, merges: g.host.stats.ksmMerges };
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
