import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/machine/image-error.js';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { CLI_HLT, SPIN, buildElf, printAndExit, tinyGuest } from './tiny-elf.js';

const MEM = 8 * 1024 * 1024;

function boot(image: Uint8Array, input?: Uint8Array) {
  const out: number[] = [];
  const m = new NativeMachine({ image, ramBytes: MEM, output: { write: (b) => void out.push(b) }, input });
  return { m, out, text: () => String.fromCharCode(...out) };
}

describe('NativeMachine', () => {
  it('boots a tiny guest with the multiboot entry state and runs it to its exit', () => {
    const { m, text } = boot(tinyGuest(printAndExit('hey', 3)));
    expect(m.cpu.eip).toBe(0x100000);
    expect(m.cpu.regs[0]! >>> 0).toBe(0x2badb002);
    expect(m.cpu.regs[3]).toBe(0x9000);
    expect(m.cpu.getEflags()).toBe(0x2);
    const r = m.run();
    expect(r).toMatchObject({ exitCode: 3, reason: 'exit' });
    expect(text()).toBe('hey');
  });

  it('refuses a bad image before creating anything', () => {
    expect(() => boot(buildElf({ segments: [{ paddr: 0x100000, data: SPIN }], entry: 0x100000, multiboot: null }))).toThrow(
      ImageError,
    );
  });

  it('budget, halt-forever and determinism', () => {
    const spin = boot(tinyGuest(SPIN)).m.run(5000);
    expect(spin).toMatchObject({ exitCode: 4, reason: 'budget', instructions: 5000 });
    const hlt = boot(tinyGuest(CLI_HLT)).m.run();
    expect(hlt).toMatchObject({ exitCode: 1, reason: 'halted', instructions: 2 });
  });

  it('the BIOS timer wakes STI; HLT (IRQ0 at vector 8) and the guest retires its handler', () => {
    // An IDT whose vector 8 gate points at a handler that exits with status 0x42.
    // Layout at 1 MiB: code, then the IDT pointer, then the IDT (9 gates), then the handler.
    const base = 0x100000;
    const idt = base + 0x100;
    const handler = base + 0x200;
    const code = new Uint8Array(0x220);
    const dv = new DataView(code.buffer);
    // lgdt [base+0xe8]; lidt [base+0xf0]; sti; hlt; jmp $
    code.set([0x0f, 0x01, 0x15, ...le32(base + 0xe8), 0x0f, 0x01, 0x1d, ...le32(base + 0xf0), 0xfb, 0xf4, 0xeb, 0xfe], 0);
    // A flat GDT: null, code 0x08, data 0x10.
    code.set([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0], 0xc8);
    dv.setUint16(0xe8, 23, true);
    dv.setUint32(0xea, base + 0xc0, true);
    dv.setUint16(0xf0, 9 * 8 - 1, true);
    dv.setUint32(0xf2, idt, true);
    // Interrupt gate for vector 8: offset, selector 0x08 (flat code), present ring-0 32-bit gate.
    dv.setUint16(0x100 + 8 * 8, handler & 0xffff, true);
    dv.setUint16(0x100 + 8 * 8 + 2, 0x08, true);
    dv.setUint16(0x100 + 8 * 8 + 4, 0x8e00, true);
    dv.setUint16(0x100 + 8 * 8 + 6, handler >>> 16, true);
    code.set([0xb8, 0x42, 0, 0, 0, 0xe7, 0xf4], 0x200);
    const { m } = boot(tinyGuest(code));
    const r = m.run(1_000_000);
    expect(r).toMatchObject({ exitCode: 0x42, reason: 'exit' });
    expect(m.cpu.haltedTicks).toBeGreaterThan(4_000_000); // 65536 PIT ticks = 5.49 ms = 5.49e6 ticks
    expect(r.instructions).toBeLessThan(10);
  });

  it('random instruction streams: the guest faults or stops cleanly, run() never throws', () => {
    let x = 2024;
    const rnd = () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x >>> 24;
    };
    const reasons = new Set<string>();
    for (let n = 0; n < 40; n++) {
      const code = new Uint8Array(4096).map(rnd);
      const { m } = boot(tinyGuest(code));
      const r = m.run(200_000);
      expect(['exit', 'budget', 'triple-fault', 'halted', 'guest-error']).toContain(r.reason);
      expect(r.message).not.toContain('\n');
      reasons.add(r.reason);
    }
    expect(reasons.size).toBeGreaterThan(1);
  });
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}
