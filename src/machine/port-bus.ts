// The I/O port bus of one VM: routes IN/OUT from any vCPU to the device that claimed the port.
// Mirrors KVM's kvm_io_bus (KVM_PIO_BUS) and QEMU's ioport dispatch. Unclaimed ports read all
// ones and drop writes, with a debug line naming the port (GUEST-ABI "Devices").

import type { IoBus } from '../cpu/ports.js';
import type { Logger } from '../obs/log.js';

/** A device's handler for a range of ports; `offset` is the port minus the range's first port. */
export interface PortHandler {
  portIn(offset: number, size: 1 | 2 | 4): number;
  portOut(offset: number, size: 1 | 2 | 4, value: number): void;
}

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

export class PortBus implements IoBus {
  // One byte per port (65536) names the registration that claimed it (its handler and first
  // port): dispatch is two array loads, range checks happen once, at registration, and a new bus
  // costs one 64 KiB typed array (a 65536-slot generic array took milliseconds to fill, per VM).
  // Port I/O is a slow path, but the UART is hit once per output byte.
  private readonly handlers: (PortHandler | undefined)[] = [undefined];
  private readonly firstPort: number[] = [0];
  private readonly slot = new Uint8Array(0x10000);
  private readonly debug: boolean;

  constructor(private readonly log: Logger) {
    this.debug = log.enabled('debug');
  }

  /** Claim ports [first, first + count); overlapping claims are a programming error. */
  register(first: number, count: number, handler: PortHandler): void {
    if (first < 0 || count <= 0 || first + count > 0x10000) {
      throw new RangeError(`port range 0x${first.toString(16)}+${count} outside the I/O space`);
    }
    for (let p = first; p < first + count; p++) {
      if (this.slot[p] !== 0) throw new Error(`port 0x${p.toString(16)} claimed twice`);
    }
    if (this.handlers.length > 0xff) throw new RangeError('port bus: more than 255 port ranges');
    const index = this.handlers.push(handler) - 1;
    this.firstPort.push(first);
    this.slot.fill(index, first, first + count);
  }

  portIn(port: number, size: 1 | 2 | 4): number {
    const i = this.slot[port & 0xffff]!;
    const h = this.handlers[i];
    if (h !== undefined) return h.portIn(port - this.firstPort[i]!, size);
    if (this.debug) this.log.debug({ port, size }, 'read from an unclaimed I/O port');
    return ALL_ONES[size];
  }

  portOut(port: number, size: 1 | 2 | 4, value: number): void {
    const i = this.slot[port & 0xffff]!;
    const h = this.handlers[i];
    if (h !== undefined) {
      h.portOut(port - this.firstPort[i]!, size, value);
      return;
    }
    if (this.debug) this.log.debug({ port, size, value }, 'write to an unclaimed I/O port ignored');
  }
}
