import { describe, expect, it } from 'vitest';
import { EXIT_BUDGET, EXIT_HLT, EXIT_MMU, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../../src/cpu/ports.js';
import { nullLogger } from '../../src/obs/log.js';
import { PcBoard } from '../../src/machine/pc-board.js';
import { type LoopCpu, MAX_SLICE, runVcpu } from '../../src/machine/run-loop.js';
import { pitTicksToVtime } from '../../src/machine/virtual-clock.js';

type Step = (cpu: FakeCpu) => void;

/**
 * A stand-in vCPU: each "instruction" is one step of a script (EIP indexes it; past the end the
 * CPU spins in place). It follows the Cpu contract the loop relies on: delivers an IRQ at an
 * instruction boundary when irqLine && IF, returns EXIT_HLT after HLT, honours stopRequested.
 */
class FakeCpu implements LoopCpu {
  icount = 0;
  haltedTicks = 0;
  halted = false;
  stopRequested = false;
  irqLine = false;
  eip = 0;
  eflags = 0x2;
  tripleFaultVector = -1;
  tripleFaultEip = 0;
  tripleFaultFirst = 8;
  triple = false;
  mmuExit = false;
  readonly delivered: { vector: number; vtime: number }[] = [];
  runs = 0;
  constructor(
    readonly board: PcBoard,
    readonly script: Step[],
  ) {}
  vtime(): number {
    return this.icount + this.haltedTicks;
  }
  getEflags(): number {
    return this.eflags;
  }
  run(max: number): number {
    this.runs++;
    for (let n = 0; n < max; n++) {
      if (this.stopRequested) return EXIT_STOP;
      if (this.irqLine && this.eflags & 0x200) {
        this.halted = false;
        this.delivered.push({ vector: this.board.pic.acknowledge(), vtime: this.vtime() });
        this.board.bus.portOut(0x20, 1, 0x20); // the handler's EOI
      }
      if (this.halted) return EXIT_HLT;
      const step = this.script[this.eip];
      this.icount++;
      if (step === undefined) continue; // jmp $
      this.eip++;
      step(this);
      if (this.triple) return EXIT_TRIPLE_FAULT;
      if (this.mmuExit) return EXIT_MMU;
      if (this.halted) return EXIT_HLT;
    }
    return EXIT_BUDGET;
  }
}

const out = (port: number, v: number): Step => (c) => c.board.bus.portOut(port, 1, v);
const out4 = (port: number, v: number): Step => (c) => c.board.bus.portOut(port, 4, v);
const sti: Step = (c) => (c.eflags |= 0x200);
const hlt: Step = (c) => (c.halted = true);
const nop: Step = () => {};

function machine(script: Step[]) {
  let cpu: FakeCpu | null = null;
  const bytes: number[] = [];
  const board = new PcBoard({ clock: { now: () => cpu?.vtime() ?? 0 }, log: nullLogger, output: { write: (b) => void bytes.push(b) } });
  cpu = new FakeCpu(board, script);
  board.attachVcpus([cpu]);
  return { cpu, board, bytes };
}

/** Remap the PIC to 0x20/0x28, unmask only IRQ0, program the PIT in mode 2 with `count`. */
const timerSetup = (count: number): Step[] => [
  out(0x20, 0x11), out(0x21, 0x20), out(0x21, 0x04), out(0x21, 0x01),
  out(0xa0, 0x11), out(0xa1, 0x28), out(0xa1, 0x02), out(0xa1, 0x01),
  out(0x21, 0xfe), out(0xa1, 0xff),
  out(0x43, 0x34), out(0x40, count & 0xff), out(0x40, count >> 8),
];

describe('run loop', () => {
  it('stops with the exit device status and the serial bytes', () => {
    const { cpu, board, bytes } = machine([out(0x3f8, 0x68), out(0x3f8, 0x69), out4(0xf4, 0x105)]);
    const r = runVcpu(cpu, board);
    expect(r).toMatchObject({ exitCode: 5, reason: 'exit', instructions: 3 });
    expect(bytes).toEqual([0x68, 0x69]);
  });

  it('instruction budget: exit status 4 after exactly N retired instructions', () => {
    const { cpu, board } = machine([]);
    const r = runVcpu(cpu, board, 12345);
    expect(r.exitCode).toBe(4);
    expect(r.reason).toBe('budget');
    expect(r.instructions).toBe(12345);
    expect(r.message).toMatch(/instruction budget of 12345 exhausted at EIP 0x00000000/);
  });

  it('slices never exceed the next PIT deadline, so IRQ0 lands on its exact virtual instant', () => {
    const script = [...timerSetup(100), sti];
    const { cpu, board } = machine(script);
    runVcpu(cpu, board, 100_000);
    // The count was loaded by the 13th instruction: vtime 13.
    const start = 13;
    expect(cpu.delivered.length).toBeGreaterThan(5);
    const first = cpu.delivered[0]!;
    expect(first.vector).toBe(0x20);
    const startTick = Math.floor((start * 1193182) / 100_000_000);
    expect(first.vtime).toBe(pitTicksToVtime(startTick + 100));
    expect(cpu.delivered[1]!.vtime).toBe(pitTicksToVtime(startTick + 200));
  });

  it('HLT with IF=1 skips virtual time to the next timer event without retiring instructions', () => {
    const script = [...timerSetup(11932), sti, hlt, hlt, hlt, out4(0xf4, 0)];
    const { cpu, board } = machine(script);
    const r = runVcpu(cpu, board);
    expect(r.exitCode).toBe(0);
    expect(cpu.delivered).toHaveLength(3);
    expect(r.instructions).toBe(script.length);
    expect(r.vtime).toBeGreaterThan(3 * 1_000_000 - 1000); // three 100 Hz ticks = 3e6 instructions at 10 ns
    expect(cpu.haltedTicks).toBe(r.vtime - r.instructions);
  });

  it('HLT with IF=0 can never wake: exit status 1', () => {
    const { cpu, board } = machine([nop, hlt]);
    const r = runVcpu(cpu, board);
    expect(r).toMatchObject({ exitCode: 1, reason: 'halted' });
    expect(r.message).toMatch(/IF=0/);
  });

  it('HLT with IF=1 but IRQ0 masked can never wake: exit status 1', () => {
    const { cpu, board } = machine([out(0x21, 0xff), sti, hlt]);
    const r = runVcpu(cpu, board);
    expect(r).toMatchObject({ exitCode: 1, reason: 'halted' });
    expect(r.message).toMatch(/masked/);
  });

  it('the BIOS tick wakes a guest that never programmed the PIC or PIT (vector 0x08)', () => {
    const { cpu, board } = machine([sti, hlt, out4(0xf4, 9)]);
    const r = runVcpu(cpu, board);
    expect(r.exitCode).toBe(9);
    expect(cpu.delivered[0]).toEqual({ vector: 0x08, vtime: pitTicksToVtime(65536) });
  });

  it('triple fault: exit status 3 naming the vector and EIP', () => {
    const { cpu, board } = machine([
      nop,
      (c) => {
        c.triple = true;
        c.tripleFaultVector = 14;
        c.tripleFaultEip = 0x100234;
        c.tripleFaultFirst = 14;
      },
    ]);
    const r = runVcpu(cpu, board);
    expect(r).toMatchObject({ exitCode: 3, reason: 'triple-fault' });
    expect(r.message).toBe('triple fault: vector 14 at EIP 0x00100234');
  });

  it('triple fault: the message names the event whose delivery began the chain when it was another vector', () => {
    const { cpu, board } = machine([
      nop,
      (c) => {
        c.triple = true;
        c.tripleFaultVector = 13;
        c.tripleFaultEip = 0x10000c;
        c.tripleFaultFirst = 6;
      },
    ]);
    expect(runVcpu(cpu, board).message).toBe('triple fault: vector 13 at EIP 0x0010000c (the chain of faults began with vector 6)');
  });

  it('a long spin with no timer armed still runs in bounded slices', () => {
    const { cpu, board } = machine([out(0x43, 0x30)]); // mode 0, no count: channel 0 stopped
    runVcpu(cpu, board, 3 * MAX_SLICE + 7);
    expect(cpu.icount).toBe(3 * MAX_SLICE + 7);
    expect(cpu.runs).toBeGreaterThanOrEqual(4);
  });

  it('is deterministic: the same script gives the same deliveries and virtual time', () => {
    const script = [...timerSetup(300), sti, hlt, nop, hlt, hlt, out4(0xf4, 1)];
    const a = machine(script);
    const b = machine(script);
    const ra = runVcpu(a.cpu, a.board);
    const rb = runVcpu(b.cpu, b.board);
    expect(ra).toEqual(rb);
    expect(a.cpu.delivered).toEqual(b.cpu.delivered);
  });

  it('EXIT_MMU goes to the given handler (a hypervisor fault path), or is an internal error', () => {
    const script: Step[] = [(c) => (c.mmuExit = true), out4(0xf4, 6)];
    const a = machine(script);
    let handled = 0;
    const r = runVcpu(a.cpu, a.board, Infinity, (c) => {
      handled++;
      (c as FakeCpu).mmuExit = false;
    });
    expect(handled).toBe(1);
    expect(r.exitCode).toBe(6);
    const b = machine(script);
    expect(() => runVcpu(b.cpu, b.board)).toThrow(/EXIT_MMU/);
  });
});
