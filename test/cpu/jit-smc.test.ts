// Self-modifying code under the compiler: stores that hit code which is compiled and running
// (the next instruction, another block of the same region, through a second virtual mapping of
// the frame) and a routine rewritten between calls. Each program's result is known in advance,
// and the interpreter and the compiler must both produce it with the same instruction count,
// statistics and final state. Every case also checks that a region was compiled before the
// store, so the store really lands under compiled code. Then the other places where compiled
// code must hand over or look again, each under both tiers: a block run at another virtual
// address of its frame, #DE from a compiled DIV, accesses straddling two pages, and a second
// vCPU on the same compiled code (from the start, or joining after it was compiled).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jitStats, jitTuning } from '../../src/cpu/jit/compile.js';
import { wasmStats } from '../../src/cpu/jit/wasm-region.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { CODE, makeMachine, PTE_P, PTE_RW, PTE_US, runToStop, setPte, setupPaging, setupSystem, STOP, stoppedInHandler, w32, type TestMachine } from './harness.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

interface Outcome {
  esi: number;
  /** The vector whose stop handler the run ended in (setupSystem), or -1. */
  vector: number;
  icount: number;
  state: object;
  compiled: number;
}

/** The compiled side runs with WebAssembly regions when jitTuning.wasm is set (its RAM then
 *  has an arena), else with JavaScript regions only; `compiled` counts that tier's regions. */
function run(jit: boolean, build: (m: TestMachine) => void, paging = false): Outcome {
  const m = makeMachine(8 << 20, undefined, jit && jitTuning.wasm);
  m.cpu.jit = jit;
  if (paging) setupPaging(m);
  build(m);
  const count = (): number => (jitTuning.wasm ? wasmStats.regions : jitStats.regions);
  const before = count();
  runToStop(m, 5_000_000);
  expect(m.io.exitValue, `the program reached its stop (eip ${(m.cpu.eip >>> 0).toString(16)}, ${m.cpu.icount} insns)`).toBeGreaterThanOrEqual(0);
  const c = m.cpu;
  return {
    esi: c.regs[6] >>> 0,
    vector: stoppedInHandler(m),
    icount: c.icount,
    compiled: count() - before,
    state: { regs: [...c.regs], eip: c.eip, flags: c.getEflags(), hits: c.stats.tlbHits, misses: c.stats.tlbMisses, decoded: c.stats.blocksDecoded },
  };
}

function both(build: (m: TestMachine) => void, paging = false): Outcome {
  const off = run(false, build, paging);
  const on = run(true, build, paging);
  expect(on.compiled, 'a region was compiled').toBeGreaterThan(0);
  expect(off.compiled).toBe(0);
  expect({ ...on, compiled: 0 }).toEqual({ ...off, compiled: 0 });
  return on;
}

/** Scratch data: the stores below go here except in the one iteration that patches code, so the
 *  storing block runs every iteration (and is compiled) while it rewrites code only once. */
const DATA = 0x300000;

/**
 * ecx = 300 down to 1: esi += the imm32 of `X: mov eax, imm32`; when ecx is 100 the store in
 * front of X goes to `storeTarget` (X's low immediate byte, or an alias of it) and sets it to
 * 0x77, right before X runs: 200 iterations add 0x12345600, 100 add 0x12345677.
 */
function patchNextInsn(storeTarget: (xImm: number) => number) {
  return (m: TestMachine): void => {
    const p: number[] = [];
    p.push(0xb9, ...le32(300)); // mov ecx, 300
    p.push(0x31, 0xf6); // xor esi, esi
    const edxAt = p.length;
    p.push(0xba, 0, 0, 0, 0); // mov edx, target
    const loop = CODE + p.length;
    p.push(0xbf, ...le32(DATA)); // mov edi, DATA
    p.push(0x83, 0xf9, 100); // cmp ecx, 100
    p.push(0x0f, 0x44, 0xfa); // cmove edi, edx
    p.push(0xc6, 0x07, 0x77); // mov byte [edi], 0x77
    const x = CODE + p.length;
    p.push(0xb8, ...le32(0x12345600)); // X: mov eax, 0x12345600
    p.push(0x01, 0xc6); // add esi, eax
    p.push(0x49); // dec ecx
    p.push(0x75, (loop - (CODE + p.length + 2)) & 0xff); // jnz loop
    p.push(0xb0, 0x00, ...STOP);
    const t = le32(storeTarget(x + 1));
    for (let k = 0; k < 4; k++) p[edxAt + 1 + k] = t[k];
    for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
  };
}

/** In the enclosing describe: compile after 40 runs (WebAssembly after 20), JavaScript regions
 *  of up to `maxBlocks` blocks; `tier` js: JavaScript regions only. */
function useTier(maxBlocks: number, tier: 'js' | 'wasm'): void {
  const saved = { ...jitTuning };
  beforeAll(() => Object.assign(jitTuning, { hot: 40, wasmHot: 20, maxBlocks, insnsPerByte: 0, wasm: tier === 'wasm' }));
  afterAll(() => Object.assign(jitTuning, saved));
}

const EXPECT_PATCH = (200 * 0x12345600 + 100 * 0x12345677) % 2 ** 32;

// JavaScript regions of one block (the default) and of up to 16 blocks, and WebAssembly regions;
// compiled after 40 runs (WebAssembly after 20).
describe.each([
  [1, 'js'],
  [16, 'js'],
  [1, 'wasm'],
] as const)('self-modifying code under compiled regions of up to %i blocks (%s)', (maxBlocks, tier) => {
  useTier(maxBlocks, tier);

  it('a store into the next instruction of the running block', () => {
    const r = both(patchNextInsn((xImm) => xImm));
    expect(r.esi).toBe(EXPECT_PATCH);
  });

  it('a store through a second virtual mapping of the code frame', () => {
    const ALIAS = 0x500000;
    const r = both((m) => {
      setPte(m, ALIAS, CODE | PTE_P | PTE_RW | PTE_US);
      patchNextInsn((xImm) => ALIAS + (xImm - CODE))(m);
    }, true);
    expect(r.esi).toBe(EXPECT_PATCH);
  });

  it('a store from one block of a region into another (the loop head rewrites the tail)', () => {
    // ecx = 300..1: when ecx == 150 the head rewrites the imm8 of the tail's `add esi, 1`
    // (83 C6 01) to 5: 150 iterations add 1, then 150 add 5.
    const r = both((m) => {
      const p: number[] = [];
      p.push(0xb9, ...le32(300), 0x31, 0xf6);
      const edxAt = p.length;
      p.push(0xba, 0, 0, 0, 0); // mov edx, imm8 of the tail's add
      const loop = CODE + p.length;
      p.push(0xbf, ...le32(DATA)); // mov edi, DATA
      p.push(0x81, 0xf9, ...le32(150)); // cmp ecx, 150
      p.push(0x0f, 0x44, 0xfa); // cmove edi, edx
      p.push(0xc6, 0x07, 5); // mov byte [edi], 5
      p.push(0xeb, 0); // jmp tail (ends the block: the tail is a block of its own)
      const tail = CODE + p.length;
      p.push(0x83, 0xc6, 0x01); // add esi, 1
      p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff);
      p.push(0xb0, 0x00, ...STOP);
      const t = le32(tail + 2);
      for (let k = 0; k < 4; k++) p[edxAt + 1 + k] = t[k];
      for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
    });
    expect(r.esi).toBe(150 * 1 + 150 * 5);
  });

  it('a routine rewritten between calls (on another page), compiled before each rewrite', () => {
    // F: mov eax, imm32; ret. Every 64th iteration the caller sets F's low immediate byte to cl
    // after calling it (its store goes to DATA otherwise); F runs 63 times between rewrites,
    // enough to be compiled each time.
    const F = CODE + 0x1000;
    const r = both((m) => {
      const p: number[] = [];
      p.push(0xb9, ...le32(400), 0x31, 0xf6);
      p.push(0xba, ...le32(F + 1)); // mov edx, F + 1
      const loop = CODE + p.length;
      p.push(0xe8, ...le32(F - (CODE + p.length + 5))); // call F
      p.push(0x01, 0xc6); // add esi, eax
      p.push(0xbf, ...le32(DATA)); // mov edi, DATA
      p.push(0xf6, 0xc1, 0x3f); // test cl, 63
      p.push(0x0f, 0x44, 0xfa); // cmove edi, edx
      p.push(0x88, 0x0f); // mov [edi], cl
      p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff); // dec ecx; jnz loop
      p.push(0xb0, 0x00, ...STOP);
      for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
      w32(m, F, 0x000000b8);
      m.mem[F + 4] = 0x10;
      m.mem[F + 5] = 0xc3; // mov eax, 0x10000000; ret
    });
    let imm = 0x10000000;
    let sum = 0;
    for (let ecx = 400; ecx >= 1; ecx--) {
      sum = (sum + imm) % 2 ** 32;
      if ((ecx & 63) === 0) imm = (imm & ~0xff) | (ecx & 0xff);
    }
    expect(r.esi).toBe(sum);
  });
});

// A compiled block runs at whatever linear address its link was made for: here the code's frame
// is mapped at a second virtual page too, and the loop calls a routine on the same page through
// each mapping in turn (so the call stays inside one region); the routine returns its own
// address (call/pop), so a block that assumed the address of the mapping it was entered under
// would return the wrong one.
describe.each([
  [1, 'js'],
  [16, 'js'],
  [1, 'wasm'],
] as const)('code run through two virtual mappings of its frame, regions of up to %i blocks (%s)', (maxBlocks, tier) => {
  useTier(maxBlocks, tier);

  it('a routine called alternately through each mapping returns each address', () => {
    const F = CODE + 0x800;
    const ALIAS = 0x600000;
    const FA = ALIAS + 0x800;
    const r = both((m) => {
      setPte(m, ALIAS, CODE | PTE_P | PTE_RW | PTE_US);
      const p: number[] = [];
      p.push(0xb9, ...le32(300), 0x31, 0xf6); // mov ecx, 300; xor esi, esi
      const loop = CODE + p.length;
      p.push(0xf6, 0xc1, 0x01); // test cl, 1
      p.push(0xb8, ...le32(F)); // mov eax, F
      p.push(0xba, ...le32(FA)); // mov edx, FA
      p.push(0x0f, 0x45, 0xc2); // cmovnz eax, edx
      p.push(0xff, 0xd0); // call eax
      p.push(0x01, 0xc6); // add esi, eax
      p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff); // dec ecx; jnz loop
      p.push(0xb0, 0x00, ...STOP);
      for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
      // F: call $+5; pop eax; ret (eax = F + 5 at whichever address it runs)
      [0xe8, 0, 0, 0, 0, 0x58, 0xc3].forEach((b, k) => (m.mem[F + k] = b));
    }, true);
    expect(r.esi).toBe((150 * (F + 5) + 150 * (FA + 5)) % 2 ** 32);
  });
});

// A fault raised inside a compiled block, after the block ran long enough to be compiled: DIV
// by a divisor in memory, which reaches 0 (or, in the second program, EDX reaches it, so the
// quotient overflows) at the 200th iteration. The tiers hand the instruction to its handler,
// which raises #DE: the same EIP, registers, icount and TLB hits as the interpreter's.
describe.each(['js', 'wasm'] as const)('#DE from a compiled DIV (%s regions)', (tier) => {
  useTier(1, tier);

  const divLoop = (edx: number[], divisor: number[]) => (m: TestMachine): void => {
    setupSystem(m);
    const p: number[] = [];
    p.push(0xb9, ...le32(300), 0x31, 0xf6); // mov ecx, 300; xor esi, esi
    p.push(0xbb, ...le32(DATA)); // mov ebx, DATA
    const loop = CODE + p.length;
    p.push(...divisor); // [ebx] = the divisor of this iteration
    p.push(...edx); // edx = the high half of the dividend
    p.push(0xb8, ...le32(100000)); // mov eax, 100000
    p.push(0xf7, 0x33); // div dword [ebx]
    p.push(0x01, 0xc6, 0x01, 0xd6); // add esi, eax; add esi, edx
    p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff); // dec ecx; jnz loop
    p.push(0xb0, 0x00, ...STOP);
    for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
  };

  it('a divisor that becomes 0', () => {
    // [ebx] = ecx - 100; edx = 0
    const r = both(divLoop([0x31, 0xd2], [0x8d, 0x41, 0x9c, 0x89, 0x03]));
    expect(r.vector, 'stopped in the #DE handler').toBe(0);
  });

  it('a quotient that overflows: EDX reaches the divisor', () => {
    // [ebx] = ecx; edx = 150: at ecx = 150, EDX = divisor
    const r = both(divLoop([0xba, ...le32(150)], [0x89, 0x0b]));
    expect(r.vector, 'stopped in the #DE handler').toBe(0);
  });
});

// Loads and stores that cross a page boundary inside a compiled block, the second page mapped to
// a frame that is not the next one: compiled code must leave them to the handler (which
// translates each page), never read or write the bytes after the first frame.
describe.each(['js', 'wasm'] as const)('accesses across a page boundary in a compiled block (%s regions)', (tier) => {
  useTier(1, tier);

  it('a dword load and a dword store straddling two pages mapped to distant frames', () => {
    const PAGE = 0x400000;
    const FAR = 0x500000;
    const r = both((m) => {
      setPte(m, PAGE + 0x1000, FAR | PTE_P | PTE_RW | PTE_US);
      for (let k = 0; k < 0x1000; k++) {
        m.mem[PAGE + k] = (k * 7) & 0xff;
        m.mem[PAGE + 0x1000 + k] = 0xee; // the frame after PAGE's: what a wrong access would touch
        m.mem[FAR + k] = (k * 13 + 5) & 0xff;
      }
      const p: number[] = [];
      p.push(0xb9, ...le32(300), 0x31, 0xf6); // mov ecx, 300; xor esi, esi
      p.push(0xbb, ...le32(PAGE)); // mov ebx, PAGE
      const loop = CODE + p.length;
      p.push(0x8b, 0x83, ...le32(0xffe)); // mov eax, [ebx + 0xffe]: bytes ffe-fff, then FAR 0-1
      p.push(0x01, 0xc6); // add esi, eax
      p.push(0x89, 0x8b, ...le32(0xffd)); // mov [ebx + 0xffd], ecx: fffd-fff, then FAR 0
      p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff); // dec ecx; jnz loop
      p.push(0xb0, 0x00, ...STOP);
      for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
    }, true);
    expect(r.esi).not.toBe(0);
  });
});

// Two vCPUs share one code cache (as an SMP VM's do): the links a block records belong to the
// vCPU that made them (its TLB epoch). Here both TLBs have the same epoch count, so only the
// link's vCPU tells them apart: the second vCPU, running the code the first compiled, must make
// its own lookups (and TLB hits) as the interpreter does, not follow the first one's links.
describe.each(['js', 'wasm'] as const)('two vCPUs sharing compiled code (%s regions)', (tier) => {
  useTier(1, tier);

  // late: the second vCPU joins the code cache after the first compiled it (WebAssembly regions
  // of a cache with one Cpu are bound to that Cpu's slot: the second must not run them)
  const go = (jit: boolean, late = false): object => {
    const m = makeMachine(8 << 20, undefined, jit && jitTuning.wasm);
    const p: number[] = [];
    p.push(0xb9, ...le32(300), 0x31, 0xf6); // mov ecx, 300; xor esi, esi
    const loop = CODE + p.length;
    p.push(0x8b, 0x05, ...le32(DATA)); // mov eax, [DATA]
    p.push(0x01, 0xc6, 0xeb, 0x00); // add esi, eax; jmp $+2 (a second block)
    p.push(0x49, 0x75, (loop - (CODE + p.length + 3)) & 0xff); // dec ecx; jnz loop
    p.push(0xb0, 0x00, ...STOP);
    for (let k = 0; k < p.length; k++) m.mem[CODE + k] = p[k];
    w32(m, DATA, 3);
    const join = (): Cpu => {
      const c = new Cpu({ mem: m.mem, mmu: m.mmu, io: m.io, pic: m.pic, code: m.cpu.code, index: 1 });
      c.jit = jit;
      c.eip = CODE;
      c.regs[4] = 0x90000;
      return c;
    };
    const early = late ? null : join();
    m.cpu.jit = jit;
    const before = jitTuning.wasm ? wasmStats.regions : jitStats.regions;
    runToStop(m);
    const second = early ?? join();
    if (!late) expect(second.tlb.epoch, 'the two TLBs at the same epoch').toBe(m.cpu.tlb.epoch);
    m.io.exitValue = -1;
    m.io.cpu = second;
    runToStop({ ...m, cpu: second });
    expect(m.io.exitValue, 'the second vCPU reached its stop').toBeGreaterThanOrEqual(0);
    const view = (c: Cpu): object => ({ regs: [...c.regs], eip: c.eip, icount: c.icount, hits: c.stats.tlbHits, misses: c.stats.tlbMisses });
    return { first: view(m.cpu), second: view(second), compiled: (jitTuning.wasm ? wasmStats.regions : jitStats.regions) - before > 0 };
  };

  it("the second vCPU does not follow the first one's links", () => {
    const off = go(false) as { compiled: boolean };
    const on = go(true) as { compiled: boolean };
    expect(on.compiled, 'a region was compiled').toBe(true);
    expect({ ...on, compiled: true }).toEqual({ ...off, compiled: true });
  });

  it('a vCPU that joins after the code was compiled runs it as the interpreter would', () => {
    const off = go(false, true) as { compiled: boolean };
    const on = go(true, true) as { compiled: boolean };
    expect(on.compiled, 'a region was compiled').toBe(true);
    expect({ ...on, compiled: true }).toEqual({ ...off, compiled: true });
  });
});
