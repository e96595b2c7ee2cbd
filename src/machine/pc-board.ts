// The devices of one VM and their wiring: the port bus with COM1, the 0xF4 exit device, the
// 8259 pair and the 8254 PIT; PIT -> IRQ0 and UART -> IRQ4 at the PIC; PIC INTR -> vCPU 0.
// Mirrors what KVM calls the in-kernel irqchip plus QEMU's ISA devices (pc_basic_device_init).
// One board per VM, shared by all its vCPUs; it never looks at an Mmu, so the native machine
// and the hypervisor use it alike.

import type { Logger } from '../obs/log.js';
import { EXIT_DEVICE_PORT, EXIT_DEVICE_PORTS, ExitDevice } from './exit-device.js';
import { PIC_MASTER_PORT, PIC_SLAVE_PORT, PicPair } from './pic8259.js';
import { PIT_IRQ, PIT_PORT, PIT_PORTS, Pit8254 } from './pit8254.js';
import { PortBus } from './port-bus.js';
import { type ByteSink, COM1_IRQ, COM1_PORT, COM1_PORTS, Uart16550 } from './uart16550.js';
import type { VirtualClock } from './virtual-clock.js';

/** What the board needs of a vCPU: its interrupt line and its "leave run() now" flag. */
export interface VcpuLines {
  irqLine: boolean;
  stopRequested: boolean;
}

/** Why a VM stopped from the outside of its vCPUs. */
export interface BoardStop {
  exitCode: number;
  reason: 'exit' | 'output-closed';
  message: string;
}

export interface BoardOptions {
  /** Virtual time as vCPU 0 sees it (its Cpu.vtime()). */
  clock: VirtualClock;
  log: Logger;
  /** COM1 transmit. */
  output: ByteSink;
  /** COM1 receive: bytes the guest can read, available from the start. */
  input?: Uint8Array;
}

export class PcBoard {
  readonly bus: PortBus;
  readonly uart: Uart16550;
  readonly exitDevice: ExitDevice;
  readonly pic: PicPair;
  readonly pit: Pit8254;
  /** Set once the VM must stop; the run loop returns it as the result. */
  stopped: BoardStop | null = null;
  private vcpus: VcpuLines[] = [];

  constructor(opts: BoardOptions) {
    this.bus = new PortBus(opts.log);
    this.pic = new PicPair();
    this.uart = new Uart16550(opts.output, opts.input, (level) => this.pic.setIrq(COM1_IRQ, level));
    this.exitDevice = new ExitDevice(() => {
      this.stop({
        exitCode: this.exitDevice.status,
        reason: 'exit',
        message: `guest wrote ${this.exitDevice.status} to the exit device`,
      });
    });
    this.pit = new Pit8254(
      opts.clock,
      () => this.pic.pulseIrq(PIT_IRQ),
      () => this.kick(),
    );
    this.bus.register(COM1_PORT, COM1_PORTS, this.uart);
    this.bus.register(EXIT_DEVICE_PORT, EXIT_DEVICE_PORTS, this.exitDevice);
    this.bus.register(PIC_MASTER_PORT, 2, this.pic.masterPorts);
    this.bus.register(PIC_SLAVE_PORT, 2, this.pic.slavePorts);
    this.bus.register(PIT_PORT, PIT_PORTS, this.pit);
  }

  /** Wire the VM's vCPUs: the PIC's INTR goes to vCPU 0 (no APIC: IRQs go to the boot CPU). */
  attachVcpus(vcpus: VcpuLines[]): void {
    this.vcpus = vcpus;
    const boot = vcpus[0];
    if (boot !== undefined) this.pic.connect((level) => (boot.irqLine = level));
  }

  /** Stop the VM (first stop wins) and make every vCPU leave run(). */
  stop(s: BoardStop): void {
    if (this.stopped === null) this.stopped = s;
    this.kick();
  }

  /** Make every vCPU return from run() at its next instruction boundary (EXIT_STOP), so the
   *  run loop re-reads deadlines and stop state. */
  kick(): void {
    for (const v of this.vcpus) v.stopRequested = true;
  }

  /** Virtual time of the next device event (an IRQ0 edge), or Infinity. */
  nextDeadline(): number {
    return this.pit.nextDeadline();
  }

  /** Deliver the device events due by virtual time `now`. */
  advance(now: number): void {
    this.pit.advance(now);
  }
}
