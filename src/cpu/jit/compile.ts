// The second execution tier: a hot decoded block and the blocks of the same backing page that it
// reaches by direct branches become one JavaScript function (`new Function`), a `for(;;) switch`
// over the blocks, so loops stay inside it. Plays the role of QEMU's TCG translation of a
// TranslationBlock chain, at the granularity of the interpreter's own blocks. By default a
// region is one block (jitTuning.maxBlocks: see there why); regions chain through the dispatch
// loop, which takes a link the region already validated (Cpu.jitNext).
//
// Exactness is by construction, not by a second model of the processor:
// - the blocks are the interpreter's decoded Block objects (same boundaries, same Insn records);
// - each instruction is either a call of its interpreter handler or JS text from templates.ts that
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
import * as BR from '../exec-branch.js';
import { BlockEmitter, EMIT_SCOPE_NAMES, EMIT_SCOPE_VALUES, FLAG_LOCALS, REG_LOCALS } from './emit.js';
import { templates } from './templates.js';
import { compileWasmRegion, resetWasmBytes } from './wasm-region.js';

/** Cpu.jitMode after a region returned a block: link from it to eip (it completed)... */
export const JIT_LINK = 0;
/** ...or run it in the interpreter (it does not fit the slice). */
export const JIT_INTERPRET = 1;

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
  maxBlocks: 1,
  maxInsns: 800,
  /**
   * Compile budget: guest instructions the code cache's Cpus must have retired per byte of
   * JavaScript compiled so far before another region is compiled (0: no budget). V8 spends
   * several milliseconds per region (parsing, then running the new code unoptimised while it
   * tiers up), so a short run that compiles everything that reaches `hot` ends up slower than
   * the interpreter; with the budget, compile work stays a bounded share of the run and long
   * runs still compile all their hot code. A block refused for budget counts up to `hot` again.
   */
  insnsPerByte: 250,
  /** Whole-block runs after which a block joins its page's WebAssembly region (wasm-region.ts),
   *  when its Cpu has an arena and every instruction of the block has a WebAssembly template.
   *  A WebAssembly module compiles in about a millisecond and runs at full speed at once, so
   *  this can be far lower than `hot`. Measured (native, wall, best of 3 interleaved): 2000 ->
   *  500 took intbench 0.97 -> 0.85 s, cpubench 0.65 -> 0.62 s, and no short run lost (cputest,
   *  cpufuzz, intbench-short, cpubench-short: 0.64/0.95/0.39/0.42 s -> 0.66/0.87/0.36/0.39 s). */
  wasmHot: 500,
  /** Use the WebAssembly tier where it can run (false: JavaScript regions only). */
  wasm: true,
  /** Most WebAssembly a code cache holds compiled: a region lives until a flush (its table
   *  entry and blocks are not reclaimed when its page is dropped), so a guest that keeps
   *  generating or swapping in code would otherwise grow it without bound. The next compile past
   *  it flushes (flushCompiled). */
  wasmMaxBytes: 64 << 20,
  /** The same for the JavaScript tier's source text (its regions are freed with their page's
   *  blocks, but a page dropped and compiled again and again adds up the same way). */
  jsMaxBytes: 64 << 20,
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
 *  counts (code cache, backing page) pairs that have compiled code; `flushes` the times a code
 *  cache's compiled code reached its cap and was dropped (flushCompiled). */
export const jitStats = { regions: 0, blocks: 0, insns: 0, sourceBytes: 0, compileMs: 0, pages: 0, flushes: 0 };
/** JavaScript text compiled per code cache: over its life (the compile budget, insnsPerByte) and
 *  since its last flush (the cap, jitTuning.jsMaxBytes). */
const sourceBytes = new WeakMap<object, number>();
const liveSourceBytes = new WeakMap<object, number>();

/**
 * Drop all compiled code of c's code cache, both tiers, as QEMU's tb_flush empties its code
 * buffer when it is full: the next compile would pass jitTuning.wasmMaxBytes or jsMaxBytes.
 * Only compiled code goes: the decoded blocks, their links and every counter the guest can see
 * stay as they are (dropping blocks would change the TLB-hit and decode counts that --jit on
 * must keep equal to --jit off). Each block's hot count starts again, so what is still hot
 * compiles again. Called from the interpreter's side of Cpu.execBlocks, never from compiled
 * code: no region is running.
 */
export function flushCompiled(c: Cpu): void {
  const arena = c.warena;
  if (arena !== null) {
    arena.dropRegions();
    resetWasmBytes(c.code);
  }
  for (const table of c.code.pages) {
    if (table === undefined) continue;
    for (const b of table) {
      if (b === undefined || b.jreg <= 0) continue;
      b.jfn = null;
      b.jpc = 0;
      b.jreg = 0;
      b.hot = 0;
    }
  }
  liveSourceBytes.set(c.code, 0);
  jitStats.flushes++;
}

/** Backing pages of each code cache that have had a region compiled (for jitStats.pages). */
const pagesSeen = new WeakMap<object, Set<number>>();

/** Debugging: receives each region's JavaScript text when set. */
export const jitDebug: { dump: ((source: string) => void) | null } = { dump: null };

let nextRegionId = 1;

/** Handlers of the near branches with a relative target (imm), at a 32-bit operand size. */
const DIRECT = new Set<unknown>([
  BR.opJcc, BR.opJz, BR.opJnz, BR.opJb, BR.opJae, BR.opJbe, BR.opJa, BR.opJl, BR.opJge, BR.opJle, BR.opJg,
  BR.opJmp, BR.opCall, BR.opLoop,
]);

/** Page offsets of the direct successors of block b (targets outside the page are dropped by
 *  the caller). Extra candidates are harmless: a block is entered only through a valid link. */
function successors(b: Block, out: number[]): void {
  out.length = 0;
  const last = b.insns[b.n - 1];
  const end = b.poff + b.bytes;
  const fn = last.fn;
  if (last.osz === 4 && DIRECT.has(fn)) out.push(end + last.imm);
  if (fn !== BR.opJmp && fn !== BR.opRet && fn !== BR.opJmpE) out.push(end);
}

/** Pick the region's blocks: breadth first from `entry` over decoded blocks of its page. */
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
      if (nb === undefined || seen.has(nb) || nb.jfn !== null || nb.n === 0 || nb.hot < jitTuning.hot / 4) continue;
      if (insns + nb.n > jitTuning.maxInsns || blocks.length >= jitTuning.maxBlocks) break;
      seen.add(nb);
      blocks.push(nb);
      insns += nb.n;
    }
  }
  return blocks;
}

/** Make the compiler eager, for testing it: every block compiles its region after `hot` whole
 *  runs (WebAssembly first, else JavaScript), with no compile budget. What `--jit-hot N` sets,
 *  and what the fuzzers set in-process, so their replay commands compile the same regions. */
export function eagerJit(hot: number): void {
  Object.assign(jitTuning, { hot, wasmHot: hot, insnsPerByte: 0 });
}

/** Build, compile and install the region entered at `entry` (a block of a cached page): its
 *  page's WebAssembly region when it can be, else (with `js`) a JavaScript region. False when
 *  the compile budget (jitTuning.insnsPerByte) refuses the JavaScript region for now. */
export function compileRegion(c: Cpu, entry: Block, js = true): boolean {
  if (c.code.rewrites[entry.page] > MAX_PAGE_REWRITES) return true;
  if (jitTuning.wasm && compileWasmRegion(c, entry, jitTuning.wasmHot)) return true;
  if (!js || !jitAvailable()) return true;
  const used = sourceBytes.get(c.code) ?? 0;
  if (used * jitTuning.insnsPerByte > c.icount) return false;
  if ((liveSourceBytes.get(c.code) ?? 0) > jitTuning.jsMaxBytes) flushCompiled(c);
  const t0 = performance.now();
  const blocks = regionBlocks(c, entry);
  const id = nextRegionId++;
  const insns: Insn[] = [];
  const idx: number[] = [];
  const boff: number[] = [];
  const src: string[] = [];
  src.push('return function region(c, end, pc) {');
  // The stale-access detector is set once per VM; its checks live in the handlers only.
  src.push('if (c.frameGen !== null) { c.jitMode = 1; return B[pc]; }');
  src.push('const r = c.r, tlbOff = c.tlbOff, mem = c.mem, m32 = c.m32, dv = c.dv, tlb = c.tlb, code = c.code, vbase = c.eip & -4096;');
  src.push(`let ${REG_LOCALS.map((x) => `${x} = 0`).join(', ')};`);
  src.push(`let ${FLAG_LOCALS.map((x) => `${x} = 0`).join(', ')};`);
  // ic/bb: Cpu.icount and blockBase as the interpreter would have them; ne: the block's next
  // EIP once a branch decided it (NaN: fall through).
  src.push('let ii = 0, nb = null, beip = 0, ic = c.icount, bb = ic, ne = NaN, hits = c.hits, rtag = c.rtag, wtag = c.wtag;');
  src.push('try { for (;;) { switch (pc) {');
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[k];
    src.push(`case ${k}: {`);
    src.push(`if (end - ic < ${b.n}) { c.icount = ic; c.hits = hits; c.eip = (vbase + ${b.poff}) | 0; c.jitMode = 1; return B[${k}]; }`);
    src.push(`beip = (vbase + ${b.poff}) | 0; bb = ic; ne = NaN;`);
    const em = new BlockEmitter(src, templates);
    for (let j = 0; j < b.n; j++) {
      const ins = b.insns[j];
      const n = insns.length;
      insns.push(ins);
      idx.push(j);
      boff.push(ins.boff);
      em.insn(ins, n, j);
    }
    em.spill();
    src.push(`ic = bb + ${b.n};`);
    src.push(`if (ne !== ne) ne = (beip + ${b.insns[b.n - 1].next}) | 0;`);
    src.push(`nb = B[${k}]; break; }`);
  }
  src.push('default: throw new Error("region: bad entry " + pc);');
  src.push('}');
  // The interpreter's link step, read-only: follow a valid link into this region, else hand over.
  src.push('if (nb.linkCpu === c && nb.linkTlb === tlb.epoch && nb.linkCode === code.invalidations) {');
  src.push('const t = nb.l0eip === ne ? nb.l0 : nb.l1eip === ne ? nb.l1 : null;');
  src.push(`if (t !== null && t.jreg === ${id} && ne === ((vbase + t.poff) | 0)) { pc = t.jpc; continue; }`);
  // A valid link out of the region: the dispatch loop may take it without repeating the test.
  src.push('c.jitNext = t;');
  src.push('}');
  src.push('c.icount = ic; c.blockBase = bb; c.beip = beip; c.eip = ne; c.hits = hits; c.jitMode = 0; return nb;');
  src.push('} } catch (x) {');
  src.push('c.icount = c.blockBase + IDX[ii]; c.curEip = (c.beip + BOFF[ii]) | 0; c.eip = c.curEip; throw x;');
  src.push('} };');
  const text = src.join('\n');
  // Each instruction's record and handler become constants of the region's closure.
  const decl: string[] = [];
  for (let n = 0; n < insns.length; n++) decl.push(`const i${n} = I[${n}], h${n} = i${n}.fn;`);
  const factory = new Function('B', 'I', 'IDX', 'BOFF', ...EMIT_SCOPE_NAMES, `"use strict";\n${decl.join('\n')}\n${text}`) as (
    ...args: unknown[]
  ) => RegionFn;
  if (jitDebug.dump !== null) jitDebug.dump(text);
  const fn = factory(blocks, insns, Int32Array.from(idx), Int32Array.from(boff), ...EMIT_SCOPE_VALUES);
  for (let k = 0; k < blocks.length; k++) {
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
  jitStats.blocks += blocks.length;
  jitStats.insns += insns.length;
  jitStats.sourceBytes += text.length;
  sourceBytes.set(c.code, used + text.length);
  liveSourceBytes.set(c.code, (liveSourceBytes.get(c.code) ?? 0) + text.length);
  jitStats.compileMs += performance.now() - t0;
  return true;
}
