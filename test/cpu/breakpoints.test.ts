// The Cpu's own breakpoint check (Cpu.breakAt, armed by the gdb stub's coarse runs): it stops
// before an instruction at a breakpoint unless the instruction boundary before it was at the
// same address. These cases pin the boundaries that test/cli/gdb-coarse.test.ts's guests reach
// rarely or never: an interrupt that becomes deliverable in the middle of a run, a handler that
// an interrupt re-enters right after its first instruction, a REP instruction whose slice ends
// between iterations, and a breakpoint in the middle of a decoded block.

import { describe, expect, it } from 'vitest';
import { EXIT_BUDGET, EXIT_STOP } from '../../src/cpu/ports.js';
import { CODE, IDT, KSTACK, gate, load, makeMachine, r32, setupSystem } from './harness.js';

function machine() {
  const m = makeMachine(8 << 20);
  setupSystem(m);
  m.cpu.regs[4] = KSTACK;
  return m;
}

/** Arm breakpoints at `at` as the gdb stub does when the guest goes on from EIP. */
function arm(m: ReturnType<typeof machine>, at: number[]): void {
  m.cpu.breakAt = new Set(at);
  m.cpu.breakLast = m.cpu.eip >>> 0;
  m.cpu.breakHit = false;
}

/** Run and expect a breakpoint stop at `eip` after `icount` instructions; clears the hit. */
function expectBreak(m: ReturnType<typeof machine>, eip: number, icount: number): void {
  expect(m.cpu.run(1000)).toBe(EXIT_STOP);
  expect(m.cpu.breakHit).toBe(true);
  expect(m.cpu.eip >>> 0).toBe(eip);
  expect(m.cpu.icount).toBe(icount);
  m.cpu.breakHit = false;
  m.cpu.breakLast = eip; // the stub's resumed()
}

describe('Cpu breakpoints (breakAt)', () => {
  it('stops before a breakpoint in the middle of a block, with the instructions before it retired; going on runs it', () => {
    const m = machine();
    // inc eax; inc eax; inc eax; inc eax; out 0xf4, al
    load(m, CODE, [0x40, 0x40, 0x40, 0x40, 0xe6, 0xf4]);
    arm(m, [CODE + 2]);
    expectBreak(m, CODE + 2, 2);
    expect(m.cpu.regs[0]).toBe(2);
    expect(m.cpu.run(1000)).toBe(EXIT_STOP);
    expect(m.cpu.breakHit).toBe(false);
    expect(m.io.exitValue).toBe(4);
  });

  it('an interrupt made deliverable inside a run (POPF sets IF) waits for the stop at the breakpoint it comes before', () => {
    const m = machine();
    gate(m, IDT, 0x20, 0x170000, 0);
    load(m, 0x170000, [0xe6, 0xf4]);
    // push 0x202; popf; nop; jmp $
    load(m, CODE, [0x68, 0x02, 0x02, 0, 0, 0x9d, 0x90, 0xeb, 0xfe]);
    m.cpu.irqLine = true;
    arm(m, [CODE + 6]);
    expectBreak(m, CODE + 6, 2);
    expect(m.pic.acks).toBe(0);
    // Going on: the interrupt comes first (before the nop), as it would have without the stop.
    expect(m.cpu.run(1000)).toBe(EXIT_STOP);
    expect(m.pic.acks).toBe(1);
    expect(r32(m, m.cpu.regs[4])).toBe(CODE + 6);
  });

  it('a trap-gate handler re-entered by an interrupt right after its first instruction stops at its first instruction again', () => {
    const m = machine();
    const H = 0x170000;
    gate(m, IDT, 0x20, H, 0, 0xf); // a trap gate: IF stays set in the handler
    // H: out 0x20, al (an EOI that lets the next interrupt in); out 0xf4, al
    load(m, H, [0xe6, 0x20, 0xe6, 0xf4]);
    load(m, CODE, [0x90, 0xeb, 0xfe]);
    m.cpu.setEflags(0x202);
    m.pic.acknowledge = () => {
      m.pic.acks++;
      m.cpu.irqLine = false;
      return 0x20;
    };
    const portOut = m.io.portOut.bind(m.io);
    m.io.portOut = (port, size, value) => {
      if (port === 0x20) m.cpu.irqLine = true;
      portOut(port, size, value);
    };
    m.cpu.irqLine = true;
    arm(m, [H]);
    expectBreak(m, H, 0);
    // One instruction of the handler, then the interrupt enters it again: a new arrival at H.
    expectBreak(m, H, 1);
    expect(r32(m, m.cpu.regs[4])).toBe(H + 2);
    expect(m.pic.acks).toBe(2);
  });

  it('a REP instruction on a breakpoint goes on across slices without stopping; a jump back to it stops', () => {
    const m = machine();
    // mov ecx, 100; mov edi, 0x200000; L: rep stosb; dec ebx; jnz L; out 0xf4, al
    load(m, CODE, [0xb9, 100, 0, 0, 0, 0xbf, 0, 0, 0x20, 0, 0xf3, 0xaa, 0x4b, 0x75, 0xfb, 0xe6, 0xf4]);
    m.cpu.regs[3] = 2;
    const L = CODE + 10;
    arm(m, [L]);
    expectBreak(m, L, 2);
    // Ten iterations, then the slice ends with EIP still on the REP.
    expect(m.cpu.run(10)).toBe(EXIT_BUDGET);
    expect(m.cpu.eip >>> 0).toBe(L);
    expect(m.cpu.regs[1]).toBe(90);
    // The rest of the REP, dec, jnz back to L (ECX is 0: the REP arrives there anew).
    expectBreak(m, L, 2 + 100 + 2);
    expect(m.cpu.run(1000)).toBe(EXIT_STOP);
    expect(m.cpu.breakHit).toBe(false);
  });
});
