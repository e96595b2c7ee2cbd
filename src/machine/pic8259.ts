// The PC's cascaded pair of 8259A interrupt controllers (master at 0x20, slave at 0xA0 on the
// master's IRQ2): ICW1-4, OCW1 masks, OCW2 EOIs and priority rotation, OCW3 IRR/ISR reads and
// poll. Mirrors the behaviour of QEMU's hw/intc/i8259.c and KVM's in-kernel arch/x86/kvm/i8259.c
// (pic_update_irq / kvm_pic_read_irq), edge-triggered only.

import type { InterruptController } from '../cpu/ports.js';
import type { PortHandler } from './port-bus.js';

export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const PIC_CASCADE_IRQ = 2;

/** One 8259A: IRR, ISR and IMR plus the initialization state machine. */
export class Pic8259Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  base = 0;
  private lastLevel = 0; // input line levels, for edge detection
  private initState = 0; // 0 = operational, 1..3 = expecting ICW2..ICW4
  private needIcw4 = false;
  private single = false;
  autoEoi = false;
  private rotateOnAutoEoi = false;
  private readIsr = false;
  private poll = false;
  // Rotation: the IRQ with highest priority is priorityAdd (0 = fixed priority, IRQ0 first).
  private priorityAdd = 0;

  constructor(private readonly update: () => void) {}

  /** Put the chip in the state a BIOS leaves it: initialized, vectors at `base`, mask `imr`. */
  resetTo(base: number, imr: number): void {
    this.irr = this.isr = this.lastLevel = 0;
    this.initState = 0;
    this.needIcw4 = this.single = this.autoEoi = this.rotateOnAutoEoi = false;
    this.readIsr = this.poll = false;
    this.priorityAdd = 0;
    this.base = base & 0xf8;
    this.imr = imr & 0xff;
  }

  /** Edge-triggered input: IRR latches on a rising edge and keeps it until acknowledged. */
  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (level) {
      if (!(this.lastLevel & bit)) this.irr |= bit;
      this.lastLevel |= bit;
    } else {
      this.lastLevel &= ~bit;
    }
  }

  /** Rank (0 = highest) of the highest-priority bit set in `mask`, or 8 when none. */
  private priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The IRQ (0-7) this chip would signal now, or -1: pending, unmasked and above what is in service. */
  pendingIrq(): number {
    const p = this.priority(this.irr & ~this.imr);
    if (p === 8) return -1;
    if (p >= this.priority(this.isr)) return -1;
    return (p + this.priorityAdd) & 7;
  }

  /** INTA for `irq`: move it from IRR to ISR (or straight out under automatic EOI). */
  intack(irq: number): void {
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= 1 << irq;
    }
    this.irr &= ~(1 << irq);
  }

  readPort(offset: number): number {
    if (this.poll) {
      this.poll = false;
      const irq = this.pendingIrq();
      if (irq < 0) return 0;
      this.intack(irq);
      this.update();
      return 0x80 | irq;
    }
    if (offset === 0) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  writePort(offset: number, v: number): void {
    if (offset === 0) {
      if (v & 0x10) {
        // ICW1 restarts initialization: masks and in-service bits are cleared.
        this.irr = this.isr = this.imr = this.lastLevel = 0;
        this.priorityAdd = 0;
        this.autoEoi = this.rotateOnAutoEoi = this.readIsr = this.poll = false;
        this.needIcw4 = (v & 1) !== 0;
        this.single = (v & 2) !== 0;
        this.initState = 1;
      } else if (v & 0x08) {
        // OCW3
        if (v & 0x04) this.poll = true;
        if (v & 0x02) this.readIsr = (v & 1) !== 0;
      } else {
        this.ocw2(v);
      }
    } else {
      switch (this.initState) {
        case 0:
          this.imr = v;
          break;
        case 1:
          this.base = v & 0xf8;
          this.initState = this.single ? (this.needIcw4 ? 3 : 0) : 2;
          return;
        case 2: // ICW3: cascade wiring is fixed (slave on IRQ2), so the value is accepted as is
          this.initState = this.needIcw4 ? 3 : 0;
          return;
        default: // ICW4
          this.autoEoi = (v & 2) !== 0;
          this.initState = 0;
          return;
      }
    }
    this.update();
  }

  private ocw2(v: number): void {
    const cmd = v >> 5;
    switch (cmd) {
      case 0: // rotate in automatic EOI mode: clear
      case 4: // ... set
        this.rotateOnAutoEoi = cmd === 4;
        break;
      case 1: // non-specific EOI
      case 5: {
        // ... with rotation
        const p = this.priority(this.isr);
        if (p !== 8) {
          const irq = (p + this.priorityAdd) & 7;
          this.isr &= ~(1 << irq);
          if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
        }
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << (v & 7));
        break;
      case 6: // set priority: the given IRQ becomes the lowest
        this.priorityAdd = ((v & 7) + 1) & 7;
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << (v & 7));
        this.priorityAdd = ((v & 7) + 1) & 7;
        break;
      default: // 2: no operation
        break;
    }
  }
}

/**
 * The master/slave pair as one device and the Cpu's InterruptController. Its INTR output goes to
 * the boot vCPU (`onIntr`, called after every state change with the current level).
 */
export class PicPair implements InterruptController {
  readonly master: Pic8259Chip;
  readonly slave: Pic8259Chip;
  private onIntr: (level: boolean) => void = () => {};
  /** Port handlers for 0x20-0x21 and 0xA0-0xA1. */
  readonly masterPorts: PortHandler;
  readonly slavePorts: PortHandler;

  constructor() {
    const update = (): void => this.update();
    this.master = new Pic8259Chip(update);
    this.slave = new Pic8259Chip(update);
    this.masterPorts = portsOf(this.master);
    this.slavePorts = portsOf(this.slave);
    this.reset();
  }

  /**
   * The state SeaBIOS hands to a multiboot kernel under QEMU: vectors 0x08 and 0x70, every line
   * masked except the timer (IRQ0) and the cascade (IRQ2).
   */
  reset(): void {
    this.master.resetTo(0x08, 0xfa);
    this.slave.resetTo(0x70, 0xff);
    this.update();
  }

  /** Connect INTR to a vCPU (sets Cpu.irqLine); called at once with the current level. */
  connect(onIntr: (level: boolean) => void): void {
    this.onIntr = onIntr;
    this.update();
  }

  /** Drive input line `irq` (0-15). */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.update();
  }

  /** A rising then falling edge: one interrupt request from an edge-triggered source. */
  pulseIrq(irq: number): void {
    this.setIrq(irq, true);
    this.setIrq(irq, false);
  }

  /** Whether INTR is asserted: an IRQ the CPU would accept once IF = 1. */
  get intr(): boolean {
    return this.master.pendingIrq() >= 0;
  }

  /** Whether line `irq` can currently reach the CPU (unmasked at its chip and at the cascade). */
  unmasked(irq: number): boolean {
    if (irq < 8) return !(this.master.imr & (1 << irq));
    return !(this.slave.imr & (1 << (irq - 8))) && !(this.master.imr & (1 << PIC_CASCADE_IRQ));
  }

  acknowledge(): number {
    let vector: number;
    const irq = this.master.pendingIrq();
    if (irq < 0) {
      vector = this.master.base + 7; // spurious IRQ7, as the hardware answers
    } else {
      this.master.intack(irq);
      if (irq === PIC_CASCADE_IRQ) {
        const irq2 = this.slave.pendingIrq();
        if (irq2 >= 0) {
          this.slave.intack(irq2);
          vector = this.slave.base + irq2;
        } else {
          vector = this.slave.base + 7;
        }
      } else {
        vector = this.master.base + irq;
      }
    }
    this.update();
    return vector;
  }

  private update(): void {
    // The slave's INT output is the master's IRQ2 input.
    if (this.master !== undefined && this.slave !== undefined) {
      this.master.setLine(PIC_CASCADE_IRQ, this.slave.pendingIrq() >= 0);
      this.onIntr(this.master.pendingIrq() >= 0);
    }
  }
}

function portsOf(chip: Pic8259Chip): PortHandler {
  return {
    portIn: (offset) => chip.readPort(offset & 1),
    portOut: (offset, _size, value) => chip.writePort(offset & 1, value & 0xff),
  };
}
