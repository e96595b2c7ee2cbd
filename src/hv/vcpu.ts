// A vCPU (KVM's struct kvm_vcpu with its run loop body, vcpu_enter_guest): one Cpu whose Mmu is
// this vCPU's view of the VM's shadow MMU, plus the fault in flight. step() is one unit of work
// for the deterministic scheduler: either a slice of guest execution or one segment of the
// fault path between two preemption points.

import { Cpu } from '../cpu/cpu.js';
import type { CodeCache } from '../cpu/code-cache.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_MMU, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../cpu/ports.js';
import type { InterruptController, IoBus } from '../cpu/ports.js';
import { GuestWalker } from './shadow/guest-walk.js';
import {
  FAULT_EFAULT,
  pageFault,
  YIELD_AFTER_GUP,
  YIELD_BEFORE_LOCK,
  type FaultResult,
  type FaultVm,
} from './shadow/page-fault.js';
import type { ShadowMmu } from './shadow/mmu.js';
import { ShadowVcpuMmu, type StaleReporter } from './shadow/vcpu-mmu.js';
import { tdpPageFault, type TdpFaultVm } from './tdp/tdp-fault.js';
import { TdpVcpuMmu } from './tdp/tdp-vcpu.js';

/** What step() did. */
export const STEP_RAN = 0; // guest instructions ran (or a fault segment advanced)
export const STEP_HALTED = 1; // HLT: the VM loop decides how time moves on
export const STEP_TRIPLE_FAULT = 2;
export const STEP_EFAULT = 3; // guest memory could not be faulted in (munmap'd, mprotect'ed, OOM-killed)
export const STEP_STOPPED = 4; // asked to stop (exit device, --check, kick)

/**
 * Shadow page faults in a row that may leave the vCPU exactly where it was (no unit retired, no
 * event delivered) before the VMM gives up with an error instead of spinning forever. One
 * instruction needs a handful (fetch, operands and stack on both sides of page boundaries, IDT,
 * TSS), a few more when invalidations force retries; only a fault path that can never satisfy
 * the access (a VMM bug, or a host too small to keep one instruction's pages resident) gets here.
 */
export const NO_PROGRESS_EXITS = 1 << 16;

export class Vcpu {
  readonly cpu: Cpu;
  readonly vmmu: ShadowVcpuMmu;
  /** Under `--mmu tdp`: the processor's 2-D walk (the Cpu's Mmu); vmmu then holds no root. */
  readonly tdpMmu: TdpVcpuMmu | null;
  readonly walker = new GuestWalker();
  /** The fault in flight and the label of the preemption point it is paused at. */
  private fault: Generator<string, number, void> | null = null;
  private faultAt = '';
  readonly faultOut: FaultResult = { gfn: 0, hva: 0, errno: 0 };
  /** MMU exits since the vCPU last made progress, and the progress marks seen at the last one. */
  private stuckExits = 0;
  private lastIcount = -1;
  private lastDeliveries = -1;

  constructor(
    readonly index: number,
    private readonly vm: FaultVm | TdpFaultVm,
    mmu: ShadowMmu,
    mem: Uint8Array,
    io: IoBus,
    pic: InterruptController | undefined,
    code: CodeCache,
    reportStale: StaleReporter,
  ) {
    this.vmmu = new ShadowVcpuMmu(index, mmu, reportStale);
    const tdp = 'tdp' in vm ? vm.tdp : null;
    this.tdpMmu = tdp === null ? null : new TdpVcpuMmu(index, tdp, vm.memslots, reportStale, (gfn) => vm.noteUnbacked(gfn));
    this.cpu = new Cpu({ mem, mmu: this.tdpMmu ?? this.vmmu, io, pic, code, index });
  }

  /** True while a fault is in flight. */
  get faulting(): boolean {
    return this.fault !== null;
  }

  /**
   * Whether the next step may call into the host mm (guest walk, gup). Such steps must not run
   * at a preemption point inside a host mm operation, where Linux would hold locks the fault
   * needs; guest execution and the mmu_lock part of the fault may run there.
   */
  get nextStepTouchesHost(): boolean {
    if (this.fault === null) return false;
    return this.faultAt !== YIELD_AFTER_GUP && this.faultAt !== YIELD_BEFORE_LOCK;
  }

  /** Run guest code for at most `slice` instructions, or advance the fault in flight by one segment. */
  step(slice: number): number {
    if (this.fault !== null) return this.advanceFault();
    const exit = this.cpu.run(slice);
    switch (exit) {
      case EXIT_BUDGET:
        return STEP_RAN;
      case EXIT_MMU:
        this.noteExit();
        if (this.tdpMmu !== null) {
          const t = this.tdpMmu;
          this.fault = tdpPageFault(this.vm as TdpFaultVm, this.cpu, t, t.exitGfn, t.exitWrite, this.faultOut);
          this.faultAt = '';
          return STEP_RAN;
        }
        this.fault = pageFault(this.vm, this.cpu, this.vmmu, this.walker, this.cpu.exitLin, this.cpu.exitAcc, this.faultOut);
        this.faultAt = '';
        return STEP_RAN;
      case EXIT_HLT:
        return STEP_HALTED;
      case EXIT_TRIPLE_FAULT:
        return STEP_TRIPLE_FAULT;
      case EXIT_STOP:
        return STEP_STOPPED;
      default:
        throw new Error(`unknown Cpu.run() exit ${exit}`);
    }
  }

  /** The no-progress guard (see NO_PROGRESS_EXITS): throws once the limit is reached. */
  private noteExit(): void {
    const cpu = this.cpu;
    if (cpu.icount !== this.lastIcount || cpu.deliveries !== this.lastDeliveries) {
      this.lastIcount = cpu.icount;
      this.lastDeliveries = cpu.deliveries;
      this.stuckExits = 0;
      return;
    }
    if (++this.stuckExits < NO_PROGRESS_EXITS) return;
    this.stuckExits = 0;
    const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
    throw new Error(
      `vcpu${this.index} made no progress: ${NO_PROGRESS_EXITS} shadow page faults in a row at EIP ${hex(cpu.eip)} ` +
        `(gva ${hex(cpu.exitLin)}, access ${cpu.exitAcc}) neither retired an instruction nor delivered an event`,
    );
  }

  /**
   * Abandon the fault in flight (the VM stopped, or is being torn down): the fault path's
   * cleanup drops the page reference it may hold; nothing is installed.
   */
  abortFault(): void {
    const f = this.fault;
    if (f === null) return;
    this.fault = null;
    this.faultAt = '';
    f.return(0);
  }

  /** Run the fault to completion (no preemption): for callers without a scheduler. */
  finishFault(): number {
    let r = STEP_RAN;
    while (this.fault !== null) r = this.advanceFault();
    return r;
  }

  private advanceFault(): number {
    const f = this.fault as Generator<string, number, void>;
    const r = f.next();
    if (!r.done) {
      this.faultAt = r.value;
      return STEP_RAN;
    }
    this.fault = null;
    this.faultAt = '';
    if (r.value === FAULT_EFAULT) return STEP_EFAULT;
    // FAULT_GUEST: #PF is queued in the Cpu; FIXED / RETRY: the access simply re-executes.
    return STEP_RAN;
  }
}
