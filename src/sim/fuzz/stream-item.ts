// What an item of a fuzzer instruction stream is: a few instructions with their lengths, the
// relocations of their absolute addresses, and their flag transfer (def' = (def & keep) | set,
// reading `needs`), so that any subset of a stream is still a well-formed stream at new
// addresses; the builder the encoders write an item with, and the replay of a subset's flags.

import { FL_AF as AF, FL_ARITH as ALLF, FL_CF as CF, FL_OF as OF, FL_PF as PF, FL_SF as SF, FL_ZF as ZF } from '../../cpu/flags.js';

/** The arithmetic flags (EFLAGS bits, cpu/flags.ts) by short names; ALLF is all six. */
export { AF, ALLF, CF, OF, PF, SF, ZF };

/** What a stream may contain. */
export interface StreamProfile {
  /** Paging on (page tables, aliases, churn); else flat physical. */
  paging: boolean;
  /** The stream runs in ring 3 (privileged instructions #GP, U/S checks). */
  ring3: boolean;
  /** System instructions (CR moves, descriptor tables, segment moves, far control, ports...). */
  system: boolean;
  /** Only what QEMU must reproduce bit for bit: no RDTSC/CPUID values kept, no HLT, no FPU
   *  opcodes, no ports but COM1, no guest-physical addresses outside RAM. */
  qemu: boolean;
  /** Hostile: PTEs beyond RAM, PT writes through aliases, a terminal IDT/stack on a
   *  not-present page. */
  hostile: boolean;
}

export const RELOC_ABS = 0; // the item's own address + add
export const RELOC_ALIAS = 1; // the same byte seen through the alias mapping of the stream pages

export interface Reloc {
  /** Byte offset in the item of a 32-bit field to fill. */
  at: number;
  /** Offset in the item that the field points at. */
  add: number;
  kind: number;
}

export interface StreamItem {
  bytes: number[];
  /** Lengths of the instructions, in order (the runtime's length table skips faulting ones). */
  lens: number[];
  relocs: Reloc[];
  /** Flags the item reads: they must be defined before it (for QEMU comparisons). */
  needs: number;
  keep: number;
  set: number;
  /** Ends the run (triple fault, HLT): placed last. */
  terminal?: boolean;
  /** A short name for reports and shrunk reproducers. */
  what: string;
}

/** Builds one item instruction by instruction. */
export class ItemBuilder {
  bytes: number[] = [];
  lens: number[] = [];
  relocs: Reloc[] = [];
  private start = 0;
  begin(): void {
    this.start = this.bytes.length;
  }
  end(): void {
    this.lens.push(this.bytes.length - this.start);
  }
  e8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  e16(v: number): void {
    this.e8(v);
    this.e8(v >>> 8);
  }
  e32(v: number): void {
    this.e16(v);
    this.e16(v >>> 16);
  }
  /** One whole instruction. */
  insn(...b: number[]): void {
    this.begin();
    for (const x of b) this.e8(x);
    this.end();
  }
  get pos(): number {
    return this.bytes.length;
  }
}

export const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** The defined flags after a sequence of items, or -1 if one reads a flag not defined there. */
export function replayDefined(items: readonly StreamItem[], start = ALLF): number {
  let def = start;
  for (const it of items) {
    if ((def & it.needs) !== it.needs) return -1;
    def = (def & it.keep) | it.set;
  }
  return def;
}
