// The run loop of one vCPU on a board: slices of Cpu.run() bounded by the next device deadline
// and the instruction budget, HLT handled by skipping virtual time to the next timer event.
// Mirrors KVM's vcpu_run / vcpu_block (kvm_vcpu_halt) and the exit-reason switch of a VMM's
// KVM_RUN loop. Virtual time only: the same inputs always take the same path.
//
// HLT rules: with IF=0 nothing can wake the vCPU (we model no NMI), so the VM stops with exit
// status 1. With IF=1 the clock jumps to the next timer event; if that event still leaves no
// deliverable IRQ (IRQ0 masked, or in service without EOI), no later one will either, since
// nothing else changes while the only vCPU sleeps: the VM stops with exit status 1 as well.

import { tripleFaultMessage } from '../cpu/interrupts.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_MMU, EXIT_STOP, EXIT_TRIPLE_FAULT } from '../cpu/ports.js';
import type { PcBoard } from './pc-board.js';

/** The part of a Cpu the loop drives (the real Cpu satisfies it structurally). */
export interface LoopCpu {
  run(maxInsns: number): number;
  icount: number;
  haltedTicks: number;
  vtime(): number;
  halted: boolean;
  stopRequested: boolean;
  irqLine: boolean;
  eip: number;
  getEflags(): number;
  tripleFaultVector: number;
  tripleFaultEip: number;
  tripleFaultFirst: number;
}

export type RunReason = 'exit' | 'budget' | 'triple-fault' | 'halted' | 'guest-error' | 'output-closed';

/** Exit statuses (the CLI's process exit status): one table, src/obs/exit-status.ts. */
import {
  EXIT_STATUS_HALTED,
  EXIT_STATUS_BAD_INPUT,
  EXIT_STATUS_TRIPLE_FAULT,
  EXIT_STATUS_BUDGET,
  EXIT_STATUS_OUTPUT_CLOSED,
} from '../obs/exit-status.js';
export { EXIT_STATUS_HALTED, EXIT_STATUS_BAD_INPUT, EXIT_STATUS_TRIPLE_FAULT, EXIT_STATUS_BUDGET, EXIT_STATUS_OUTPUT_CLOSED };

export interface RunResult {
  exitCode: number;
  reason: RunReason;
  /** One line for humans. */
  message: string;
  /** Guest instructions retired by this vCPU. */
  instructions: number;
  /** Virtual time at the end (instructions + halted ticks). */
  vtime: number;
  eip: number;
}

const EFLAGS_IF = 0x200;
/** Longest slice without a deadline: bounds how long a stop request from outside can wait. */
export const MAX_SLICE = 1 << 22;

const hex8 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

function result(cpu: LoopCpu, exitCode: number, reason: RunReason, message: string): RunResult {
  return { exitCode, reason, message, instructions: cpu.icount, vtime: cpu.vtime(), eip: cpu.eip >>> 0 };
}

/**
 * Run `cpu` (the VM's only vCPU) until the guest exits, faults out, sleeps forever or uses up
 * `maxInsns` retired instructions. `handleMmuExit` resolves an EXIT_MMU (a hypervisor's shadow
 * page fault path); the instruction then re-executes. Native mode never exits that way.
 */
export function runVcpu(
  cpu: LoopCpu,
  board: PcBoard,
  maxInsns = Infinity,
  handleMmuExit?: (cpu: LoopCpu) => void,
): RunResult {
  for (;;) {
    const stop = board.stopped;
    if (stop !== null) return result(cpu, stop.exitCode, stop.reason, stop.message);
    const now = cpu.vtime();
    board.advance(now);
    const left = maxInsns - cpu.icount;
    if (left <= 0) {
      return result(cpu, EXIT_STATUS_BUDGET, 'budget', `instruction budget of ${maxInsns} exhausted at EIP ${hex8(cpu.eip)}`);
    }
    // advance() left the deadline in the future, so every slice makes progress.
    const slice = Math.max(1, Math.min(left, MAX_SLICE, board.nextDeadline() - now));
    const exit = cpu.run(slice);
    switch (exit) {
      case EXIT_BUDGET:
        break;
      case EXIT_STOP:
        // A kick (exit device, PIT reprogrammed, output closed): re-plan unless stopping.
        if (board.stopped === null) cpu.stopRequested = false;
        break;
      case EXIT_TRIPLE_FAULT:
        return result(
          cpu,
          EXIT_STATUS_TRIPLE_FAULT,
          'triple-fault',
          tripleFaultMessage(cpu),
        );
      case EXIT_HLT: {
        const woken = wakeFromHlt(cpu, board);
        if (woken !== null) return woken;
        break;
      }
      case EXIT_MMU:
        if (handleMmuExit !== undefined) {
          handleMmuExit(cpu);
          break;
        }
        throw new Error(`vCPU exited with EXIT_MMU at EIP ${hex8(cpu.eip)}, but this loop has no MMU exit handler`);
      default:
        throw new Error(`unknown Cpu.run() exit ${exit}`);
    }
  }
}

/** Sleep until the next interrupt; returns a result when none can ever come. */
export function wakeFromHlt(cpu: LoopCpu, board: PcBoard): RunResult | null {
  const at = `at EIP ${hex8(cpu.eip)}`;
  if (!(cpu.getEflags() & EFLAGS_IF)) {
    return result(cpu, EXIT_STATUS_HALTED, 'halted', `HLT with interrupts disabled (IF=0) ${at}: the guest can never wake`);
  }
  board.advance(cpu.vtime());
  if (!cpu.irqLine) {
    const next = board.nextDeadline();
    if (next === Infinity) {
      return result(cpu, EXIT_STATUS_HALTED, 'halted', `HLT with IF=1 ${at} but no timer is armed: the guest can never wake`);
    }
    cpu.haltedTicks += Math.max(0, next - cpu.vtime());
    board.advance(cpu.vtime());
    if (!cpu.irqLine) {
      return result(
        cpu,
        EXIT_STATUS_HALTED,
        'halted',
        `HLT with IF=1 ${at} but the timer interrupt is masked or still in service: the guest can never wake`,
      );
    }
  }
  // The Cpu delivers the pending IRQ at its next instruction boundary; EIP is already past HLT.
  cpu.halted = false;
  return null;
}
