import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/obs/log.js';
import { ExitDevice } from '../../src/machine/exit-device.js';
import { PicPair } from '../../src/machine/pic8259.js';
import { PortBus } from '../../src/machine/port-bus.js';
import { Uart16550 } from '../../src/machine/uart16550.js';

function recordingLogger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    enabled: () => true,
  };
}

describe('PortBus', () => {
  it('routes a range to its handler with offsets, and unclaimed ports read all ones with a debug line', () => {
    const log = recordingLogger();
    const bus = new PortBus(log);
    const seen: number[][] = [];
    bus.register(0x100, 4, {
      portIn: (off, size) => off * 10 + size,
      portOut: (off, size, v) => void seen.push([off, size, v]),
    });
    expect(bus.portIn(0x102, 1)).toBe(21);
    bus.portOut(0x103, 4, 0xdeadbeef);
    expect(seen).toEqual([[3, 4, 0xdeadbeef]]);
    expect(bus.portIn(0x104, 1)).toBe(0xff);
    expect(bus.portIn(0x80, 2)).toBe(0xffff);
    expect(bus.portIn(0x80, 4)).toBe(0xffffffff);
    bus.portOut(0x80, 1, 1);
    expect(log.lines.filter((l) => l.level === 'debug')).toHaveLength(4);
    expect(log.lines[0]!.obj).toEqual({ port: 0x104, size: 1 });
    expect(() => bus.register(0x103, 2, { portIn: () => 0, portOut: () => {} })).toThrow(/claimed twice/);
  });
});

describe('ExitDevice', () => {
  it('takes v & 0xff from the first write and stops', () => {
    let stops = 0;
    const d = new ExitDevice(() => stops++);
    expect(d.exited).toBe(false);
    d.portOut(0, 4, 0x1234);
    d.portOut(0, 4, 7);
    expect(d.status).toBe(0x34);
    expect(stops).toBe(1);
  });
});

describe('Uart16550', () => {
  const mk = (input?: number[]) => {
    const out: number[] = [];
    const irq: boolean[] = [];
    const u = new Uart16550({ write: (b) => void out.push(b) }, input && new Uint8Array(input), (l) => void irq.push(l));
    return { u, out, irq };
  };

  it('THR goes to the sink; LSR is 0x60 plus DR while input waits; RBR drains the queue', () => {
    const { u, out } = mk([0x41, 0x42]);
    u.portOut(0, 1, 0x68);
    expect(out).toEqual([0x68]);
    expect(u.portIn(5, 1)).toBe(0x61);
    expect(u.portIn(0, 1)).toBe(0x41);
    expect(u.portIn(0, 1)).toBe(0x42);
    expect(u.portIn(5, 1)).toBe(0x60);
    expect(u.portIn(0, 1)).toBe(0); // empty
  });

  it('a normal 16550 init sequence: DLAB divisor, LCR, FCR, MCR, SCR, and reading them back', () => {
    const { u, out } = mk([9]);
    u.portOut(1, 1, 0x00); // IER off
    u.portOut(3, 1, 0x80); // DLAB
    u.portOut(0, 1, 0x01); // DLL 115200
    u.portOut(1, 1, 0x00); // DLM
    expect(u.portIn(0, 1)).toBe(1);
    expect(u.portIn(1, 1)).toBe(0);
    u.portOut(3, 1, 0x03); // 8N1
    u.portOut(2, 1, 0xc7); // FIFO on, clear
    u.portOut(4, 1, 0x0b); // DTR RTS OUT2
    expect(u.portIn(3, 1)).toBe(0x03);
    expect(u.portIn(4, 1)).toBe(0x0b);
    expect(u.portIn(2, 1)).toBe(0xc1); // FIFOs on, nothing pending
    u.portOut(7, 1, 0x5a);
    expect(u.portIn(7, 1)).toBe(0x5a);
    expect(u.portIn(6, 1)).toBe(0xb0);
    expect(out).toEqual([]); // the divisor write did not transmit
    expect(u.portIn(0, 1)).toBe(9); // input survived the FIFO clear
  });

  it('loopback returns transmitted bytes to the receiver and mirrors MCR in MSR', () => {
    const { u, out } = mk();
    u.portOut(4, 1, 0x1e); // loop + RTS + OUT1 + OUT2
    u.portOut(0, 1, 0xae);
    expect(out).toEqual([]);
    expect(u.portIn(5, 1) & 1).toBe(1);
    expect(u.portIn(0, 1)).toBe(0xae);
    expect(u.portIn(6, 1)).toBe(0x10 | 0x40 | 0x80);
  });

  it('interrupts: RDA and THRE through IIR, gated by OUT2', () => {
    const { u, irq } = mk([1]);
    u.portOut(1, 1, 0x03); // RDI + THRI
    expect(irq).toEqual([]); // OUT2 off: line stays low
    u.portOut(4, 1, 0x08);
    expect(irq).toEqual([true]);
    expect(u.portIn(2, 1)).toBe(0x04); // received data first
    u.portIn(0, 1);
    expect(u.portIn(2, 1)).toBe(0x02); // then THR empty, cleared by this read
    expect(u.portIn(2, 1)).toBe(0x01);
    expect(irq).toEqual([true, false]);
    u.portOut(0, 1, 0x21); // transmitting raises THRE again
    expect(irq).toEqual([true, false, true]);
  });
});

describe('PicPair (8259A)', () => {
  const init = (p: PicPair, masterBase = 0x20, slaveBase = 0x28) => {
    p.masterPorts.portOut(0, 1, 0x11);
    p.slavePorts.portOut(0, 1, 0x11);
    p.masterPorts.portOut(1, 1, masterBase);
    p.slavePorts.portOut(1, 1, slaveBase);
    p.masterPorts.portOut(1, 1, 0x04);
    p.slavePorts.portOut(1, 1, 0x02);
    p.masterPorts.portOut(1, 1, 0x01);
    p.slavePorts.portOut(1, 1, 0x01);
  };

  it('starts as SeaBIOS leaves it: vectors 0x08/0x70, only IRQ0 and the cascade unmasked', () => {
    const p = new PicPair();
    expect(p.masterPorts.portIn(1, 1)).toBe(0xfa);
    expect(p.slavePorts.portIn(1, 1)).toBe(0xff);
    p.pulseIrq(0);
    expect(p.intr).toBe(true);
    expect(p.acknowledge()).toBe(0x08);
  });

  it('ICW remap, OCW1 masks, priority and non-specific EOI', () => {
    const p = new PicPair();
    let intr = false;
    p.connect((l) => (intr = l));
    init(p);
    expect(p.masterPorts.portIn(1, 1)).toBe(0); // ICW1 cleared the mask
    p.masterPorts.portOut(1, 1, 0xff);
    p.pulseIrq(3);
    expect(intr).toBe(false); // masked, but latched in IRR
    expect(p.masterPorts.portIn(0, 1)).toBe(0x08);
    p.masterPorts.portOut(1, 1, 0x00);
    expect(intr).toBe(true);
    p.pulseIrq(1);
    expect(p.acknowledge()).toBe(0x21); // IRQ1 beats IRQ3
    expect(intr).toBe(false); // IRQ3 is lower priority than the in-service IRQ1
    p.masterPorts.portOut(0, 1, 0x0b); // OCW3: read ISR
    expect(p.masterPorts.portIn(0, 1)).toBe(0x02);
    p.masterPorts.portOut(0, 1, 0x20); // non-specific EOI
    expect(intr).toBe(true);
    expect(p.acknowledge()).toBe(0x23);
    p.pulseIrq(0);
    expect(intr).toBe(true); // IRQ0 preempts IRQ3 in service
    expect(p.acknowledge()).toBe(0x20);
    p.masterPorts.portOut(0, 1, 0x63); // specific EOI of IRQ3 leaves IRQ0 in service
    expect(p.masterPorts.portIn(0, 1)).toBe(0x01);
  });

  it('cascade: slave IRQs arrive through master IRQ2 and need EOI on both', () => {
    const p = new PicPair();
    let intr = false;
    p.connect((l) => (intr = l));
    init(p);
    p.pulseIrq(12);
    expect(intr).toBe(true);
    expect(p.acknowledge()).toBe(0x2c);
    p.pulseIrq(9);
    // IRQ9 outranks IRQ12 on the slave, but the master's ISR holds IRQ2, which blocks its own
    // level until EOI (no special fully nested mode).
    expect(intr).toBe(false);
    p.slavePorts.portOut(0, 1, 0x20);
    p.masterPorts.portOut(0, 1, 0x20);
    expect(intr).toBe(true);
    expect(p.acknowledge()).toBe(0x29);
    // Masking the cascade hides the slave.
    p.slavePorts.portOut(0, 1, 0x20);
    p.masterPorts.portOut(0, 1, 0x20);
    p.masterPorts.portOut(1, 1, 0x04);
    p.pulseIrq(10);
    expect(intr).toBe(false);
    expect(p.unmasked(10)).toBe(false);
    expect(p.unmasked(0)).toBe(true);
  });

  it('spurious IRQ7 when nothing is pending, automatic EOI, poll mode', () => {
    const p = new PicPair();
    init(p);
    expect(p.acknowledge()).toBe(0x27);
    // Re-init master with AEOI.
    p.masterPorts.portOut(0, 1, 0x11);
    p.masterPorts.portOut(1, 1, 0x40);
    p.masterPorts.portOut(1, 1, 0x04);
    p.masterPorts.portOut(1, 1, 0x03);
    p.pulseIrq(5);
    expect(p.acknowledge()).toBe(0x45);
    p.masterPorts.portOut(0, 1, 0x0b);
    expect(p.masterPorts.portIn(0, 1)).toBe(0); // nothing in service under AEOI
    p.pulseIrq(6);
    p.masterPorts.portOut(0, 1, 0x0c); // OCW3 poll
    expect(p.masterPorts.portIn(0, 1)).toBe(0x86);
    expect(p.intr).toBe(false);
  });

  it('rotation: set-priority makes the named IRQ the lowest', () => {
    const p = new PicPair();
    init(p);
    p.masterPorts.portOut(0, 1, 0xc3); // IRQ3 lowest, IRQ4 highest
    p.pulseIrq(0);
    p.pulseIrq(5);
    expect(p.acknowledge()).toBe(0x25);
  });
});
