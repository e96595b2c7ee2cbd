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
      readInto: (gpa, out, off, len) => {
        if (gpa + len > ram.length) return false;
        for (let k = 0; k < len; k++) out[off + k] = ram[gpa + k]!;
        return true;
      },
      isRam: (gpa) => gpa < ram.length,
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
    const lines = [`translate ${hex(gva)} on vcpu${vcpu} (CR0 ${hex(cpu.cr0)}, CR3 ${hex(cpu.cr3)}, CR4 ${hex(cpu.cr4)}; --mmu native)`];
    const row = (k: string, v: string): number => lines.push(`  ${k.padEnd(10)} ${v}`);
    row('GVA', hex(gva));
    if (!(cpu.cr0 & 0x80000000)) row('guest walk', 'paging off: GPA = GVA');
    else {
      const pdeGpa = ((cpu.cr3 & 0xfffff000) + ((gva >>> 22) << 2)) >>> 0;
      const pde = this.word(pdeGpa);
      row('guest PDE', `[${gva >>> 22}] @ gpa ${hex(pdeGpa)} = ${pde === null ? 'outside RAM' : hex(pde)}`);
      if (pde !== null && pde & 1 && !(cpu.cr4 & 0x10 && pde & 0x80)) {
        const pteGpa = ((pde & 0xfffff000) + (((gva >>> 12) & 0x3ff) << 2)) >>> 0;
        const pte = this.word(pteGpa);
        row('guest PTE', `[${(gva >>> 12) & 0x3ff}] @ gpa ${hex(pteGpa)} = ${pte === null ? 'outside RAM' : hex(pte)}`);
      }
    }
    const gpa = gvaToGpa(cpu, this.phys, gva);
    row('GPA', gpa === null ? 'none: the guest has no mapping here (an access raises #PF in the guest)' : hex(gpa));
    if (gpa !== null) row('backing', `RAM offset ${hex(gpa)} (${NO_HV})`);
    return lines;
  }

  private word(gpa: number): number | null {
    const b = this.phys.read(gpa, 4);
    return b === null ? null : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
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
