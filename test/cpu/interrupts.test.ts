// Interrupts and exceptions: IDT gates, ring 3 -> ring 0 through the TSS and IRET back, gate DPL
// checks for INT n, #DE/#UD/#BP, double and triple faults, external IRQs with the STI shadow, HLT.

import { describe, expect, it } from 'vitest';
import { EXIT_BUDGET, EXIT_HLT, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../../src/cpu/ports.js';
import {
  CODE,
  IDT,
  KSTACK,
  gate,
  load,
  makeMachine,
  r32,
  runToStop,
  setPte,
  setupPaging,
  setupSystem,
  stoppedInHandler,
} from './harness.js';

function machine() {
  const m = makeMachine(8 << 20);
  setupSystem(m);
  m.cpu.regs[4] = KSTACK;
  return m;
}

function enterRing3(m: ReturnType<typeof machine>, esp = 0x90000): void {
  m.cpu.cpl = 3;
  m.cpu.sreg[1] = 0x1b;
  m.cpu.sreg[2] = m.cpu.sreg[3] = m.cpu.sreg[0] = 0x23;
  m.cpu.regs[4] = esp;
}

describe('interrupts and exceptions', () => {
  it('INT 0x80 from ring 3 switches to the TSS stack and IRET returns to ring 3', () => {
    const m = machine();
    // ring 3: mov eax, 42; int 0x80; mov ebx, eax; jmp $
    load(m, CODE, [0xb8, 42, 0, 0, 0, 0xcd, 0x80, 0x89, 0xc3, 0xeb, 0xfe]);
    // handler: record ESP in ecx; add eax, 1; iret
    load(m, 0x170000, [0x89, 0xe1, 0x83, 0xc0, 0x01, 0xcf]);
    gate(m, IDT, 0x80, 0x170000, 3);
    enterRing3(m);
    m.cpu.setEflags(0x202);
    expect(m.cpu.run(6)).toBe(EXIT_BUDGET);
    expect(m.cpu.regs[1]).toBe(KSTACK - 20);
    expect(m.cpu.regs[3]).toBe(43);
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.sreg[1]).toBe(0x1b);
    expect(m.cpu.sreg[2]).toBe(0x23);
    expect(m.cpu.regs[4]).toBe(0x90000);
    expect(m.cpu.getEflags() & 0x200).toBe(0x200);
    // frame pushed at ring 0: EIP CS EFLAGS ESP SS
    expect(r32(m, KSTACK - 20)).toBe(CODE + 7);
    expect(r32(m, KSTACK - 16)).toBe(0x1b);
    expect(r32(m, KSTACK - 12) & 0x200).toBe(0x200);
    expect(r32(m, KSTACK - 8)).toBe(0x90000);
    expect(r32(m, KSTACK - 4)).toBe(0x23);
  });

  it('an interrupt gate clears IF, a trap gate keeps it', () => {
    for (const [type, want] of [[0xe, 0], [0xf, 0x200]] as const) {
      const m = machine();
      gate(m, IDT, 0x30, 0x170000, 0, type);
      load(m, 0x170000, [0x9c, 0x58, 0xe6, 0xf4]); // pushf; pop eax; out
      load(m, CODE, [0xcd, 0x30]);
      m.cpu.setEflags(0x202);
      expect(runToStop(m)).toBe(EXIT_STOP);
      expect(m.cpu.regs[0] & 0x200).toBe(want);
    }
  });

  it('INT n from ring 3 through a DPL 0 gate raises #GP(vector*8+2)', () => {
    const m = machine();
    gate(m, IDT, 0x40, 0x170000, 0);
    load(m, CODE, [0xcd, 0x40]);
    enterRing3(m);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(13);
    const sp = m.cpu.regs[4];
    expect(r32(m, sp)).toBe(0x40 * 8 + 2);
    expect(r32(m, sp + 4)).toBe(CODE);
  });

  it('#DE on divide by zero and on quotient overflow, EIP of the faulting DIV', () => {
    const m = machine();
    // xor ecx,ecx; div ecx
    load(m, CODE, [0x31, 0xc9, 0xf7, 0xf1]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(0);
    expect(r32(m, m.cpu.regs[4])).toBe(CODE + 2);
    const m2 = machine();
    // mov edx, 1; mov ecx, 1; div ecx  (quotient 2^32 overflows)
    load(m2, CODE, [0xba, 1, 0, 0, 0, 0xb9, 1, 0, 0, 0, 0xf7, 0xf1]);
    runToStop(m2);
    expect(stoppedInHandler(m2)).toBe(0);
    // idiv: -2^31 / -1 overflows
    const m3 = machine();
    load(m3, CODE, [0xb8, 0, 0, 0, 0x80, 0x99, 0xb9, 0xff, 0xff, 0xff, 0xff, 0xf7, 0xf9]);
    runToStop(m3);
    expect(stoppedInHandler(m3)).toBe(0);
  });

  it('#UD for x87, SSE, UD2, UD1, LES with a register operand and unknown opcodes; INT3 is #BP with the next EIP', () => {
    for (const bytes of [[0xd9, 0xe8], [0x0f, 0x0b], [0x0f, 0xb9, 0xc0], [0x0f, 0x28, 0xc1], [0xc4, 0xc0], [0x0f, 0x05], [0x8d, 0xc0]]) {
      const m = machine();
      load(m, CODE, bytes);
      runToStop(m);
      expect(stoppedInHandler(m)).toBe(6);
      expect(r32(m, m.cpu.regs[4])).toBe(CODE);
    }
    const m = machine();
    load(m, CODE, [0x90, 0xcc]);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(3);
    expect(r32(m, m.cpu.regs[4])).toBe(CODE + 2);
  });

  it('a fault while delivering a contributory fault is a double fault (#DF, error code 0)', () => {
    const m = machine();
    // #GP's gate not present -> #NP (contributory) while delivering #GP -> #DF
    load(m, IDT + 13 * 8 + 5, [0x0e]); // clear P in the type byte
    load(m, CODE, [0x0f, 0x22, 0xe0 /* mov cr4, eax */]);
    m.cpu.regs[0] = 1 << 20; // a reserved CR4 bit -> #GP(0)
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(8);
    expect(r32(m, m.cpu.regs[4])).toBe(0);
    expect(m.cpu.stats.exceptions[8]).toBe(1);
  });

  it('an IDT too short for #GP and #DF: a fault delivering #DF is a triple fault, run() keeps reporting it', () => {
    const m = machine();
    // No paging, but the IDT limit excludes vectors >= 8: a #GP becomes #GP(IDT) -> #DF -> triple.
    m.cpu.idtLimit = 8 * 8 - 1;
    load(m, CODE, [0x0f, 0x22, 0xe0]);
    m.cpu.regs[0] = 1 << 20;
    expect(m.cpu.run(100)).toBe(EXIT_TRIPLE_FAULT);
    expect(m.cpu.tripleFaultEip).toBe(CODE);
    expect(m.cpu.run(100)).toBe(EXIT_TRIPLE_FAULT);
  });

  it('a triple fault records the vector that began the chain: #UD with no usable IDT ends in #GP, and says 6', () => {
    const m = machine();
    m.cpu.idtLimit = 0; // no gate at all: #UD -> #GP(IDT) -> #DF -> #GP: triple
    load(m, CODE, [0x0f, 0x0b]); // ud2
    expect(m.cpu.run(100)).toBe(EXIT_TRIPLE_FAULT);
    expect([m.cpu.tripleFaultVector, m.cpu.tripleFaultFirst, m.cpu.tripleFaultEip]).toEqual([13, 6, CODE]);
  });

  it('#PF while pushing the #PF frame becomes #DF, whose push faults too: triple fault', () => {
    const m = machine();
    setupPaging(m);
    setPte(m, 0x400000, 0);
    setPte(m, KSTACK - 4096, 0); // the kernel stack page
    load(m, CODE, [0xa1, 0x00, 0x00, 0x40, 0x00]);
    expect(m.cpu.run(100)).toBe(EXIT_TRIPLE_FAULT);
    expect(m.cpu.tripleFaultVector).toBe(14);
    expect(m.cpu.cr2 >>> 0).toBe(KSTACK - 4);
  });

  it('external IRQ: delivered only with IF=1, after the STI shadow, acknowledged once', () => {
    const m = machine();
    gate(m, IDT, 0x20, 0x170000, 0);
    load(m, 0x170000, [0xe6, 0xf4]);
    // nop; sti; nop; nop; jmp $
    load(m, CODE, [0x90, 0xfb, 0x90, 0x90, 0xeb, 0xfe]);
    m.cpu.irqLine = true;
    m.pic.vector = 0x20;
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.pic.acks).toBe(1);
    // return address: after the instruction that follows STI
    expect(r32(m, m.cpu.regs[4])).toBe(CODE + 3);
  });

  it('the STI shadow outlives the end of a slice: a slice that stops right after STI delivers nothing before the next instruction', () => {
    for (const jit of [false, true]) {
      const m = machine();
      m.cpu.jit = jit;
      gate(m, IDT, 0x20, 0x170000, 0);
      load(m, 0x170000, [0xe6, 0xf4]);
      // nop; sti; nop; nop; jmp $
      load(m, CODE, [0x90, 0xfb, 0x90, 0x90, 0xeb, 0xfe]);
      expect(m.cpu.run(2)).toBe(EXIT_BUDGET); // nop; sti: the slice ends inside the shadow
      m.cpu.irqLine = true; // the IRQ arrives between the slices, as a PIT tick does
      m.pic.vector = 0x20;
      expect(runToStop(m)).toBe(EXIT_STOP);
      expect(m.pic.acks).toBe(1);
      // taken after the instruction that follows STI, not before it
      expect(r32(m, m.cpu.regs[4])).toBe(CODE + 3);
    }
  });

  it('HLT returns EXIT_HLT and stays halted until an IRQ can be delivered', () => {
    const m = machine();
    gate(m, IDT, 0x20, 0x170000, 0);
    load(m, 0x170000, [0xe6, 0xf4]);
    load(m, CODE, [0xfb, 0xf4, 0xeb, 0xfe]); // sti; hlt
    expect(m.cpu.run(100)).toBe(EXIT_HLT);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.run(100)).toBe(EXIT_HLT);
    m.cpu.irqLine = true;
    expect(m.cpu.run(100)).toBe(EXIT_STOP);
    expect(m.cpu.halted).toBe(false);
    expect(r32(m, m.cpu.regs[4])).toBe(CODE + 2);
  });

  it('HLT and CLI in ring 3 raise #GP(0)', () => {
    for (const op of [0xf4, 0xfa]) {
      const m = machine();
      load(m, CODE, [op]);
      enterRing3(m);
      runToStop(m);
      expect(stoppedInHandler(m)).toBe(13);
      expect(r32(m, m.cpu.regs[4])).toBe(0);
    }
  });

  it('injectException delivers at the next run() with the given CR2 and error code', () => {
    const m = machine();
    load(m, CODE, [0x90, 0xeb, 0xfe]);
    m.cpu.injectException(14, 6, 0x12345000);
    runToStop(m);
    expect(stoppedInHandler(m)).toBe(14);
    expect(m.cpu.cr2).toBe(0x12345000);
    expect(r32(m, m.cpu.regs[4])).toBe(6);
    expect(r32(m, m.cpu.regs[4] + 4)).toBe(CODE);
  });

  it('task gates are refused with a GuestError', () => {
    const m = machine();
    load(m, IDT + 0x50 * 8 + 5, [0x85]);
    load(m, CODE, [0xcd, 0x50]);
    expect(() => m.cpu.run(10)).toThrow(/task gate/);
  });
});
