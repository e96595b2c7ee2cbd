// The decoded form of one instruction and of a basic block: what decode.ts produces and the
// dispatch loop in cpu.ts executes. Plays the role of QEMU's TranslationBlock / Blink's
// pre-decoded ops: operands are resolved once, so execution never re-parses bytes.

import type { Cpu } from './cpu.js';

export type Handler = (c: Cpu, i: Insn) => void;

/**
 * One instruction. Every field has a fixed numeric type so all Insn objects share one hidden
 * class. Memory operands use `base`/`index` register numbers where 8 names an always-zero slot,
 * so the effective address is one expression: (r[base] + (r[index] << scale) + disp) & amask.
 */
export class Insn {
  fn: Handler;
  /** Length in bytes; the loop sets eip to the next instruction before calling fn. */
  len = 0;
  /** Byte offset of this instruction from its block's start, and its index in the block. */
  boff = 0;
  /** Offset of the next instruction from the block's start (boff + len). */
  next = 0;
  idx = 0;
  /** Sub-operation: ALU op, condition code, group /digit, segment number... */
  op = 0;
  /** Operand size in bytes (1, 2 or 4). */
  osz = 4;
  /** ModRM.reg, or the register encoded in the opcode. */
  reg = 0;
  /** ModRM.rm when it names a register (mem = false). */
  rm = 0;
  mem = false;
  base = 8;
  index = 8;
  scale = 0;
  disp = 0;
  /** The address size as a mask: -1, or 0xFFFF under an address-size prefix. The effective address
   *  is masked with it (16-bit addressing: [BX+SI+disp] and the like, wrapping at 64 KiB), and so
   *  is LOOP/JCXZ's counter (CX instead of ECX). */
  amask = -1;
  imm = 0;
  imm2 = 0;
  /** 0: none, 1: REP/REPE (F3), 2: REPNE (F2). */
  rep = 0;
  /** Ends a basic block (branches, system instructions, anything that changes how to fetch). */
  term = false;
  /** Its case in the interpreter's dispatch switch (hot-forms.ts hotId), 0: called through fn. */
  hid = 0;

  constructor(fn: Handler) {
    this.fn = fn;
  }
}

/** A straight-line run of instructions inside one backing page. */
export class Block {
  readonly insns: Insn[] = [];
  n = 0;
  /** Bytes covered, from the block's first instruction. */
  bytes = 0;
  // Direct links to the two most recent successors, valid while the owning Cpu's TLB epoch and
  // the code cache's invalidation count are unchanged (so a link never outlives a mapping).
  linkCpu: object | null = null;
  linkTlb = -1;
  linkCode = -1;
  l0eip = -1;
  l0: Block | null = null;
  l1eip = -1;
  l1: Block | null = null;
  /** Backing page number and the block's offset in it (set when the block is cached). */
  page = -1;
  poff = 0;
  /** Times the interpreter ran the whole block (the compiler's hotness counter, see jit/). */
  hot = 0;
  /** The compiled region this block is an entry of (null: interpreted), and its case label. */
  jfn: RegionFn | null = null;
  jpc = 0;
  /** Identity of that region: a compiled transition continues inside only if the target's jreg matches. */
  jreg = 0;
  /** Its record in the WebAssembly arena's link table (jit/wasm-arena.ts), or -1. */
  wslot = -1;
  /** Whether every instruction has a WebAssembly template (0: not known yet, 1: yes, 2: no). */
  wcover = 0;
}

/**
 * A compiled region (see jit/compile.ts): runs blocks starting at case `pc` while the slice
 * `end` allows whole blocks. Returns the block after which the dispatch loop must take over
 * (cpu.jitMode says how), or null when the slice ended (blockBreak, fault delivered).
 */
export type RegionFn = (c: Cpu, end: number, pc: number) => Block | null;
