// `--mmu tdp` is invisible to guests: the images in guest-images/ print exactly the same bytes
// and exit with the same status under the TDP MMU as under QEMU (the oracle; the parity and
// transparency tests tie native and shadow to the same bytes), some also on a host so small that
// guest pages are swapped out and back continuously or with KSM merging pages, and bench hv's
// TLB-miss guest (shortened; bench hv itself compares it on native, shadow and tdp). The
// stale-access detector stops the host-pressure runs at the first stale access, and the
// invariant checkers run at the end of every run. Without QEMU: fail under CI=true, compare with
// the native MMU (and say so) elsewhere.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GuestRunOptions } from '../../src/sim/run-guest.js';
import { qemuAvailable, qemuGuestExit, runOnQemu } from '../../bench/qemu.js';
import { IMAGE_MEM as MEM, runChecked, runNative } from './image-runs.js';

const dir = fileURLToPath(new URL('../../guest-images/', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.elf'));
/**
 * Long images are exercised through their -short variants (X.elf beside X-short.elf). Compute-only
 * images (no paging, a handful of pages touched: every access goes through the same few gpa->hpa
 * leaves) cost the most seconds and test the TDP MMU least; they are run by bench hv (cpubench)
 * and were compared with QEMU under tdp by hand, and a test budget of seconds goes to the
 * page-table and memory-heavy guests instead.
 */
const COMPUTE_ONLY = new Set(['cpufuzz.elf', 'cpubench-short.elf', 'intbench-short.elf']);
const images = all.filter((f) => !all.includes(f.replace(/\.elf$/, '-short.elf')) && !COMPUTE_ONLY.has(f)).sort();

const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
if (!haveQemu && !inCi) console.warn('\n[tdp-images] qemu-system-i386 not found: comparing --mmu tdp with the native MMU instead of QEMU\n');

const native = runNative;

function hv(path: string, extra: Partial<GuestRunOptions>): { out: string; code: number; swapIns: number; merges: number; tdpFaults: number; maxRefs: number } {
  const { out, code, run: g } = runChecked(path, extra);
  expect(g.result.reason).not.toBe('budget');
  return {
    out,
    code,
    swapIns: g.host.stats.swapIns,
    merges: g.host.stats.ksmMerges,
    tdpFaults: g.vm.tdp === null ? 0 : g.vm.stats.pf_fixed,
    maxRefs: g.vm.tdp === null ? 0 : g.vm.tdp.tdpStats.maxRefsPerMiss,
  };
}

/** Images whose memory behaviour the host matters for: also run on a 64 KiB host that swaps
 *  constantly, and/or with KSM merging their pages. */
const TINY_HOST = new Set(['pagetest.elf']);
const KSM = new Set(['pagetest.elf', 'pagestress.elf']);
/** The bench hv TLB-miss guest, shortened. */
const TLBSTRESS = fileURLToPath(new URL('../../guest-images/bench/tlbstress.elf', import.meta.url));
const TLBSTRESS_CMDLINE = 'accesses=20000';

/** The oracle's bytes and status: QEMU; without QEMU (and not in CI) the native MMU. */
async function oracle(path: string, cmdline?: string): Promise<{ out: string; code: number }> {
  if (haveQemu) {
    const q = await runOnQemu(path, 60_000, cmdline);
    expect(q.timedOut).toBe(false);
    return { out: q.stdout.toString('latin1'), code: (qemuGuestExit(q.status) ?? -1) & 0xff };
  }
  if (inCi) throw new Error('qemu-system-i386 is not installed but CI is set (apt-get install -y qemu-system-x86)');
  return native(path, cmdline);
}

describe('TDP MMU is invisible to guests (same bytes as QEMU and native; the transparency and parity tests tie shadow and native to them)', () => {
  it('has guest images to run', () => {
    expect(images.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of images) {
    const tiny = TINY_HOST.has(name);
    const ksm = KSM.has(name);
    it(`${name}: tdp = ${haveQemu ? 'QEMU' : 'native'}${tiny ? ', also with constant swapping' : ''}${ksm ? ', also with KSM' : ''}`, async () => {
      const q = oracle(dir + name);
      // The detector is on where the host takes pages away (below); here only the bytes matter.
      const t = hv(dir + name, { mmu: 'tdp', check: false });
      expect(t.tdpFaults).toBeGreaterThan(0); // the TDP MMU really ran
      if (tiny) {
        const r = hv(dir + name, { mmu: 'tdp', hostMemBytes: 64 * 1024, swapBytes: MEM });
        expect(r.out).toBe(t.out);
        expect(r.code).toBe(t.code);
        expect(r.swapIns).toBeGreaterThan(0);
      }
      if (ksm) {
        const r = hv(dir + name, { mmu: 'tdp', ksm: true, hostMemBytes: 8 * 1024 * 1024 });
        expect(r.out).toBe(t.out);
        expect(r.code).toBe(t.code);
        expect(r.merges).toBeGreaterThan(0);
      }
      const o = await q;
      expect(t.out).toBe(o.out);
      expect(t.code).toBe(o.code);
    }, 120_000);
  }

  it(`bench/tlbstress.elf (short): tdp = ${haveQemu ? 'QEMU' : 'native'}, and the walk reads 8 entries per miss under tdp`, async () => {
    const q = oracle(TLBSTRESS, TLBSTRESS_CMDLINE);
    const t = hv(TLBSTRESS, { mmu: 'tdp', cmdline: TLBSTRESS_CMDLINE, check: false });
    expect(t.out).toMatch(/^tlbstress: PASS$/m);
    expect(t.maxRefs).toBe(8);
    const o = await q;
    expect(t.out).toBe(o.out);
    expect(t.code).toBe(o.code);
  }, 120_000);
});
