// The page-protection map against QEMU: guest-images/pgmap/pgmap.elf tries every combination of
// PDE flags (P RW US), PTE flags (P RW US), CR0.WP, CPL 0/3 and read/write/execute on a 4 KiB page,
// and PDE flags with PS on a 4 MiB page (864 cases), each from a flushed TLB with A/D clear, and
// prints the exception, error code, CR2, the A/D bits the walk left and the values. The lines must
// be QEMU's, byte for byte, under the native MMU, the shadow MMU (also on a host small enough to
// swap the page tables and test page, with KSM), tdp, and with the compiler eager.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAvailable, runOnQemu, runProgram } from '../../bench/qemu.js';
import { BIN, ROOT } from '../cli/helpers.js';

const IMAGE = join(ROOT, 'guest-images', 'pgmap', 'pgmap.elf');
const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
if (!haveQemu && !inCi) console.warn('\n[pgmap] qemu-system-i386 not found: SKIPPING the page-protection map comparison (in CI it fails instead)\n');

const CONFIGS: Record<string, string[]> = {
  native: ['--mmu', 'native'],
  shadow: ['--mmu', 'shadow'],
  'shadow, 256 KiB host, KSM': ['--mmu', 'shadow', '--host-mem', '256K', '--ksm'],
  tdp: ['--mmu', 'tdp', '--host-mem', '256K'],
  'shadow, compiler eager': ['--mmu', 'shadow', '--jit', 'on', '--jit-hot', '2'],
};

describe.skipIf(!haveQemu && !inCi)('the page-protection map against QEMU', () => {
  it.concurrent.each(Object.keys(CONFIGS))('%s: every case as on QEMU', async (name) => {
    expect(haveQemu, 'qemu-system-i386 is required under CI=true (Debian package qemu-system-x86)').toBe(true);
    const [q, ours] = await Promise.all([runOnQemu(IMAGE, 60_000), runProgram(process.execPath, [BIN, 'run', ...CONFIGS[name]!, IMAGE], 60_000)]);
    const qt = q.stdout.toString('latin1');
    expect(qt).toMatch(/^pgmap: 864 cases$/m);
    // faults of every kind, so the map is not trivially equal
    for (const err of ['0', '2', '3', '4', '5', '6', '7']) expect(qt).toContain(` v=0e err=${err} `);
    expect(ours.stdout.toString('latin1'), ours.stderr).toBe(qt);
    expect(ours.status).toBe(0);
  }, 120_000);
});
