// The second execution tier: a hot decoded block and the blocks of the same backing page that it
// reaches by direct branches become one JavaScript function (`new Function`), a `for(;;) switch`
// over the blocks, so loops stay inside it. Plays the role of QEMU's TCG translation of a
// TranslationBlock chain, at the granularity of the interpreter's own blocks. By default a
// region is one block (jitTuning.maxBlocks: see there why); regions chain through the dispatch
// loop, which takes a link the region already validated (Cpu.jitNext).
//
// Exactness is by construction, not by a second model of the processor:
// - the blocks are the interpreter's decoded Block objects (same boundaries, same Insn records);
// - each instruction is either a call of its interpreter handler or JS text from emit.ts that
//   states the same handler's effect for the instruction's fixed operands;
// - per block the region does what Cpu.execBlocks does: blockBase/beip/eip/blockBreak set up,
//   icount charged by whole blocks, a block that does not fit the slice handed back to the
//   interpreter (JIT_INTERPRET), a blockBreak ending the slice after that instruction;
// - a fault leaves icount, curEip and eip exactly as the interpreter's catch does;
// - it moves from block to block only through the interpreter's own links under the same
//   validity test (Cpu's TLB epoch, the code cache's invalidation count, no stale detector), so
//   it never caches a translation and never skips a fetch the interpreter would make (TLB hit
//   counts match). Where the interpreter would look a block up, the region returns it
//   (JIT_LINK) and the dispatch loop looks up and links as always.
// Invalidation needs nothing of its own: compiled code hangs off Block objects, which die with
// their page's block table (SMC, alias writes, host writes all go through CodeCache), and a
// store that hits decoded code sets blockBreak, which the region checks after every instruction
// that may store.

import type { Cpu } from '../cpu.js';
import type { Block, Insn, RegionFn } from '../insn.js';
import { opCall, opJcc, opJmp, opJmpE, opJnz, opJz, opLoop, opRet } from '../exec-branch.js';
import { BlockEmitter, EMIT_SCOPE_NAMES, EMIT_SCOPE_VALUES, FLAG_LOCALS, REG_LOCALS, RELOAD, resumeLabel, SPILL } from './emit.js';

/** Cpu.jitMode after a region returned a block: link from it to eip (it completed)... */
export const JIT_LINK = 0;
/** ...or run it in the interpreter (it does not fit the slice)... */
export const JIT_INTERPRET = 1;
/** ...or run the rest of it in the interpreter from Cpu.jitPos (its blockBase and beip set). */
export const JIT_RESUME = 2;

/**
 * Most blocks and instructions in one region. Measured on cpubench and intbench (bench cpu), V8
 * optimises small functions sooner and better than large ones with cold paths (each cold path
 * reached later deoptimises the whole region), so single-block regions (a block that loops to
 * itself stays inside) beat larger ones; larger regions stay supported and tested.
 */
export const jitTuning = {
  /** Whole-block runs after which the interpreter compiles a block's region. V8 runs a new
   *  function unoptimised for its first thousands of calls (slower than the interpreter's
   *  optimised handlers), so only blocks that run far more often than that pay back; measured
   *  on cpubench, intbench and their short forms, 20000 beat 2000 on all four. */
  hot: 20000,
  maxBlocks: 64,
  maxInsns: 300,
  /** A block the interpreter ran jitTuning.hot / coldFraction times joins its page's region. */
  coldFraction: 16,
  /**
   * Compile budget: guest instructions the code cache's Cpus must have retired per byte of
   * JavaScript compiled so far before another region is compiled (0: no budget). V8 spends
   * several milliseconds per region (parsing, then running the new code unoptimised while it
   * tiers up), so a short run that compiles everything that reaches `hot` ends up slower than
   * the interpreter; with the budget, compile work stays a bounded share of the run and long
   * runs still compile all their hot code. A block refused for budget counts up to `hot` again.
   */
  insnsPerByte: 250,
};
/** A page whose decoded code was dropped more often than this is not compiled (self-modifying
 *  code, or a frame reused for data): each compile costs milliseconds, a block run microseconds. */
const MAX_PAGE_REWRITES = 16;

let defaultOn = false;
/** The --jit default for Cpus constructed without an explicit `jit` option. */
export function jitDefault(): boolean {
  return defaultOn;
}
export function setJitDefault(on: boolean): void {
  defaultOn = on;
}

/** new Function may be forbidden (a page's Content-Security-Policy): then nothing is compiled. */
let canCompile: boolean | null = null;
export function jitAvailable(): boolean {
  if (canCompile === null) {
    try {
      canCompile = new Function('return 1')() === 1;
    } catch {
      canCompile = false;
    }
  }
  return canCompile;
}

/** Compile statistics (outside the guest-visible counters: --stats never shows them). `pages`
 *  counts (code cache, backing page) pairs that have compiled code. */
export const jitStats = { regions: 0, blocks: 0, insns: 0, sourceBytes: 0, compileMs: 0, pages: 0 };
/** Most JavaScript text compiled over a code cache's life; past it the interpreter runs whatever
 *  is not compiled yet (compiled code is freed with its page's blocks; this bounds the compile
 *  work and what compiled code can hold, e.g. for a guest that keeps generating code). */
const MAX_SOURCE_BYTES = 64 << 20;
const sourceBytes = new WeakMap<object, number>();

/** Backing pages of each code cache that have had a region compiled (for jitStats.pages). */
const pagesSeen = new WeakMap<object, Set<number>>();

/** Debugging: receives each region's JavaScript text when set. */
export const jitDebug: { dump: ((source: string) => void) | null } = { dump: null };

let nextRegionId = 1;

/** Page offsets of the direct successors of block b (targets outside the page are dropped by
 *  the caller). Extra candidates are harmless: a block is entered only through a valid link. */
function successors(b: Block, out: number[]): void {
  out.length = 0;
  const last = b.insns[b.n - 1];
  const end = b.poff + b.bytes;
  const fn = last.fn;
  if (last.osz === 4 && (fn === opJcc || fn === opJz || fn === opJnz || fn === opJmp || fn === opCall || fn === opLoop)) {
    out.push(end + last.imm);
  }
  if (fn !== opJmp && fn !== opRet && fn !== opJmpE) out.push(end);
}

/** Blocks worth compiling with entry: breadth first over direct branches inside its page,
 *  through blocks already compiled (a region is rebuilt when another of its blocks gets hot)
 *  and blocks the interpreter ran often, up to jitTuning.maxInsns instructions, in page order.
 *  A block left out is reached through the dispatch loop. */
function regionBlocks(c: Cpu, entry: Block): Block[] {
  const table = c.code.pages[entry.page];
  const blocks = [entry];
  if (table === undefined) return blocks;
  const seen = new Set<Block>(blocks);
  let insns = entry.n;
  const succ: number[] = [];
  for (let k = 0; k < blocks.length && blocks.length < jitTuning.maxBlocks; k++) {
    successors(blocks[k], succ);
    for (const off of succ) {
      if (off < 0 || off >= 0x1000) continue;
      const nb = table[off];
      if (nb === undefined || seen.has(nb) || nb.n === 0) continue;
      if (nb.jfn === null && nb.hot < jitTuning.hot / jitTuning.coldFraction) continue;
      if (insns + nb.n > jitTuning.maxInsns || blocks.length >= jitTuning.maxBlocks) continue;
      seen.add(nb);
      blocks.push(nb);
      insns += nb.n;
    }
  }
  const first = blocks.slice(1).sort((x, y) => x.poff - y.poff);
  return [entry, ...first];
}

/** Build, compile and install the region entered at `entry` (a block of a cached page); false
 *  when the compile budget (jitTuning.insnsPerByte) refuses it for now. */
export function compileRegion(c: Cpu, entry: Block): boolean {
  if (!jitAvailable() || c.code.rewrites[entry.page] > MAX_PAGE_REWRITES) return true;
  const used = sourceBytes.get(c.code) ?? 0;
  if (used > MAX_SOURCE_BYTES) return true;
  if (used * jitTuning.insnsPerByte > c.icount) return false;
  const t0 = performance.now();
  const blocks = regionBlocks(c, entry);
  const nb = blocks.length;
  const id = nextRegionId++;
  const insns: Insn[] = [];
  const idx: number[] = [];
  const boff: number[] = [];
  const next: number[] = [];
  const resume: number[] = [];
  const src: string[] = [];
  src.push('return function region(c, end, pc) {');
  src.push('const r = c.r, tlbOff = c.tlbOff, mem = c.mem, m32 = c.m32, dv = c.dv, tlb = c.tlb, code = c.code;');
  src.push(`let ${REG_LOCALS.map((x, k) => `${x} = r[${k}]`).join(', ')};`);
  src.push(`let ${FLAG_LOCALS.map((x) => `${x} = c.${x}`).join(', ')};`);
  // ic/bb: Cpu.icount and blockBase as the interpreter would have them; beip: the running
  // block's linear address; ne: its next EIP once a branch decided it (NaN: fall through);
  // ep/ci: the TLB epoch and code invalidation count the links are checked against (they only
  // change in a handler); xs/xk: why the switch was left (see the tail) and from which block.
  src.push('let ii = 0, ic = c.icount, bb = ic, beip = c.eip, ne = NaN, hits = c.hits, rtag = c.rtag, wtag = c.wtag;');
  src.push('let ep = tlb.epoch, ci = code.invalidations, xs = 0, xk = 0, lt = null;');
  src.push('c.blockBreak = false;');
  src.push('for (;;) { switch (pc) {');
  for (let k = 0; k < nb; k++) {
    const b = blocks[k];
    src.push(`case ${k}:`);
    src.push(`if (end - ic < ${b.n}) { xs = -2; xk = ${k}; break; }`);
    src.push('bb = ic; ne = NaN;');
    const em = new BlockEmitter(src, nb, k);
    for (let j = 0; j < b.n; j++) {
      const ins = b.insns[j];
      const n = insns.length;
      insns.push(ins);
      idx.push(j);
      boff.push(ins.boff);
      next.push(ins.next);
      resume.push(resumeLabel(nb, n));
      em.insn(ins, n, j);
    }
    src.push(`ic = bb + ${b.n};`);
    src.push(`if (ne !== ne) ne = (beip + ${b.insns[b.n - 1].next}) | 0;`);
    // The interpreter's link step, read-only: follow a valid link into this region (straight
    // on into the next case when that is the target), else leave with the block done.
    const fall = k + 1 < nb ? `b${k + 1}` : 'null';
    src.push(`if (b${k}.linkCpu === c && b${k}.linkTlb === ep && b${k}.linkCode === ci) {`);
    src.push(`lt = b${k}.l0eip === ne ? b${k}.l0 : b${k}.l1eip === ne ? b${k}.l1 : null;`);
    src.push(`if (lt !== null && lt.jreg === ${id}) { beip = ne; if (lt !== ${fall}) { pc = lt.jpc; continue; } } else { c.jitNext = lt; xs = -1; xk = ${k}; break; }`);
    src.push(`} else { xs = -1; xk = ${k}; break; }`);
  }
  src.push('default: throw new Error("region: bad entry " + pc);');
  src.push('}');
  // The tail: every way out of the switch but a fault. xs >= 0: region instruction xs left its
  // fast path; its handler runs here and the region resumes after it.
  src.push(SPILL);
  src.push('globalThis.__ex ??= new Map(); { const k = xs >= 0 ? "slow " + I[xs].fn.name + " " + I[xs].osz + (I[xs].mem?"m":"r") : "x" + xs; globalThis.__ex.set(k, (globalThis.__ex.get(k) ?? 0) + 1); }');
  src.push('if (xs >= 0) { c.icount = ic; c.blockBase = bb; c.beip = beip; c.jitPos = IDX[xs]; c.jitMode = 2; return B[xk]; }');
  // -3: a handler set blockBreak: the slice ends after that instruction, as in the interpreter.
  src.push('if (xs === -3) { c.icount = bb + IDX[ii] + 1; if (c.eip !== c.eip) c.eip = (beip + NEXT[ii]) | 0; return null; }');
  // -1: block xk is done and its successor is not in the region: the dispatch loop links it.
  src.push('if (xs === -1) { c.icount = ic; c.blockBase = bb; c.beip = beip; c.eip = ne; c.jitMode = 0; return B[xk]; }');
  // -2: block xk does not fit the slice: the interpreter runs what fits.
  src.push('c.icount = ic; c.eip = beip; c.jitMode = 1; return B[xk];');
  src.push('} };');
  const text = src.join('\n');
  // Each instruction's record and handler, and each block, become constants of the closure.
  const decl: string[] = [];
  for (let n = 0; n < insns.length; n++) decl.push(`const i${n} = I[${n}], h${n} = i${n}.fn;`);
  for (let k = 0; k < nb; k++) decl.push(`const b${k} = B[${k}];`);
  const factory = new Function('B', 'I', 'IDX', 'BOFF', 'NEXT', 'RESUME', ...EMIT_SCOPE_NAMES, `"use strict";\n${decl.join('\n')}\n${text}`) as (
    ...args: unknown[]
  ) => RegionFn;
  if (jitDebug.dump !== null) jitDebug.dump(text);
  const fn = factory(blocks, insns, Int32Array.from(idx), Int32Array.from(boff), Int32Array.from(next), Int32Array.from(resume), ...EMIT_SCOPE_VALUES);
  for (let k = 0; k < nb; k++) {
    const b = blocks[k];
    b.jfn = fn;
    b.jpc = k;
    b.jreg = id;
  }
  jitStats.regions++;
  let seen = pagesSeen.get(c.code);
  if (seen === undefined) pagesSeen.set(c.code, (seen = new Set()));
  if (!seen.has(entry.page)) {
    seen.add(entry.page);
    jitStats.pages++;
  }
  jitStats.blocks += nb;
  jitStats.insns += insns.length;
  jitStats.sourceBytes += text.length;
  sourceBytes.set(c.code, used + text.length);
  jitStats.compileMs += performance.now() - t0;
  return true;
}
