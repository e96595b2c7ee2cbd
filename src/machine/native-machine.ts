// The `--mmu native` machine: one vCPU on bare guest-physical RAM, translated by the processor's
// own page walker (NativeMmu), the PC board's devices and the run loop. The bare-metal reference
// the hypervisor is compared with; mirrors what QEMU's pc machine + TCG give a multiboot kernel.

import { CodeCache } from '../cpu/code-cache.js';
import { Cpu } from '../cpu/cpu.js';
import { jitDefault } from '../cpu/jit/compile.js';
import { allocRam } from '../cpu/jit/wasm-arena.js';
import { GuestError } from '../cpu/errors.js';
import { NativeMmu } from '../cpu/paging.js';
import { type Logger, nullLogger } from '../obs/log.js';
import { flatRamWriter } from './guest-phys-writer.js';
import { type BootState, loadMultibootImage } from './multiboot.js';
import { PcBoard } from './pc-board.js';
import { EXIT_STATUS_BAD_INPUT, type RunResult, runVcpu } from './run-loop.js';
import type { ByteSink } from './uart16550.js';

export interface NativeMachineOptions {
  /** The ELF/Multiboot image file. */
  image: Uint8Array;
  /** Guest RAM in bytes (guest-physical [0, ramBytes)). */
  ramBytes: number;
  cmdline?: string;
  /** COM1 transmit. */
  output: ByteSink;
  /** COM1 receive bytes. */
  input?: Uint8Array;
  log?: Logger;
  /** Recorded for reproducibility; native mode has no random choices yet. */
  seed?: number;
}

export class NativeMachine {
  readonly ram: Uint8Array;
  readonly board: PcBoard;
  readonly cpu: Cpu;
  readonly boot: BootState;

  /** Throws ImageError (before anything runs) when the image breaks GUEST-ABI "Image format". */
  constructor(opts: NativeMachineOptions) {
    const log = opts.log ?? nullLogger;
    this.ram = allocRam(opts.ramBytes, jitDefault());
    this.boot = loadMultibootImage(opts.image, {
      ramBytes: opts.ramBytes,
      cmdline: opts.cmdline,
      mem: flatRamWriter(this.ram),
    });
    // The board's clock is vCPU 0's virtual time; the Cpu exists only once the board does.
    let vcpu0: Cpu | null = null;
    this.board = new PcBoard({
      clock: { now: () => (vcpu0 === null ? 0 : vcpu0.vtime()) },
      log,
      output: opts.output,
      input: opts.input,
    });
    this.cpu = new Cpu({
      mem: this.ram,
      mmu: new NativeMmu(opts.ramBytes),
      io: this.board.bus,
      pic: this.board.pic,
      code: new CodeCache(opts.ramBytes),
      index: 0,
    });
    vcpu0 = this.cpu;
    this.cpu.reset();
    this.cpu.eip = this.boot.eip;
    this.cpu.regs[0] = this.boot.eax; // EAX
    this.cpu.regs[3] = this.boot.ebx; // EBX
    this.board.attachVcpus([this.cpu]);
  }

  /** Run until the guest stops; `maxInsns` bounds retired instructions (exit status 4). */
  run(maxInsns = Infinity): RunResult {
    try {
      return runVcpu(this.cpu, this.board, maxInsns);
    } catch (e) {
      // The guest did something the ABI refuses (e.g. a non-flat segment): bad input, one line.
      if (e instanceof GuestError) {
        return {
          exitCode: EXIT_STATUS_BAD_INPUT,
          reason: 'guest-error',
          message: e.message,
          instructions: this.cpu.icount,
          vtime: this.cpu.vtime(),
          eip: this.cpu.eip >>> 0,
        };
      }
      throw e;
    }
  }
}
