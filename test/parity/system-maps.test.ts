// The system maps against QEMU, byte for byte:
// - guest-images/pgmap/pgmap.elf, the page-protection map: every combination of PDE flags (P RW
//   US), PTE flags (P RW US), CR0.WP, CPL 0/3 and access on a 4 KiB page, and PDE flags with PS
//   on a 4 MiB page (2,304 cases), each from a flushed TLB with A/D clear: the exception, error
//   code, CR2, the A/D bits the walk left and the values. The 13 accesses are read, write,
//   execute, eight read-modify-writes (ADD, XCHG, LOCK ADD, NOT, INC m8, failing CMPXCHG, BTS,
//   SHL), whose read is checked before their write as QEMU checks it (W=0 on a page not present,
//   A set before a read-only page's W=1 fault), MOVSD and SETcc m8. Then each access straddles
//   the page under test and a writable one, in both orders: which page faults, CR2, both pages'
//   A/D bits and no partial write. Last, in ring 3, stack instructions with the stack on the
//   page under test or running into it (PUSH, POP, CALL, RET, PUSHA, POPA, PUSHF, POPF, ENTER,
//   LEAVE), indirect CALL and PUSH m through it, and REP MOVS/STOS/LODS/SCAS running into it:
//   every register where the instruction ended or faulted (4,744 cases in all);
// - guest-images/idtmap/idtmap.elf, the interrupt-gate map: vector 0x40's gate with every type
//   byte (P, DPL, S, type; but the task and 16-bit gates the ABI refuses) under INT 0x40 from CPL
//   0 and 3, and INT3 and #UD through both 32-bit gate kinds at every DPL (496 cases): the vector
//   handled or the fault and its error code, CS, IF saved and inside the handler, the stack switch;
// - guest-images/segmap/segmap.elf, the segment-load map: every GDT selector at every RPL into ES,
//   SS, DS, FS, GS and (far JMP and CALL) CS, from CPL 0 and 3 (432 cases): loaded, or the fault.
// Under the native MMU, the shadow MMU (also on a host small enough to swap the page tables and
// the IDT, with KSM), tdp, and with the compiler eager.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAvailable, runOnQemu, runProgram } from '../../bench/qemu.js';
import { BIN, ROOT } from '../cli/helpers.js';

const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
if (!haveQemu && !inCi) console.warn('\n[system maps] qemu-system-i386 not found: SKIPPING the page-protection and gate maps (in CI they fail instead)\n');

const MAPS: Record<string, { done: RegExp; kinds: string[] }> = {
  'pgmap/pgmap.elf': {
    done: /^pgmap: 4744 cases$/m,
    kinds: [
      ...['0', '2', '3', '4', '5', '6', '7'].map((e) => ` v=0e err=${e} `),
      ...['add   v=0e err=0 ', 'xchg  v=0e err=4 ', 'incb  v=0e err=7 ', 'lock  v=ff err=0 ', 'cmpxc v=0e err=3 ', 'movs  v=0e err=2 '],
      'write v=0e err=2 cr2=1000 AD=60,00',
      'add   v=0e err=3 cr2=ffe AD=20,20',
      'user pusha  pte=000 v=0e err=6 cr2=1000 fl=00 AD=60,00',
      'user popa   pte=000 v=0e err=4 cr2=1000 esi-',
      'user movs   pte=005 v=0e err=7 cr2=1000 ecx-2 esi+8 edi+8',
      'user enter3 pte=007 v=ff err=0 cr2=0 ebp-104 esp-18',
    ]
  },
  'idtmap/idtmap.elf': { done: /^idtmap: 496 cases$/m, kinds: ['fault v=0d err=202', 'fault v=0b err=202', 'fault v=0d err=1a', 'handled v=40', 'handled v=03', 'handled v=06'] },
  'segmap/segmap.elf': { done: /^segmap: 432 cases$/m, kinds: ['ss sel=13 cpl=0 -> fault v=0d err=10', 'ss sel=23 cpl=3 -> loaded 23', 'call sel=18 cpl=3 -> loaded 1b', 'jmp sel=0b cpl=0 -> fault v=0d err=8', 'ds sel=08 cpl=0 -> loaded 8'] },
};

const CONFIGS: Record<string, string[]> = {
  native: ['--mmu', 'native'],
  shadow: ['--mmu', 'shadow'],
  'shadow, 256 KiB host, KSM': ['--mmu', 'shadow', '--host-mem', '256K', '--ksm'],
  tdp: ['--mmu', 'tdp', '--host-mem', '256K'],
  'shadow, compiler eager': ['--mmu', 'shadow', '--jit', 'on', '--jit-hot', '2'],
};

const cases = Object.keys(MAPS).flatMap((image) => Object.keys(CONFIGS).map((config) => [image, config] as [string, string]));

describe.skipIf(!haveQemu && !inCi)('the page-protection, interrupt-gate and segment-load maps against QEMU', () => {
  it.concurrent.each(cases)('%s, %s: every case as on QEMU', async (image, config) => {
    expect(haveQemu, 'qemu-system-i386 is required under CI=true (Debian package qemu-system-x86)').toBe(true);
    const path = join(ROOT, 'guest-images', image);
    const [q, ours] = await Promise.all([runOnQemu(path, 60_000), runProgram(process.execPath, [BIN, 'run', ...CONFIGS[config]!, path], 60_000)]);
    const qt = q.stdout.toString('latin1');
    const map = MAPS[image]!;
    expect(qt).toMatch(map.done);
    // outcomes of every kind, so the map is not trivially equal
    for (const k of map.kinds) expect(qt).toContain(k);
    expect(ours.stdout.toString('latin1'), ours.stderr).toBe(qt);
    expect(ours.status).toBe(0);
  }, 120_000);
});
