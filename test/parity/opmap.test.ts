// The opcode map against QEMU: guest-images/opmap/opmap.elf runs every one-byte and 0F opcode in
// memory and register form with each ModRM reg field, the memory forms again with an
// operand-size prefix, MOV to and from the debug registers, and the memory forms and the
// privileged ones at CPL 3 (12,500 forms), from known registers, flags,
// stack and memory, and prints per form the exception raised, where, its error code, a hash of
// the registers and memory after it and the flags. QEMU's lines and ours must be identical except
// for the forms below, which differ by design; for those the test checks what we do instead, so
// an unlisted difference (an opcode we decode wrongly, #UD where QEMU runs it, a wrong result) or
// a listed one that changed fails. Under the shadow MMU the lines must equal native's.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAvailable, runOnQemu, runProgram } from '../../bench/qemu.js';
import { BIN, ROOT } from '../cli/helpers.js';

const IMAGE = join(ROOT, 'guest-images', 'opmap', 'opmap.elf');
const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
if (!haveQemu && !inCi) console.warn('\n[opmap] qemu-system-i386 not found: SKIPPING the opcode-map comparison (in CI it fails instead)\n');

interface Form {
  key: string; // e.g. "0f ae/5r", "66 c7/0m"
  v: number;
  off: string;
  err: string;
  h: string;
  f: string;
}

function parse(text: string): Form[] {
  const forms: Form[] = [];
  for (const line of text.split('\n')) {
    const m = /^((?:r3 )?(?:66 )?(?:0f )?[0-9a-f]{2}\/[0-7][mr]) v=([0-9a-f]+) off=([0-9a-f]+) err=([0-9a-f]+) h=([0-9a-f]{8}) f=([0-9a-f]+)$/.exec(line);
    if (m) forms.push({ key: m[1]!, v: parseInt(m[2]!, 16), off: m[3]!, err: m[4]!, h: m[5]!, f: m[6]! });
  }
  return forms;
}

const bare = (key: string): string => key.replace(/^r3 /, '');
const o16 = (key: string): boolean => bare(key).startsWith('66 ');
const byte = (key: string): number => parseInt(bare(key).replace(/^(66 )?(0f )?/, '').slice(0, 2), 16);
const twoByte = (key: string): boolean => bare(key).replace(/^66 /, '').startsWith('0f ');
const reg = (key: string): number => Number(key[key.length - 2]);
const isMem = (key: string): boolean => key.endsWith('m');

/** x87/MMX/SSE state and instructions: GUEST-ABI "No FPU, MMX or SSE" (#UD here; QEMU's qemu32 has them). */
function fpuSimd(key: string): boolean {
  if (!twoByte(key)) return false;
  const b = byte(key);
  if ((b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) || (b >= 0xc2 && b <= 0xc6) || b >= 0xd0) return true;
  return b === 0xae && isMem(key) && reg(key) < 2; // FXSAVE FXRSTOR
}

/** Why a form may differ from QEMU ('' when it must not), with the check of what we do instead. */
function designed(key: string): { why: string; ours: (o: Form, all: Map<string, Form>) => boolean } | null {
  const ud = (o: Form): boolean => o.v === 6 && o.off === '0';
  const b = byte(key);
  if (!twoByte(key) && (b === 0x8f || b === 0xc6 || b === 0xc7) && reg(key) !== 0) {
    return { why: 'POP/MOV with a reg field other than 0: undefined in the SDM (#UD here); QEMU ignores the field', ours: ud };
  }
  if (!twoByte(key) && (b === 0xf6 || b === 0xf7) && reg(key) === 1) {
    // hardware runs /1 as TEST: our results must be /0's exactly
    return { why: 'TEST /1, the hardware alias of /0 (QEMU: #UD)', ours: (o, all) => {
      const t = all.get(key.replace('/1', '/0'))!;
      return o.v === 0xff && o.h === t.h && o.f === t.f;
    } };
  }
  if (twoByte(key) && (b === 0x30 || b === 0x32 || b === 0x34 || b === 0x35)) {
    return { why: 'WRMSR RDMSR SYSENTER SYSEXIT: CPUID here reports no MSR and no SEP (#UD)', ours: ud };
  }
  if (fpuSimd(key)) return { why: 'x87/MMX/SSE (#UD, GUEST-ABI)', ours: ud };
  return null;
}

/** Flags the SDM leaves undefined, which QEMU computes its own way (QEMU_DIFFERENCES): BSF/BSR,
 *  and SHLD/SHRD's OF for counts above 1. */
const undefinedFlags = (key: string): boolean => twoByte(key) && [0xa4, 0xa5, 0xac, 0xad, 0xbc, 0xbd].includes(byte(key));
/** A 16-bit SHLD/SHRD by an immediate of 0xF8 (the sled byte): count 24, above the operand size,
 *  where the SDM leaves the result undefined too. */
const undefinedResult = (key: string): boolean => o16(key) && twoByte(key) && (byte(key) === 0xa4 || byte(key) === 0xac);

describe.skipIf(!haveQemu && !inCi)('the opcode map against QEMU', () => {
  it('every form behaves as on QEMU, except the forms that differ by design, which do what we say', async () => {
    expect(haveQemu, 'qemu-system-i386 is required under CI=true (Debian package qemu-system-x86)').toBe(true);
    const [q, n, s] = await Promise.all([
      runOnQemu(IMAGE, 120_000),
      runProgram(process.execPath, [BIN, 'run', IMAGE, '--mem', '64M', '--jit', 'off'], 120_000),
      runProgram(process.execPath, [BIN, 'run', IMAGE, '--mem', '64M', '--mmu', 'shadow', '--jit', 'off'], 120_000),
    ]);
    const qt = q.stdout.toString('latin1');
    const nt = n.stdout.toString('latin1');
    expect(qt).toMatch(/^opmap: done$/m);
    expect(nt).toMatch(/^opmap: done$/m);
    expect(s.stdout.toString('latin1'), 'shadow MMU vs native').toBe(nt);
    const qf = parse(qt);
    const nf = parse(nt);
    expect(nf.length).toBeGreaterThan(12000);
    expect(nf.map((f) => f.key)).toEqual(qf.map((f) => f.key));
    const ours = new Map(nf.map((f) => [f.key, f]));
    const wrong: string[] = [];
    let designedCount = 0;
    for (let i = 0; i < qf.length; i++) {
      const a = qf[i]!;
      const o = nf[i]!;
      const line = (x: Form): string => `v=${x.v.toString(16)} off=${x.off} err=${x.err} h=${x.h} f=${x.f}`;
      const d = designed(a.key);
      if (d !== null) {
        designedCount++;
        if (!d.ours(o, ours)) wrong.push(`${a.key}: ${d.why}, but ours is ${line(o)}`);
        continue;
      }
      const same = a.v === o.v && a.off === o.off && a.err === o.err && ((a.h === o.h && (a.f === o.f || undefinedFlags(a.key))) || undefinedResult(a.key));
      if (!same) wrong.push(`${a.key}: QEMU ${line(a)}, ours ${line(o)}`);
    }
    expect(wrong.slice(0, 40)).toEqual([]);
    expect(designedCount).toBeGreaterThan(0);
  }, 240_000);
});
