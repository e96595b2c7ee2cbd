// Native MMU: x86 32-bit paging walked over guest RAM. A/D bits, WP, PSE, #PF error codes and
// CR2, TLB semantics of INVLPG and CR3 writes, not-present entries never cached, unbacked memory.

import { describe, expect, it } from 'vitest';
import { NativeMmu } from '../../src/cpu/paging.js';
import { EXIT_STOP } from '../../src/cpu/ports.js';
import { nullLogger } from '../../src/obs/log.js';
import {
  CODE,
  KSTACK,
  PD,
  PTE_A,
  PTE_D,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  load,
  makeMachine,
  pte,
  r32,
  runToStop,
  setPte,
  setupPaging,
  setupSystem,
  stoppedInHandler,
  w32,
} from './harness.js';

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** mov eax, [addr] */
const LOAD = (a: number): number[] => [0xa1, ...le(a)];
/** mov [addr], eax */
const STORE = (a: number): number[] => [0xa3, ...le(a)];
const STOP = [0xe6, 0xf4];

function machine() {
  const m = makeMachine(8 << 20);
  setupSystem(m);
  setupPaging(m);
  m.cpu.regs[4] = KSTACK;
  return m;
}

describe('native paging', () => {
  it('logs one debug line per guest-physical page outside RAM', () => {
    const lines: string[] = [];
    const log = { ...nullLogger, enabled: () => true, debug: (_o: object, msg?: string) => void lines.push(msg ?? '') };
    const mmu = new NativeMmu(1 << 20, log);
    const m = makeMachine(1 << 20, () => mmu);
    load(m, 0x1000, [...LOAD(0x200000), ...LOAD(0x200004), ...LOAD(0x300000), ...STOP]);
    m.cpu.eip = 0x1000;
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0]).toBe(-1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/0x200000 is outside RAM/);
  });

  it('sets A on the PDE and PTE when walking for a read, D only on a write', () => {
    const m = machine();
    const lin = 0x400000;
    setPte(m, lin, 0x300000 | PTE_P | PTE_RW);
    w32(m, 0x300000, 0xcafef00d);
    load(m, CODE, [...LOAD(lin), ...STOP]);
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0] >>> 0).toBe(0xcafef00d);
    expect(pte(m, lin) & (PTE_A | PTE_D)).toBe(PTE_A);
    expect(r32(m, PD + 4) & PTE_A).toBe(PTE_A);
    // The first write after a read must re-walk to set D (the read filled a read-only entry).
    m.cpu.regs[0] = 0x1234;
    load(m, CODE + 0x100, [...STORE(lin), ...STOP]);
    m.cpu.eip = CODE + 0x100;
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(pte(m, lin) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(r32(m, 0x300000)).toBe(0x1234);
  });

  it('raises #PF with error code 0 (read, not present) and CR2', () => {
    const m = machine();
    const lin = 0x401234;
    setPte(m, lin, 0);
    load(m, CODE, [...LOAD(lin), ...STOP]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    expect(m.cpu.cr2 >>> 0).toBe(lin);
    const sp = m.cpu.regs[4];
    expect(r32(m, sp)).toBe(0); // error code
    expect(r32(m, sp + 4)).toBe(CODE); // faulting EIP
    expect(m.cpu.stats.exceptions[14]).toBe(1);
  });

  it('write to a not-present page: error code 2; to a read-only page with WP=1: 3', () => {
    const m = machine();
    setPte(m, 0x400000, 0);
    load(m, CODE, [...STORE(0x400000), ...STOP]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    expect(r32(m, m.cpu.regs[4])).toBe(2);

    const m2 = machine();
    setPte(m2, 0x400000, 0x300000 | PTE_P);
    m2.cpu.cr0 |= 1 << 16; // WP
    m2.mmu.onPagingModeChange(m2.cpu);
    load(m2, CODE, [...STORE(0x400000), ...STOP]);
    runToStop(m2);
    expect(stoppedInHandler(m2)).toBe(14);
    expect(r32(m2, m2.cpu.regs[4])).toBe(3);
  });

  it('supervisor writes ignore R/W when CR0.WP=0 (and set D)', () => {
    const m = machine();
    setPte(m, 0x400000, 0x300000 | PTE_P);
    m.cpu.regs[0] = 77;
    load(m, CODE, [...STORE(0x400000), ...STORE(0x400004), ...STOP]);
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(r32(m, 0x300000)).toBe(77);
    expect(r32(m, 0x300004)).toBe(77);
    expect(pte(m, 0x400000) & PTE_D).toBe(PTE_D);
  });

  it('user-mode accesses: supervisor page -> error 5, read-only page write -> error 7', () => {
    for (const [flags, code, want] of [
      [PTE_P | PTE_RW, LOAD(0x400000), 5],
      [PTE_P | PTE_US, STORE(0x400000), 7],
      [0, LOAD(0x400000), 4],
    ] as const) {
      const m = machine();
      setPte(m, 0x400000, 0x300000 | flags);
      load(m, CODE, [...code, ...STOP]);
      m.cpu.cpl = 3;
      m.cpu.sreg[1] = 0x1b;
      m.cpu.sreg[2] = 0x23;
      m.cpu.regs[4] = 0x90000;
      runToStop(m);
      expect(stoppedInHandler(m)).toBe(14);
      expect(m.cpu.cpl).toBe(0);
      const sp = m.cpu.regs[4];
      expect(sp).toBe(KSTACK - 24);
      expect(r32(m, sp)).toBe(want);
      expect(r32(m, sp + 4)).toBe(CODE);
      expect(r32(m, sp + 8)).toBe(0x1b);
      expect(r32(m, sp + 16)).toBe(0x90000);
      expect(r32(m, sp + 20)).toBe(0x23);
      expect(m.cpu.cr2 >>> 0).toBe(0x400000);
    }
  });

  it('PSE: a 4 MiB page when CR4.PSE=1; PS ignored (a page table) when PSE=0', () => {
    const m = machine();
    // PDE 2 (0x800000..) -> 4 MiB page at physical 0x400000; its page-table reading (PSE=0)
    // points at physical 0x400000 as a page table whose entry 5 maps to 0x300000.
    w32(m, PD + 8, 0x400000 | PTE_P | PTE_RW | PTE_PS);
    w32(m, 0x400000 + 5 * 4, 0x300000 | PTE_P | PTE_RW);
    w32(m, 0x405000, 0x11111111);
    w32(m, 0x300000, 0x22222222);
    load(m, CODE, [...LOAD(0x805000), ...STOP]);
    runToStop(m);
    expect(m.cpu.regs[0] >>> 0).toBe(0x22222222);
    m.cpu.cr4 |= 0x10;
    m.mmu.onPagingModeChange(m.cpu);
    m.cpu.eip = CODE;
    runToStop(m);
    expect(m.cpu.regs[0] >>> 0).toBe(0x11111111);
    expect(r32(m, PD + 8) & PTE_A).toBe(PTE_A);
  });

  it('TLB keeps a stale translation until INVLPG; CR3 writes flush everything', () => {
    const m = machine();
    const lin = 0x400000;
    w32(m, 0x300000, 1);
    w32(m, 0x301000, 2);
    setPte(m, lin, 0x300000 | PTE_P | PTE_RW);
    // mov eax,[lin]; out; mov eax,[lin]; out; invlpg [lin]; mov eax,[lin]; out; mov eax,cr3; mov cr3,eax; mov eax,[lin]; out
    load(m, CODE, [
      ...LOAD(lin), ...STOP,
      ...LOAD(lin), ...STOP,
      0x0f, 0x01, 0x3d, ...le(lin), ...LOAD(lin), ...STOP,
      0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, ...LOAD(lin), ...STOP,
    ]);
    runToStop(m);
    expect(m.cpu.regs[0]).toBe(1);
    setPte(m, lin, 0x301000 | PTE_P | PTE_RW);
    runToStop(m);
    expect(m.cpu.regs[0]).toBe(1); // stale: allowed until INVLPG
    runToStop(m);
    expect(m.cpu.regs[0]).toBe(2);
    setPte(m, lin, 0x300000 | PTE_P | PTE_RW);
    runToStop(m);
    expect(m.cpu.regs[0]).toBe(1);
  });

  it('never caches a not-present entry: making it present needs no flush', () => {
    const m = machine();
    const lin = 0x400000;
    setPte(m, lin, 0);
    w32(m, 0x300000, 9);
    load(m, CODE, [...LOAD(lin), ...STOP]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    setPte(m, lin, 0x300000 | PTE_P);
    m.cpu.eip = CODE;
    m.cpu.regs[4] = KSTACK;
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(-1);
    expect(m.cpu.regs[0]).toBe(9);
  });

  it('guest-physical addresses outside RAM read all ones and drop writes', () => {
    const m = machine();
    setPte(m, 0x400000, 0x7f000000 | PTE_P | PTE_RW);
    m.cpu.regs[0] = 5;
    load(m, CODE, [...STORE(0x400000), ...LOAD(0x400000), ...STOP]);
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0]).toBe(-1);
    // a PDE pointing outside RAM: the "page table" reads as all ones (present, unbacked page)
    w32(m, PD + 12, 0x7ff00000 | PTE_P | PTE_RW);
    load(m, CODE + 0x200, [...LOAD(0xc00000), ...STOP]);
    m.cpu.eip = CODE + 0x200;
    m.cpu.regs[0] = 0;
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0]).toBe(-1);
    // paging off: above RAM is unbacked too
    m.cpu.cr0 &= ~0x80000000;
    m.mmu.onPagingModeChange(m.cpu);
    load(m, CODE + 0x300, [...LOAD(0x10000000), ...STOP]);
    m.cpu.eip = CODE + 0x300;
    m.cpu.regs[0] = 0;
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0]).toBe(-1);
  });

  it('an access crossing into a not-present page faults with CR2 in the second page and writes nothing', () => {
    const m = machine();
    setPte(m, 0x401000, 0);
    setPte(m, 0x400000, 0x300000 | PTE_P | PTE_RW | PTE_D);
    m.cpu.regs[0] = 0x11223344;
    load(m, CODE, [...STORE(0x400ffe), ...STOP]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    expect(m.cpu.cr2 >>> 0).toBe(0x401000);
    expect(r32(m, m.cpu.regs[4])).toBe(2);
    expect(m.mem[0x300ffe]).toBe(0);
    expect(m.mem[0x300fff]).toBe(0);
  });

  it('user read of a user page succeeds; US must be set at both levels', () => {
    const m = machine();
    w32(m, PD + 4, (0x12000 | PTE_P | PTE_RW) >>> 0); // PDE without US
    setPte(m, 0x400000, 0x300000 | PTE_P | PTE_US);
    load(m, CODE, [...LOAD(0x400000), ...STOP]);
    m.cpu.cpl = 3;
    m.cpu.regs[4] = 0x90000;
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    expect(r32(m, m.cpu.regs[4])).toBe(5);
  });
});
