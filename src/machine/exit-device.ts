// The 0xF4 exit device (4 ports wide): a guest write of v stops the VM with exit status v & 0xff.
// Mirrors QEMU's isa-debug-exit (which exits the emulator with (v << 1) | 1 instead).

import type { PortHandler } from './port-bus.js';

export const EXIT_DEVICE_PORT = 0xf4;
export const EXIT_DEVICE_PORTS = 4;

export class ExitDevice implements PortHandler {
  /** The exit status once the guest wrote to the device, else -1. */
  status = -1;

  /** `onExit` stops every vCPU of the VM (sets Cpu.stopRequested). */
  constructor(private readonly onExit: () => void) {}

  get exited(): boolean {
    return this.status >= 0;
  }

  portIn(_offset: number, size: 1 | 2 | 4): number {
    // isa-debug-exit has no read side: the bus's all-ones answer.
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  portOut(_offset: number, _size: 1 | 2 | 4, value: number): void {
    if (this.status >= 0) return; // the first write wins; the VM is already stopping
    this.status = value & 0xff;
    this.onExit();
  }
}
