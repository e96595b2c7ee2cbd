// What the gdb stub needs from a machine, whichever one runs the guest: its vCPUs (gdb threads
// 1..n), guest-physical memory read without side effects, and the text of the monitor commands
// that look underneath the guest. Two implementations: native-target.ts (the bare processor,
// `--mmu native`) and vm-target.ts (a VM under the hypervisor, shadow or TDP).

import type { Cpu } from '../../cpu/cpu.js';
import type { GuestPhys } from './guest-peek.js';

export interface DebugTarget {
  readonly cpus: readonly Cpu[];
  readonly phys: GuestPhys;
  /** `monitor translate ADDR` for vCPU `vcpu` (lines). */
  translate(vcpu: number, gva: number): string[];
  /** `monitor sptes`: the MMU entries behind vCPU `vcpu`'s current address space. */
  sptes(vcpu: number): string[];
  /** `monitor host`: the hypervisor's and the host's counters. */
  hostCounters(): string[];
  /** `monitor events N`: the last N trace events. */
  events(n: number): string[];
}
