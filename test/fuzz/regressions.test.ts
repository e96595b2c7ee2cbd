// Regression tests for what the fuzzer found, each a hand-written guest small enough to read,
// run under --mmu native and --mmu shadow (tiny host) through the fuzzer's own runners.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFuzzImages } from '../../bench/fuzz.js';
import { caseAt, caseImage, runCase, runNative, runShadow } from '../../src/sim/fuzz/fuzz-case.js';
import { tempDir } from '../cli/helpers.js';
import { tinyGuest } from '../machine/tiny-elf.js';
import { qemuArgs, qemuAvailable, qemuCommand, qemuGuestExit, runProgram } from '../../bench/qemu.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

const BASE = 0x100000;
const PD = 0x110000;
const PT = 0x111000;
const PT2 = 0x112000;

/**
 * Paging on with PD[0] -> PT (identity for 0..4 MiB) and PD[1] -> an all-zero page table (4..8
 * MiB not present); an IDT whose #PF gate exits with the guest's own PD[1] & 0x20 (its A bit)
 * plus 0x40 as a marker. Nothing but the faulting access at 4 MiB ever walks through PD[1].
 */
function pdeAccessedGuest(): Uint8Array {
  const code: number[] = [];
  const idt = BASE + 0x800;
  const handler = BASE + 0x400;
  // GDT, IDT; PD[0] = PT|7 with PT[k] = k<<12|3; PD[1] = PT2|7; CR3 = PD; CR0.PG
  code.push(0x0f, 0x01, 0x15, ...le32(BASE + 0x7d8)); // lgdt [BASE+0x7d8] (GDTR is undefined at entry)
  code.push(0x0f, 0x01, 0x1d, ...le32(BASE + 0x7f0)); // lidt [BASE+0x7f0]
  code.push(0xc7, 0x05, ...le32(PD), ...le32(PT | 7)); // mov dword [PD], PT|7
  code.push(0x31, 0xc9); // xor ecx, ecx
  // loop: eax = ecx << 12 | 3; mov [PT + ecx*4], eax; inc ecx; cmp ecx, 1024; jb loop
  const loop = code.length;
  code.push(0x89, 0xc8, 0xc1, 0xe0, 0x0c, 0x83, 0xc8, 0x03); // mov eax, ecx; shl eax, 12; or eax, 3
  code.push(0x89, 0x04, 0x8d, ...le32(PT)); // mov [PT + ecx*4], eax
  code.push(0x41, 0x81, 0xf9, ...le32(1024)); // inc ecx; cmp ecx, 1024
  code.push(0x72, (loop - (code.length + 2)) & 0xff); // jb loop
  code.push(0xc7, 0x05, ...le32(PD + 4), ...le32(PT2 | 7)); // PD[1] = PT2|7, A clear; PT2 all zero
  code.push(0xb8, ...le32(PD), 0x0f, 0x22, 0xd8); // mov eax, PD; mov cr3, eax
  code.push(0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0); // cr0 |= PG
  code.push(0xbc, ...le32(0x90000)); // mov esp, 0x90000
  code.push(0x8b, 0x05, ...le32(0x400000)); // mov eax, [4 MiB]: #PF, the PTE is not present
  code.push(0xeb, 0xfe);
  const bytes = new Uint8Array(0x900);
  bytes.set(code, 0);
  // #PF handler: mov eax, [PD + 4]; and eax, 0x20; or eax, 0x40; out 0xf4, eax
  bytes.set([0xa1, ...le32(PD + 4), 0x83, 0xe0, 0x20, 0x83, 0xc8, 0x40, 0xe7, 0xf4, 0xeb, 0xfe], handler - BASE);
  // GDTR at +0x7d8 over a flat GDT at +0x7e0 (null, code 0x08, data 0x10); IDTR at +0x7f0, IDT
  // at +0x800 with gate 14
  const dv = new DataView(bytes.buffer);
  dv.setUint16(0x7d8, 23, true);
  dv.setUint32(0x7da, BASE + 0x7e0, true);
  bytes.set([0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0], 0x7e8);
  dv.setUint16(0x7f0, 15 * 8 - 1, true);
  dv.setUint32(0x7f2, idt, true);
  dv.setUint32(0x800 + 14 * 8, (0x08 << 16) | (handler & 0xffff), true);
  dv.setUint32(0x800 + 14 * 8 + 4, (handler & 0xffff0000) | 0x8e00, true);
  return tinyGuest(bytes);
}

describe('fuzz regressions', () => {
  it('a page walk that faults at the PTE still sets the PDE accessed bit, under both MMUs (as QEMU does)', () => {
    const image = pdeAccessedGuest();
    const native = runNative(image, 4 << 20, 1_000_000);
    const shadow = runShadow(image, 4 << 20, 1_000_000, 160 * 1024);
    expect(native.status, native.message).toBe(0x60);
    expect(shadow.status, shadow.message).toBe(0x60);
  });
});

describe('fuzz generator regressions (cases of the 100k sweep, seed 1)', () => {
  const images = loadFuzzImages();
  it('case 32337 and 42510: QEMU streams stay inside scratch and never shift memory by 0, so QEMU agrees', async () => {
    if (!qemuAvailable()) {
      if (process.env.CI) throw new Error('qemu-system-i386 is required under CI=true');
      console.warn('[fuzz] qemu-system-i386 not found: generator regressions run without QEMU');
    }
    for (const index of [32337, 42510]) {
      const spec = caseAt(1, index, images.names.length);
      expect(spec.kind === 'stream' && spec.stream.profile.qemu).toBe(true);
      const r = runCase(spec, images);
      expect(r.findings).toEqual([]);
      if (!qemuAvailable()) continue;
      const dir = tempDir('fuzz-reg');
      const file = join(dir, 'case.elf');
      writeFileSync(file, caseImage(spec, images).image);
      const q = await runProgram(...qemuCommand(qemuArgs(file)), 60_000);
      expect(q.stdout.toString('latin1'), `case ${index}`).toBe(r.native.serial);
      expect(qemuGuestExit(q.status)).toBe(r.native.status);
    }
  });

  it('case 45010: a mutated INVLPG operand leaves a stale translation that native keeps and shadow does not; images are judged by the contract only', () => {
    const spec = caseAt(1, 45010, images.names.length);
    expect(spec.kind).toBe('image');
    const r = runCase(spec, images);
    expect(r.native.serial).toContain('INVLPG makes a changed PTE visible FAILED');
    expect(r.shadow.serial).toContain('INVLPG makes a changed PTE visible ok');
    expect(r.findings).toEqual([]);
  });
});
