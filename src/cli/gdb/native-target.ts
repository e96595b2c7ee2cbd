// The debug target of a `--mmu native` run: one vCPU on flat guest-physical RAM. There is no
// hypervisor underneath, so GPA is the backing address and the monitor commands say so.

import type { Cpu } from '../../cpu/cpu.js';
import type { NativeMachine } from '../../machine/native-machine.js';
import type { DebugTarget } from './debug-target.js';
import { gvaToGpa, type GuestPhys } from './guest-peek.js';

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
const NO_HV = 'no hypervisor under this run (--mmu native): the processor walks the guest tables over guest-physical RAM';

export class NativeTarget implements DebugTarget {
  readonly cpus: readonly Cpu[];
  readonly phys: GuestPhys;

  constructor(machine: NativeMachine) {
    const ram = machine.ram;
    const cpu = machine.cpu;
    this.cpus = [cpu];
    this.phys = {
      read: (gpa, len) => (gpa + len <= ram.length ? ram.slice(gpa, gpa + len) : null),
      write: (gpa, bytes) => {
        if (gpa + bytes.length > ram.length) return false;
        ram.set(bytes, gpa);
        // Decoded blocks of that page would run the old bytes.
        cpu.code.invalidatePage(gpa >>> 12);
        return true;
      },
    };
  }

  translate(vcpu: number, gva: number): string[] {
    const cpu = this.cpus[vcpu]!;
    const gpa = gvaToGpa(cpu, this.phys, gva);
    const lines = [`translate ${hex(gva)} on vcpu${vcpu} (CR0 ${hex(cpu.cr0)}, CR3 ${hex(cpu.cr3)}, CR4 ${hex(cpu.cr4)})`];
    if (gpa === null) lines.push('  the guest has no mapping here: an access raises #PF in the guest');
    else lines.push(`  GPA        ${hex(gpa)}`, `  backing    RAM offset ${hex(gpa)} (${NO_HV})`);
    return lines;
  }

  sptes(): string[] {
    return [`no sptes: ${NO_HV}`];
  }

  hostCounters(): string[] {
    return [`no host: ${NO_HV}`];
  }

  events(): string[] {
    return ['no trace events under --mmu native (the event ring records the hypervisor and the host)'];
  }
}
