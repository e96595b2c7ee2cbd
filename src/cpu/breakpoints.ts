// The processor's own check of a debugger's breakpoints (Cpu.breakAt), so that a guest with
// breakpoints set runs between them at the interpreter's speed (cli/gdb/run-control.ts, its
// coarse runs) instead of one instruction at a time. QEMU checks its gdbstub's breakpoints where
// it translates a block, ending the block before one; here the decoded block stays as it is and
// execBlocks runs it only up to the first breakpoint in it.
//
// The rule is the one the debugger applies between two single instructions: stop before an
// instruction at a breakpoint unless the instruction boundary before it was at the same address
// (Cpu.breakLast), which is how a REP instruction going on with its next iteration, a jump to
// itself, and the instruction the debugger resumes from all run without a stop. breakLast is the
// address of the last instruction a block ran (execBlocks) or the boundary an event was taken at
// (deliverEvent). An interrupt due before an instruction at a breakpoint waits until after the
// stop (Cpu.run). Compiled regions do not run while breakpoints are armed: they go from block to
// block without this check.

import type { Cpu } from './cpu.js';
import type { Block } from './insn.js';

/** Whether to stop before the instruction at `eip` (armed breakpoints only); sets breakHit. */
export function breakHere(c: Cpu, eip: number): boolean {
  const at = eip >>> 0;
  if (!(c.breakAt as ReadonlySet<number>).has(at) || at === c.breakLast) return false;
  c.breakHit = true;
  return true;
}

/**
 * How many of block b's instructions from index i0 (of the n the slice allows) run before the
 * next breakpoint, or -1 to stop before instruction i0 now (run() then returns EXIT_STOP).
 */
export function breakLimit(c: Cpu, b: Block, beip: number, i0: number, n: number): number {
  const at = c.breakAt as ReadonlySet<number>;
  const insns = b.insns;
  if (breakHere(c, beip + insns[i0].boff)) {
    c.stopRequested = true;
    return -1;
  }
  for (let k = i0 + 1; k < n; k++) if (at.has((beip + insns[k].boff) >>> 0)) return k;
  return n;
}
