// Guest-visible exactness of the processor where the dispatch loop's bookkeeping meets the
// architecture (issue 12): time-syncing handlers in the middle of a block, faults raised while an
// event is being delivered under an Mmu that exits (as the shadow MMU does), the virtual-time rule
// for REP string instructions, exception loops that never retire an instruction, and TLB offsets
// of backing pages above 2 GiB. Each case runs on the native Mmu and on an Mmu that exits on the
// first touch of every page, so the two paths a guest can take are compared with each other.

import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { GuestError } from '../../src/cpu/errors.js';
import { EV_EXC, EV_IRQ, EV_NONE } from '../../src/cpu/interrupts.js';
import { NativeMmu } from '../../src/cpu/paging.js';
import {
  EXIT_BUDGET,
  EXIT_MMU,
  EXIT_STOP,
  EXIT_TRIPLE_FAULT,
} from '../../src/cpu/ports.js';
import { ExitingMmu, CODE, IDT, KSTACK, type TestMachine, gate, load, makeMachine, r32, setupSystem, w32 } from './harness.js';

type Mode = 'native' | 'exiting';
const MODES: Mode[] = ['native', 'exiting'];

function machine(mode: Mode, memBytes = 8 << 20): TestMachine {
  return makeMachine(memBytes, mode === 'exiting' ? (inner) => new ExitingMmu(inner) : undefined);
}

/** run() in slices of `slice` until the stop port is written; EXIT_MMU re-enters like a VMM. */
function runAll(m: TestMachine, budget = 1_000_000, slice = 1_000_000): number {
  for (let k = 0; k < 10_000_000; k++) {
    const left = budget - m.cpu.icount;
    if (left <= 0) return EXIT_BUDGET;
    const e = m.cpu.run(Math.min(slice, left));
    if (e === EXIT_MMU || e === EXIT_BUDGET) continue;
    return e;
  }
  throw new Error('runAll: no end');
}

const COUNTER = 0x5000;
const INC_COUNTER = [0xff, 0x05, COUNTER & 0xff, COUNTER >> 8, 0, 0]; // inc dword [COUNTER]
const JNZ_NOT_TAKEN = [0x31, 0xc9, 0x75, 0x00]; // xor ecx, ecx; jnz +0 (ends the block, not taken)
const STOP = [0xb0, 0x00, 0xe6, 0xf4]; // mov al, 0; out 0xf4, al

describe('a handler that syncs time in the middle of a block does not re-run the block tail', () => {
  // Each prefix is an instruction that makes time exact or touches EIP-sensitive state without
  // being a branch; the increment after it, in the same block, must happen exactly once.
  const cases: Array<[string, number[]]> = [
    ['RDTSC', [0x0f, 0x31]],
    ['CPUID', [0x31, 0xc0, 0x0f, 0xa2]],
    ['PUSHF', [0x9c, 0x58]],
    ['CLI', [0xfa]],
    ['LEA', [0x8d, 0x05, 0, 0, 0, 0]],
  ];
  for (const mode of MODES) {
    for (const [name, prefix] of cases) {
      it(`${name} then INC [mem] in one block: the counter rises once (${mode})`, () => {
        const m = machine(mode);
        load(m, CODE, [...prefix, ...INC_COUNTER, ...JNZ_NOT_TAKEN, ...STOP]);
        expect(runAll(m)).toBe(EXIT_STOP);
        expect(r32(m, COUNTER)).toBe(1);
        expect(m.io.exitValue).toBe(0);
      });
    }
    it(`RDTSC reads the count of units retired before it, and the count stays exact after (${mode})`, () => {
      const m = machine(mode);
      // nop; nop; rdtsc; mov ebx, eax; inc [COUNTER]; xor ecx,ecx; jnz +0; stop
      load(m, CODE, [0x90, 0x90, 0x0f, 0x31, 0x89, 0xc3, ...INC_COUNTER, ...JNZ_NOT_TAKEN, ...STOP]);
      expect(runAll(m)).toBe(EXIT_STOP);
      expect(m.cpu.regs[3]).toBe(2);
      expect(r32(m, COUNTER)).toBe(1);
      // nop nop rdtsc mov inc xor jnz mov out
      expect(m.cpu.icount).toBe(9);
    });
  }
});

// mov ecx, imm32; mov edi, imm32; mov esi, imm32; mov eax, imm32
const movEcx = (v: number): number[] => [0xb9, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEdi = (v: number): number[] => [0xbf, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEsi = (v: number): number[] => [0xbe, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const REP_STOSB = [0xf3, 0xaa];
const REP_MOVSD = [0xf3, 0xa5];
const REPE_CMPSB = [0xf3, 0xa6];
const RDTSC_TO_EBX = [0x0f, 0x31, 0x89, 0xc3]; // rdtsc; mov ebx, eax

describe('virtual time of REP string instructions: one unit per iteration, in every mode', () => {
  /** A program with several REPs (fresh pages, overlapping source/destination, early stop). */
  function repProgram(m: TestMachine): void {
    load(m, CODE, [
      ...movEcx(300_000), ...movEdi(0x200000), 0xb0, 0x5a, ...REP_STOSB, // 300000 units
      ...movEcx(50_000), ...movEsi(0x200000), ...movEdi(0x300001), ...REP_MOVSD, // 50000
      // the STOS fill ends at 0x2493e0: the compare stops at its 993rd iteration
      ...movEcx(1000), ...movEsi(0x200000), ...movEdi(0x249000), ...REPE_CMPSB, 0x89, 0xcd, // mov ebp, ecx
      ...movEcx(0), ...REP_STOSB, // ECX = 0: one unit
      ...RDTSC_TO_EBX, ...STOP,
    ]);
  }
  /** Units before the RDTSC: 3 movs + 300000, 3 + 50000, 3 + 993 + 1, 1 + 1. */
  const EXPECTED_RDTSC = 3 + 300_000 + 3 + 50_000 + 3 + 993 + 1 + 1 + 1;

  it('counts each iteration once, whether run whole, in odd slices, or under an exiting Mmu', () => {
    const results: number[][] = [];
    for (const [mode, slice] of [['native', 1_000_000], ['native', 7], ['native', 1], ['exiting', 13], ['exiting', 1_000_000]] as const) {
      const m = machine(mode);
      repProgram(m);
      expect(runAll(m, 10_000_000, slice)).toBe(EXIT_STOP);
      const rdtsc = m.cpu.regs[3];
      expect(rdtsc).toBe(EXPECTED_RDTSC);
      expect(m.cpu.regs[5]).toBe(7);
      results.push([rdtsc, m.cpu.icount, m.cpu.regs[5], r32(m, 0x300001 + 4 * 49_999)]);
    }
    for (const r of results) expect(r).toEqual(results[0]);
    // the copy happened: the last dword of the MOVSD destination holds stosb's bytes
    expect(results[0]![3]).toBe(0x5a5a5a5a);
  });

  it('run(n) stops inside a REP after exactly n units and resumes where it stopped', () => {
    const m = machine('native');
    load(m, CODE, [...movEcx(100_000), ...movEdi(0x200000), ...REP_STOSB, ...STOP]);
    expect(m.cpu.run(1 + 1 + 500)).toBe(EXIT_BUDGET);
    expect(m.cpu.icount).toBe(502);
    expect(m.cpu.regs[1]).toBe(100_000 - 500);
    expect(m.cpu.eip).toBe(CODE + 10); // at the REP, to resume it
    expect(m.cpu.run(100)).toBe(EXIT_BUDGET);
    expect(m.cpu.icount).toBe(602);
    expect(runAll(m, 10_000_000)).toBe(EXIT_STOP);
    expect(m.cpu.regs[1]).toBe(0);
    expect(m.cpu.icount).toBe(2 + 100_000 + 2);
  });

  it('a REP over 2^32 - 1 bytes with a budget of 1000 units stops after 1000 units', () => {
    for (const mode of MODES) {
      const m = machine(mode);
      // destination above RAM: every store is dropped through the slow path, the worst case
      load(m, CODE, [...movEcx(0xffffffff), ...movEdi(0x40000000), ...REP_STOSB, ...STOP]);
      const t0 = performance.now();
      expect(runAll(m, 1000)).toBe(EXIT_BUDGET);
      expect(performance.now() - t0).toBeLessThan(5000); // a wall-clock bound, not a benchmark
      expect(m.cpu.icount).toBe(1000);
      expect(m.cpu.regs[1] >>> 0).toBe(0xffffffff - 998);
    }
  });

  it('a REP with ECX = 0 is one unit, and a fault after k iterations has charged k', () => {
    for (const mode of MODES) {
      const m = machine(mode);
      setupSystem(m);
      m.cpu.regs[4] = KSTACK;
      // the 9th store of the second REP hits 0x800000, which the page tables leave absent
      load(m, CODE, [...movEcx(0), ...REP_STOSB, ...movEcx(20), ...movEdi(0x7ffff8), ...REP_STOSB, ...STOP]);
      setupPagingSmall(m);
      expect(runAll(m)).toBe(EXIT_STOP);
      // stopped in the #PF handler (its OUT): mov, rep (ECX 0), mov, mov, 8 iterations, OUT
      expect(m.cpu.regs[1]).toBe(12);
      expect(m.cpu.cr2).toBe(0x800000);
      expect(m.cpu.icount).toBe(1 + 1 + 1 + 1 + 8 + 1);
    }
  });
});

/** Identity-map only the first 8 MiB, so 0x800000 is not present. */
function setupPagingSmall(m: TestMachine): void {
  const PD = 0x10000;
  for (let t = 0; t < 2; t++) {
    const pt = 0x11000 + t * 0x1000;
    w32(m, PD + t * 4, pt | 7);
    for (let k = 0; k < 1024; k++) w32(m, pt + k * 4, ((t * 1024 + k) << 12) | 7);
  }
  m.cpu.cr3 = PD;
  m.cpu.cr0 |= 0x80000000;
  m.mmu.onPagingModeChange(m.cpu);
}

describe('backing memory above 2 GiB (host frames >= 2^19)', () => {
  /** Maps linear page k of [0x400000, ...) to backing page HIGH[k]: the TLB holds `page << 12`,
   *  which is negative for these pages; every access path must still land on the right byte. */
  const HIGH = [0x80000, 0xfffff, 0xffffe, 0xc0000];
  class HighMmu extends NativeMmu {
    override translate(cpu: Cpu, lin: number, acc: number): number {
      const k = (lin >>> 12) - 0x400;
      if (k >= 0 && k < HIGH.length) {
        cpu.tlb.fill(lin, HIGH[k]!, 3, 0);
        return 0;
      }
      return super.translate(cpu, lin, acc);
    }
  }

  it('loads, stores, RMW, unaligned and page-crossing accesses, REP MOVS/STOS and code fetch hit the right bytes', () => {
    const mem = new Uint8Array(2 ** 32); // untouched pages cost no memory
    const m = makeMachine(8 << 20);
    const cpu = new Cpu({ mem, mmu: new HighMmu(2 ** 32), io: m.io });
    m.io.cpu = cpu;
    const at = (page: number, off: number): number => page * 4096 + off;
    const code = [
      0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
      0xa3, 0x10, 0x00, 0x40, 0x00, // mov [0x400010], eax          -> page 0x80000
      0x8b, 0x1d, 0x10, 0x00, 0x40, 0x00, // mov ebx, [0x400010]
      0xff, 0x05, 0x10, 0x00, 0x40, 0x00, // inc dword [0x400010]  (RMW)
      0xa3, 0xfe, 0x1f, 0x40, 0x00, // mov [0x401ffe], eax          -> crosses 0xfffff | 0xffffe
      0xa3, 0x11, 0x20, 0x40, 0x00, // mov [0x402011], eax          (unaligned, inside 0xffffe)
      ...movEsi(0x400010), ...movEdi(0x403100), ...movEcx(100), 0xf3, 0xa4, // rep movsb -> 0xc0000
      ...movEdi(0x403800), ...movEcx(64), 0xb0, 0x77, 0xf3, 0xaa, // rep stosb
    ];
    // jmp to code on the high page 0x80000 (linear 0x400200), which stores EBX and stops
    const rel = (0x400200 - (0x100000 + code.length + 5)) | 0;
    code.push(0xe9, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, (rel >>> 24) & 0xff);
    for (let k = 0; k < code.length; k++) mem[0x100000 + k] = code[k]!;
    const tail = [0x89, 0x1d, 0x20, 0x00, 0x40, 0x00, ...STOP]; // mov [0x400020], ebx; stop
    for (let k = 0; k < tail.length; k++) mem[at(0x80000, 0x200 + k)] = tail[k]!;
    cpu.eip = 0x100000;
    cpu.regs[4] = 0x80000;
    expect(cpu.run(1000)).toBe(EXIT_STOP);
    const rd32 = (a: number): number => (mem[a]! | (mem[a + 1]! << 8) | (mem[a + 2]! << 16) | (mem[a + 3]! << 24)) >>> 0;
    expect(cpu.regs[3] >>> 0).toBe(0x12345678);
    expect(rd32(at(0x80000, 0x10))).toBe(0x12345679);
    expect(rd32(at(0x80000, 0x20))).toBe(0x12345678); // stored by code fetched from page 0x80000
    expect([mem[at(0xfffff, 0xffe)], mem[at(0xfffff, 0xfff)], mem[at(0xffffe, 0)], mem[at(0xffffe, 1)]]).toEqual([0x78, 0x56, 0x34, 0x12]);
    expect(rd32(at(0xffffe, 0x11))).toBe(0x12345678);
    expect(rd32(at(0xc0000, 0x100))).toBe(0x12345679);
    expect(mem[at(0xc0000, 0x800 + 63)]).toBe(0x77);
    expect(mem[at(0xc0000, 0x800 + 64)]).toBe(0);
    // nothing landed at the wrapped (negative-turned-small) addresses either
    expect(rd32(0x10)).toBe(0);
  });
});

describe('faults during event delivery and exception loops', () => {
  it('a #PF the hypervisor injects while an event is being delivered follows the #DF rules', () => {
    const m = machine('native');
    const cpu = m.cpu;
    // as if delivering #PF (vector 14) had exited and the fault path found another guest #PF
    cpu.pendKind = EV_EXC;
    cpu.pendVector = 14;
    cpu.pendError = 2;
    cpu.pendEip = 0x1234;
    cpu.injectException(14, 0, 0x61001070);
    expect([cpu.pendKind, cpu.pendVector, cpu.pendError, cpu.pendEip, cpu.cr2]).toEqual([EV_EXC, 8, 0, 0x1234, 0x61001070]);
    // and again while delivering that #DF: a triple fault, which run() reports
    cpu.injectException(14, 0, 0x61001040);
    expect(cpu.pendKind).toBe(EV_NONE);
    expect(cpu.shutdown).toBe(true);
    expect([cpu.tripleFaultVector, cpu.tripleFaultEip]).toEqual([14, 0x1234]);
    expect(cpu.run(100)).toBe(EXIT_TRIPLE_FAULT);
    // an external interrupt interrupted by a #PF: the #PF is delivered instead, same return EIP
    const m2 = machine('native');
    m2.cpu.pendKind = EV_IRQ;
    m2.cpu.pendVector = 0x20;
    m2.cpu.pendEip = 0x5678;
    m2.cpu.injectException(14, 0, 0x2000);
    expect([m2.cpu.pendKind, m2.cpu.pendVector, m2.cpu.pendError, m2.cpu.pendEip]).toEqual([EV_EXC, 14, 0, 0x5678]);
    // with nothing being delivered it is an ordinary exception for the current instruction
    const m3 = machine('native');
    m3.cpu.eip = 0x9abc;
    m3.cpu.injectException(14, 6, 0x3000);
    expect([m3.cpu.pendKind, m3.cpu.pendVector, m3.cpu.pendError, m3.cpu.pendEip]).toEqual([EV_EXC, 14, 6, 0x9abc]);
  });

  for (const mode of MODES) {
    it(`an exception loop that never retires an instruction stops with a GuestError (${mode})`, () => {
      const m = machine(mode);
      setupSystem(m);
      // #UD's handler lies outside RAM: its fetch reads all ones (an invalid opcode), raising #UD
      // again; the stack is outside RAM too, so the pushes never fault and x86 would spin forever
      gate(m, IDT, 6, 0xf1000000);
      m.cpu.regs[4] = 0xf0000000 | 0;
      load(m, CODE, [0x0f, 0x0b]); // ud2
      let err: unknown = null;
      try {
        runAll(m, 1_000_000);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GuestError);
      expect((err as Error).message).toMatch(/^exception loop: 1048576 events delivered without retiring an instruction \(last: vector 6 for EIP 0xf1000000, handler at 0xf1000000\)/);
      expect(m.cpu.icount).toBe(0);
    });
  }

  it('a handler that retires anything resets the exception-loop count', () => {
    const m = machine('native');
    setupSystem(m);
    m.cpu.regs[4] = KSTACK;
    // #UD handler: add esp, 12 (drop the frame); jmp back to the ud2: two instructions per loop
    load(m, 0x170000, [0x83, 0xc4, 0x0c, 0xe9, ...le32((CODE - (0x170000 + 8)) | 0)]);
    gate(m, IDT, 6, 0x170000);
    load(m, CODE, [0x0f, 0x0b]);
    expect(m.cpu.run(3_000_000)).toBe(EXIT_BUDGET);
    expect(m.cpu.deliveries).toBeGreaterThan(1_000_000);
  });
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
