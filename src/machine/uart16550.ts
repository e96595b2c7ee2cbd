// COM1: the subset of a 16550A UART that a polled or interrupt-driven console driver uses.
// Mirrors QEMU's hw/char/serial.c register file: THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR,
// DLL/DLM behind DLAB. Transmission is instantaneous, so THR is always empty (LSR 0x60).
//
// Input comes from a fixed byte queue given at start (--input): it is the host side of the
// line, not the FIFO, so an FCR "clear receive FIFO" does not discard bytes not yet "arrived".

import type { PortHandler } from './port-bus.js';

export const COM1_PORT = 0x3f8;
export const COM1_PORTS = 8;
export const COM1_IRQ = 4;

/** Where transmitted bytes go (the CLI writes them to stdout). */
export interface ByteSink {
  write(byte: number): void;
}

const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IIR_NO_INT = 0x01;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_FIFO_ON = 0xc0;
const LCR_DLAB = 0x80;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
// Modem status with a cable attached: DCD, DSR, CTS (QEMU's initial MSR).
const MSR_IDLE = 0xb0;

export class Uart16550 implements PortHandler {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud, as a BIOS leaves it; nothing depends on the rate
  private dlm = 0;
  private fifoOn = false;
  // THR-empty interrupt: raised when THR empties (at once here) with IER.THRI set, cleared by
  // reading IIR while it is the reported source or by the next THR write.
  private thriPending = false;
  private input: Uint8Array;
  private inputPos = 0;
  // Loopback (MCR bit 4) sends THR to our own receiver: drivers use it as a presence test.
  private readonly loopback: number[] = [];
  private irqLevel = false;

  /** `setIrq` drives the UART's interrupt line (IRQ4 at the PIC). */
  constructor(
    private readonly sink: ByteSink,
    input: Uint8Array = new Uint8Array(0),
    private readonly setIrq: (level: boolean) => void = () => {},
  ) {
    this.input = input;
  }

  /** Bytes of input the guest has not read yet. */
  get inputPending(): number {
    return this.input.length - this.inputPos + this.loopback.length;
  }

  /** Append host-side input (tests; a future interactive console). */
  pushInput(bytes: Uint8Array): void {
    const rest = this.input.subarray(this.inputPos);
    const merged = new Uint8Array(rest.length + bytes.length);
    merged.set(rest, 0);
    merged.set(bytes, rest.length);
    this.input = merged;
    this.inputPos = 0;
    this.updateIrq();
  }

  private dataReady(): boolean {
    return this.mcr & MCR_LOOP ? this.loopback.length > 0 : this.inputPos < this.input.length;
  }

  private pendingSource(): number {
    if (this.ier & IER_RDI && this.dataReady()) return IIR_RDI;
    if (this.ier & IER_THRI && this.thriPending) return IIR_THRI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    // OUT2 gates the interrupt onto the ISA line on PC serial ports.
    const level = this.pendingSource() !== IIR_NO_INT && (this.mcr & MCR_OUT2) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.setIrq(level);
    }
  }

  portIn(offset: number, _size: 1 | 2 | 4): number {
    switch (offset & 7) {
      case 0: {
        if (this.lcr & LCR_DLAB) return this.dll;
        let b = 0;
        if (this.mcr & MCR_LOOP) {
          if (this.loopback.length > 0) b = this.loopback.shift()!;
        } else if (this.inputPos < this.input.length) {
          b = this.input[this.inputPos++]!;
        }
        this.updateIrq();
        return b;
      }
      case 1:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case 2: {
        const src = this.pendingSource();
        if (src === IIR_THRI) {
          this.thriPending = false;
          this.updateIrq();
        }
        return src | (this.fifoOn ? IIR_FIFO_ON : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return LSR_THRE | LSR_TEMT | (this.dataReady() ? LSR_DR : 0);
      case 6:
        if (this.mcr & MCR_LOOP) {
          // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
          const m = this.mcr;
          return ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4);
        }
        return MSR_IDLE;
      default:
        return this.scr;
    }
  }

  portOut(offset: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    switch (offset & 7) {
      case 0:
        if (this.lcr & LCR_DLAB) {
          this.dll = v;
          return;
        }
        if (this.mcr & MCR_LOOP) this.loopback.push(v);
        else this.sink.write(v);
        // The byte left at once: THR is empty again.
        this.thriPending = true;
        this.updateIrq();
        return;
      case 1:
        if (this.lcr & LCR_DLAB) {
          this.dlm = v;
          return;
        }
        // Enabling THRI while THR is empty raises it at once, as on a real 16550.
        if (v & IER_THRI && !(this.ier & IER_THRI)) this.thriPending = true;
        this.ier = v & 0x0f;
        this.updateIrq();
        return;
      case 2:
        this.fifoOn = (v & 1) !== 0;
        return;
      case 3:
        this.lcr = v;
        return;
      case 4:
        this.mcr = v & 0x1f;
        if (!(this.mcr & MCR_LOOP)) this.loopback.length = 0;
        this.updateIrq();
        return;
      case 5:
      case 6:
        return; // LSR and MSR are read-only (factory test writes ignored)
      default:
        this.scr = v;
    }
  }
}
