// The actors of an explorer scenario: scripted vCPUs that read and write guest memory through the
// real shadow MMU (TLB, shadow walk, the generator fault path with its three preemption points),
// host tasks that run one mm operation per step, and the guest-visible data model both keep,
// which is the scenario's own data check: a read must return the last value written (or what
// the host operation linearised at its start made of it), a write to read-only or unmapped
// memory must fail, and an access to accessible memory must not.

import type { Cpu } from '../../cpu/cpu.js';
import { EXIT_SIGNAL } from '../../cpu/cpu.js';
import { ACC_WRITE } from '../../cpu/ports.js';
import { PP_AFTER_GUP, PP_AFTER_START, PP_BEFORE_LOCK, type HostPreemptPoint } from '../../host/preempt-points.js';
import { FAULT_EFAULT, FAULT_GUEST, pageFault, type FaultResult } from '../../hv/shadow/page-fault.js';
import type { Vm } from '../../hv/vm.js';

/** Guest-visible state of one gfn in the model. */
export const MEM_RW = 0;
export const MEM_RO = 1;
/** Unmapped (munmap, exit): every access must fail. */
export const MEM_GONE = 2;
/** Not checked any more (a memslot being deleted: old data or all-ones are both right). */
export const MEM_LOOSE = 3;

/** The data word (offset 0 of each page) a correct system shows the guest, per gfn. */
export class GuestModel {
  readonly val: Int32Array;
  readonly acc: Uint8Array;
  /** The first data-check failure, if any. */
  failure: string | null = null;
  /** Bumped after every host actor step: a vCPU waiting on an EFAULT retries after it. */
  hostEpoch = 0;

  constructor(readonly gfns: number) {
    this.val = new Int32Array(gfns);
    this.acc = new Uint8Array(gfns);
  }

  fail(msg: string): void {
    if (this.failure === null) this.failure = msg;
  }
}

export interface Actor {
  readonly id: number;
  readonly name: string;
  runnable(): boolean;
  /** May run one step at a host preemption point (inside a host mm operation). */
  eligibleInside(point: HostPreemptPoint, gupInWindow: boolean): boolean;
  step(): void;
  /** Work left when the run ended (liveness). */
  done(): boolean;
}

export interface GuestOp {
  write: boolean;
  gfn: number;
  /** Value written (writes only). */
  value: number;
  /** Reads of `count` consecutive pages from gfn in one step (a loop over a hot set). */
  count: number;
}

export const r = (gfn: number, count = 1): GuestOp => ({ write: false, gfn, value: 0, count });
export const w = (gfn: number, value: number): GuestOp => ({ write: true, gfn, value, count: 1 });

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** A vCPU running a script of 32-bit accesses at offset 0 of guest pages (paging off: gva = gpa). */
export class GuestActor implements Actor {
  readonly name: string;
  private pc = 0;
  private fault: Generator<string, number, void> | null = null;
  private faultAt = '';
  private faultGfn = 0;
  private readonly out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
  /** hostEpoch at the last EFAULT on accessible memory: blocked until the host moves on. */
  private waitEpoch = -1;
  private readonly cpu: Cpu;

  constructor(
    readonly id: number,
    private readonly vm: Vm,
    private readonly vcpu: number,
    private readonly script: readonly GuestOp[],
    private readonly model: GuestModel,
    private readonly hostBusy: () => boolean,
  ) {
    this.name = `vcpu${vcpu}`;
    this.cpu = vm.vcpus[vcpu]!.cpu;
  }

  done(): boolean {
    return this.pc >= this.script.length;
  }

  runnable(): boolean {
    return this.pc < this.script.length && this.waitEpoch !== this.model.hostEpoch;
  }

  eligibleInside(point: HostPreemptPoint, gupInWindow: boolean): boolean {
    if (!this.runnable()) return false;
    if (this.fault === null || this.faultAt === PP_AFTER_GUP || this.faultAt === PP_BEFORE_LOCK) return true;
    // Starting a fault or doing its gup takes the mmap lock for read: allowed only inside host
    // operations that hold it for read as well, before they clear the pte (MADV_PAGEOUT, MADV_DONTNEED).
    return gupInWindow && point === PP_AFTER_START;
  }

  step(): void {
    if (this.fault !== null) return this.advanceFault();
    const op = this.script[this.pc]!;
    for (let k = 0; k < op.count; k++) {
      const gfn = op.gfn + k;
      const lin = gfn * 4096;
      let got = 0;
      try {
        if (op.write) this.cpu.writeAcc(lin, 4, op.value, 0);
        else got = this.cpu.readAcc(lin, 4, 0);
      } catch (e) {
        if (e !== EXIT_SIGNAL) throw e;
        // The access faults; the whole op re-executes once the fault is done (reads are idempotent).
        this.faultGfn = gfn;
        this.fault = pageFault(this.vm, this.cpu, this.vm.vcpus[this.vcpu]!.vmmu, this.vm.vcpus[this.vcpu]!.walker, lin, op.write ? ACC_WRITE : 0, this.out);
        this.faultAt = '';
        // The exit and the fault's first segment (guest walk, seq sample) are one step: between
        // them nothing of the fault has run, so a choice there could change nothing.
        this.advanceFault();
        return;
      }
      this.checkAccess(op, gfn, got);
    }
    this.pc++;
  }

  private checkAccess(op: GuestOp, gfn: number, got: number): void {
    const m = this.model;
    const acc = m.acc[gfn]!;
    if (acc === MEM_LOOSE) return;
    if (op.write) {
      if (acc !== MEM_RW) m.fail(`${this.name}: write of ${hex(op.value)} to gfn ${gfn} succeeded, but the page is ${acc === MEM_RO ? 'read-only' : 'unmapped'}`);
      m.val[gfn] = op.value;
    } else {
      if (acc === MEM_GONE) m.fail(`${this.name}: read of gfn ${gfn} succeeded (${hex(got)}), but the page is unmapped`);
      else if ((got | 0) !== m.val[gfn]) m.fail(`${this.name}: read gfn ${gfn} = ${hex(got)}, expected ${hex(m.val[gfn]!)}`);
    }
  }

  private advanceFault(): void {
    const f = this.fault!;
    const res = f.next();
    if (!res.done) {
      this.faultAt = res.value;
      return;
    }
    this.fault = null;
    this.faultAt = '';
    if (res.value === FAULT_GUEST) throw new Error(`${this.name}: unexpected guest #PF with paging off`);
    if (res.value !== FAULT_EFAULT) return; // FIXED or RETRY: the access re-executes
    const op = this.script[this.pc]!;
    const acc = this.model.acc[this.faultGfn]!;
    if (acc === MEM_GONE || acc === MEM_LOOSE || (op.write && acc === MEM_RO)) {
      this.pc++; // the access failed, as it must: the guest moves on
      return;
    }
    if (this.hostBusy()) {
      this.waitEpoch = this.model.hostEpoch; // a host operation may still make it accessible
      return;
    }
    this.model.fail(`${this.name}: ${op.write ? 'write' : 'read'} of gfn ${this.faultGfn} failed with errno ${-this.out.errno}, but the page is accessible`);
    this.pc++;
  }

  /** Abandon a fault in flight (end of run): its page reference is dropped. */
  abort(): void {
    if (this.fault !== null) this.fault.return(0);
    this.fault = null;
  }
}

/** One host-side step: what it does to the model (at its linearisation point, its start) and to the host. */
export interface HostOp {
  name: string;
  run(): void;
}

/** A host task (kswapd-like, ksmd, the VMM process) running one operation per step. */
export class HostActor implements Actor {
  private pc = 0;
  constructor(
    readonly id: number,
    readonly name: string,
    private readonly ops: readonly HostOp[],
    private readonly model: GuestModel,
    /** Runs inside other host operations too (a VMM ioctl such as a memslot update). */
    private readonly concurrent = false,
  ) {}

  done(): boolean {
    return this.pc >= this.ops.length;
  }

  runnable(): boolean {
    return this.pc < this.ops.length;
  }

  eligibleInside(): boolean {
    return this.concurrent && this.runnable();
  }

  step(): void {
    const op = this.ops[this.pc++]!;
    op.run();
    this.model.hostEpoch++;
  }

  /** The name of the next operation (for traces). */
  next(): string {
    return this.pc < this.ops.length ? this.ops[this.pc]!.name : '';
  }
}
