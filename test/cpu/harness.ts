// Minimal machine for CPU unit tests: RAM, the native MMU, a stub port bus (0xF4 stops the run,
// 0xE9/0x3F8 collect output bytes) and helpers to place code and run it.

import { allocRam } from '../../src/cpu/jit/wasm-arena.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { NativeMmu, PTE_P, PTE_RW, PTE_US } from '../../src/cpu/paging.js';
import { ACC_FETCH, ACC_WRITE, EXIT_STOP, XLATE_EXIT, type InterruptController, type IoBus, type Mmu } from '../../src/cpu/ports.js';

export class StubIo implements IoBus {
  cpu: Cpu | null = null;
  out: number[] = [];
  writes: Array<[number, number, number]> = [];
  exitValue = -1;
  inValue = -1;
  portIn(_port: number, size: 1 | 2 | 4): number {
    return size === 4 ? this.inValue : this.inValue & (size === 2 ? 0xffff : 0xff);
  }
  portOut(port: number, size: 1 | 2 | 4, value: number): void {
    this.writes.push([port, size, value]);
    if (port === 0xf4) {
      this.exitValue = value;
      if (this.cpu) this.cpu.stopRequested = true;
    } else if (port === 0x3f8 || port === 0xe9) this.out.push(value & 0xff);
  }
}

export class StubPic implements InterruptController {
  vector = 0x20;
  acks = 0;
  acknowledge(): number {
    this.acks++;
    return this.vector;
  }
}

export interface TestMachine {
  cpu: Cpu;
  mem: Uint8Array;
  io: StubIo;
  mmu: NativeMmu;
  pic: StubPic;
}

export const CODE = 0x100000;

export type CpuOf = Cpu;

/** `wasm`: RAM in a WebAssembly memory with an arena (the compiler's WebAssembly tier can run). */
export function makeMachine(memBytes = 4 << 20, wrap?: (inner: NativeMmu) => Mmu, wasm = false): TestMachine {
  const mem = allocRam(memBytes, wasm);
  const mmu = new NativeMmu(memBytes);
  const io = new StubIo();
  const pic = new StubPic();
  const cpu = new Cpu({ mem, mmu: wrap ? wrap(mmu) : mmu, io, pic });
  io.cpu = cpu;
  cpu.eip = CODE;
  cpu.regs[4] = 0x80000;
  return { cpu, mem, io, mmu, pic };
}

export function load(m: TestMachine, addr: number, bytes: ArrayLike<number>): void {
  for (let k = 0; k < bytes.length; k++) m.mem[addr + k] = bytes[k];
}

export function w32(m: TestMachine, addr: number, v: number): void {
  m.mem[addr] = v;
  m.mem[addr + 1] = v >>> 8;
  m.mem[addr + 2] = v >>> 16;
  m.mem[addr + 3] = v >>> 24;
}

export function r32(m: TestMachine, addr: number): number {
  return (m.mem[addr] | (m.mem[addr + 1] << 8) | (m.mem[addr + 2] << 16) | (m.mem[addr + 3] << 24)) >>> 0;
}

/** OUT to port 0xF4 with AL: `mov al, v; out 0xf4, al`. */
export const STOP = [0xe6, 0xf4];

/** Run until the stop port is written (or the budget ends); returns the last exit code. */
export function runToStop(m: TestMachine, budget = 1_000_000): number {
  let left = budget;
  for (;;) {
    const before = m.cpu.icount;
    const e = m.cpu.run(left);
    left -= m.cpu.icount - before;
    if (e === EXIT_STOP || left <= 0 || e !== 1) return e;
    // EXIT_HLT: nothing will wake it in these tests.
    return e;
  }
}

/** Build a flat GDT at `at`: null, code 0x08 (DPL0), data 0x10 (DPL0), code 0x1B (DPL3),
 *  data 0x23 (DPL3), TSS 0x28. Returns nothing; loads GDTR directly. */
export function flatGdt(m: TestMachine, at: number, tss = 0): void {
  const desc = (k: number, lo: number, hi: number): void => {
    w32(m, at + k * 8, lo);
    w32(m, at + k * 8 + 4, hi);
  };
  desc(0, 0, 0);
  desc(1, 0x0000ffff, 0x00cf9a00);
  desc(2, 0x0000ffff, 0x00cf9200);
  desc(3, 0x0000ffff, 0x00cffa00);
  desc(4, 0x0000ffff, 0x00cff200);
  desc(5, ((tss & 0xffff) << 16) | 0x67, (tss & 0xff000000) | ((tss >>> 16) & 0xff) | 0x00008900);
  m.cpu.gdtBase = at;
  m.cpu.gdtLimit = 6 * 8 - 1;
}

/** IDT gate for vector v at IDT base `idt`: 32-bit interrupt (type 0xE) or trap (0xF) gate. */
export function gate(m: TestMachine, idt: number, v: number, handler: number, dpl = 0, type = 0xe, sel = 0x08): void {
  w32(m, idt + v * 8, (sel << 16) | (handler & 0xffff));
  w32(m, idt + v * 8 + 4, (handler & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8));
}

export const GDT = 0x1000;
export const IDT = 0x2000;
export const TSS = 0x3000;
export const PD = 0x10000;
export const PT0 = 0x11000;
export const PT1 = 0x12000;
/** Handler for every vector: `out 0xf4, al; jmp $` at HANDLERS + 16 * vector. */
export const HANDLERS = 0x180000;
export const KSTACK = 0x80000;

/** GDT, TSS (ESP0 = KSTACK), and an IDT whose every vector stops the run at its own handler. */
export function setupSystem(m: TestMachine): void {
  flatGdt(m, GDT, TSS);
  const cpu = m.cpu;
  w32(m, TSS + 4, KSTACK);
  w32(m, TSS + 8, 0x10);
  cpu.trSel = 0x28;
  cpu.trBase = TSS;
  cpu.trLimit = 0x67;
  cpu.idtBase = IDT;
  cpu.idtLimit = 256 * 8 - 1;
  cpu.sreg[1] = 0x08;
  cpu.sreg[0] = cpu.sreg[2] = cpu.sreg[3] = cpu.sreg[4] = cpu.sreg[5] = 0x10;
  for (let v = 0; v < 256; v++) {
    load(m, HANDLERS + v * 16, [0xe6, 0xf4, 0xeb, 0xfe]);
    gate(m, IDT, v, HANDLERS + v * 16, 3);
  }
}

/** Which vector's stop handler the run ended in (-1: none). */
export function stoppedInHandler(m: TestMachine): number {
  const off = (m.cpu.eip >>> 0) - HANDLERS - 2;
  return off >= 0 && off < 256 * 16 && off % 16 === 0 ? off / 16 : -1;
}

export { PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../src/cpu/paging.js';

/** Identity-map the first 8 MiB with 4 KiB pages (P|RW|US) and turn paging on. */
export function setupPaging(m: TestMachine, flags = PTE_P | PTE_RW | PTE_US): void {
  w32(m, PD, PT0 | PTE_P | PTE_RW | PTE_US);
  w32(m, PD + 4, PT1 | PTE_P | PTE_RW | PTE_US);
  for (let k = 0; k < 2048; k++) w32(m, PT0 + k * 4, (k << 12) | flags);
  m.cpu.cr3 = PD;
  m.cpu.cr0 |= 0x80000000;
  m.mmu.onPagingModeChange(m.cpu);
}

/** Set the PTE for linear page `lin` (inside the first 8 MiB). */
export function setPte(m: TestMachine, lin: number, v: number): void {
  w32(m, PT0 + (lin >>> 12) * 4, v);
}
export function pte(m: TestMachine, lin: number): number {
  return r32(m, PT0 + (lin >>> 12) * 4);
}

/** Exits once per (page, access kind) before delegating, like a shadow MMU's first faults. */
export class ExitingMmu implements Mmu {
  readonly seen = new Set<number>();
  exits = 0;
  constructor(readonly inner: NativeMmu) {}
  translate(cpu: Cpu, lin: number, acc: number): number {
    const key = (lin >>> 12) * 32 + (acc & (ACC_WRITE | ACC_FETCH));
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.exits++;
      return XLATE_EXIT;
    }
    return this.inner.translate(cpu, lin, acc);
  }
  trackedWrite(_cpu: Cpu, _lin: number, _phys: number, _size: number): void {}
  onCr3Write(cpu: Cpu): void {
    this.inner.onCr3Write(cpu);
  }
  onInvlpg(cpu: Cpu, lin: number): void {
    this.inner.onInvlpg(cpu, lin);
  }
  onPagingModeChange(cpu: Cpu): void {
    this.inner.onPagingModeChange(cpu);
  }
}

/** A small seeded PRNG (mulberry32) for the random-program tests: uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
