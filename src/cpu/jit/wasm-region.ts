// The WebAssembly tier: the hot blocks of one backing page, each made only of instructions that
// wasm-templates.ts states, become one WebAssembly function, a loop over a br_table of the
// blocks, so the page's loops (calls and returns included, when they stay in the page) run
// inside one call; a link into another region is a tail call of that region's function. QEMU's
// TCG chains translated blocks the same way, by patched direct jumps.
//
// Exactness follows compile.ts (the JavaScript tier), with two differences:
// - Block links: the region moves from block to block only along the interpreter's own links
//   (Block.l0/l1), valid under the same test (this Cpu, its TLB epoch, the code cache's
//   invalidation count). Those live in JavaScript objects, so the interpreter mirrors each link
//   it makes into the arena's link table (WasmArena.mirrorLinks), with the stamp that names
//   that triple; the Cpu's stamp now is a parameter of the call, as nothing inside a call can
//   change the triple.
// - Nothing is called: an instruction that cannot complete inside (TLB miss, page crossing,
//   flags it cannot evaluate) exits with RESUME, and the interpreter runs the rest of its block
//   from that instruction with the block's icount and address as if it had run the block itself.
// A block that does not fit the slice is handed back whole (INTERPRET), as in compile.ts.

import type { Cpu } from '../cpu.js';
import type { Block, RegionFn } from '../insn.js';
import { LINK_WORDS, LK_E0, LK_E1, LK_PC, LK_RID, LK_S0, LK_S1, LK_STAMP, ST_BEIP, ST_FLAGS, ST_HITS, ST_LEFT, ST_NE, ST_CHAINS, ST_RID, type WasmArena } from './wasm-arena.js';
import { Code, I32, type Label, moduleBytes, OP, WA } from './wasm-encode.js';
import {
  BEIP, CNT, L, LOCALS, NE, P_EIP, P_PC, P_ST, P_STAMP, P_TAGS, PARAM_TYPES, R0, RV, T, VP,
  WasmEmitter, X_INTERPRET, X_LINK,
} from './wasm-emit.js';
import { wasmTemplates } from './wasm-templates.js';
import { flushCompiled, jitTuning } from './compile.js';

/** Cpu.jitMode values after a WebAssembly region returned (JIT_LINK 0, JIT_INTERPRET 1 are
 *  compile.ts's). */
export const JIT_RESUME = 2;

/** The dispatcher's parameters: the region's first five, then the region id. */
const DISPATCH_TYPE = [I32, I32, I32, I32, I32, I32];

/** Per code cache, decided at its first region: the state slot its regions are bound to (the
 *  cache's only Cpu's), or -1 (several Cpus share it: the slot is a parameter). Fixed for the
 *  cache, so a region chained to is bound the same way as the one that chained. */
const boundSlot = new WeakMap<object, number>();

/** WebAssembly bytes compiled per code cache since its last flush (the cap, jitTuning.wasmMaxBytes). */
const compiledBytes = new WeakMap<object, number>();
export function resetWasmBytes(code: object): void {
  compiledBytes.set(code, 0);
}
/** Most blocks in one region. */
const MAX_BLOCKS = 512;
/** A block joins a region compiled for another block of its page once it has run whole
 *  `hot / WARM` times. Measured on cpubench and intbench (CPU MIPS): 1: 390 / 225, 4: 590 / 400,
 *  16: 680 / 400, 100: 725 / 420, 2000: 710 / 370. Lower thresholds leave a page's loops split
 *  between regions compiled at different times (intbench moved between two regions of one page
 *  9.2 M times at 16, 1.6 M at 100, 1,646 at 2000), but bigger regions take longer to compile
 *  (ours and V8's optimising compile, about 3 ms per KiB) and run slower code: at 100, short
 *  runs (cputest, cpufuzz) lost 0.1-0.35 s more than at 16, which long runs gain back only
 *  partly. A compile budget like the JavaScript tier's (insnsPerByte) was measured too: at 30 or
 *  100 instructions per byte it cost the long runs 10-30% and saved the short ones nothing. */
const WARM = 16;

/** Compile and exit statistics (outside the guest-visible counters). exits[k]: calls that ended
 *  with exit kind k (LINK, INTERPRET, RESUME); pages: (code cache, backing page) pairs with
 *  compiled blocks; chains: moves from one region to another inside
 *  a call (tail calls). */
export const wasmStats = { regions: 0, blocks: 0, insns: 0, bytes: 0, compileMs: 0, pages: 0, exits: [0, 0, 0], chains: 0 };
/** Backing pages of each code cache with compiled blocks (for wasmStats.pages). */
const pagesSeen = new WeakMap<object, Set<number>>();

/** Does every instruction of b have a WebAssembly template for its operand form? (A dry run
 *  into scratch code.) */
function coverable(b: Block): boolean {
  if (b.wcover === 0) b.wcover = statable(b) ? 1 : 2;
  return b.wcover === 1;
}
function statable(b: Block): boolean {
  if (b.n === 0) return false;
  const c = new Code();
  const e = new WasmEmitter(c, c.block());
  for (let j = 0; j < b.n; j++) {
    const ins = b.insns[j];
    // 16-bit addressing (amask 0xFFFF) has no WebAssembly template: the JavaScript tier calls it.
    const t = ins.amask === -1 ? wasmTemplates.get(ins.fn) : undefined;
    if (t === undefined || !t(e, ins)) return false;
  }
  return true;
}

/** The blocks of the region entered at `entry`: entry and the other warm blocks of its page
 *  that are not compiled yet and can be stated. Each block is compiled once, into one region:
 *  code that gets hot later forms regions of its own, which the earlier ones tail-call.
 *  Measured: recompiling a growing page region as a program's phases heat up, or merging a
 *  page's earlier regions into the next one, was slower on both benchmarks than chaining
 *  between regions (each new function starts in V8's baseline compiler). */
function pickBlocks(c: Cpu, entry: Block, hot: number): Block[] {
  const table = c.code.pages[entry.page];
  const out: Block[] = [entry];
  if (table === undefined) return out;
  for (let off = 0; off < 4096 && out.length < MAX_BLOCKS; off++) {
    const b = table[off];
    if (b !== undefined && b !== entry && b.jfn === null && b.hot >= hot / WARM && coverable(b)) out.push(b);
  }
  return out;
}

/**
 * Compile entry's page region to WebAssembly when entry is coverable (true), else false (the
 * caller uses the JavaScript tier).
 */
export function compileWasmRegion(c: Cpu, entry: Block, hot: number): boolean {
  const arena = c.warena;
  if (arena === null || entry.page < 0 || !coverable(entry)) return false;
  if ((compiledBytes.get(c.code) ?? 0) > jitTuning.wasmMaxBytes) flushCompiled(c);
  const used = compiledBytes.get(c.code) ?? 0;
  const t0 = performance.now();
  const blocks = pickBlocks(c, entry, hot);
  for (const b of blocks) {
    if (b.wslot < 0) {
      b.wslot = arena.takeSlot();
      if (b.wslot < 0) return false;
    }
  }
  const rid = arena.peekRegionId();
  let st = boundSlot.get(c.code);
  if (st === undefined) boundSlot.set(c.code, (st = c.code.users === 1 ? c.wsi << 2 : -1));
  const body = emitRegion(arena, blocks, rid, st);
  const bytes = moduleBytes([PARAM_TYPES], 0, LOCALS, body);
  compiledBytes.set(c.code, used + bytes.length);
  const mod = new WA.Module(bytes);
  const inst = new WA.Instance(mod, { m: { mem: arena.memory, tab: arena.table } });
  if (arena.addRegion(inst.exports.run, blocks, dispatcherBytes) !== rid) throw new Error('wasm region id');
  const fn = glue(arena, rid, st);
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[k];
    b.jfn = fn;
    b.jpc = k;
    b.jreg = -1; // a WebAssembly region (the JavaScript tier's ids are positive)
    arena.setRegion(b.wslot, rid, k);
  }
  // Links these blocks got before they had slots are mirrored now.
  for (const b of blocks) {
    const owner = b.linkCpu as Cpu | null;
    if (owner !== null && owner.warena === arena) arena.mirrorLinks(b, owner.linkStamp(b));
  }
  wasmStats.regions++;
  wasmStats.blocks += blocks.length;
  let seen = pagesSeen.get(c.code);
  if (seen === undefined) pagesSeen.set(c.code, (seen = new Set()));
  for (const b of blocks) {
    wasmStats.insns += b.n;
    if (!seen.has(b.page)) {
      seen.add(b.page);
      wasmStats.pages++;
    }
  }
  wasmStats.bytes += bytes.length;
  wasmStats.compileMs += performance.now() - t0;
  return true;
}

/**
 * The function body: dispatch on pc, run blocks following mirrored links (tail-calling another
 * region for a link into it), store the GPRs and counters back. Result: exit kind | case << 2 |
 * instruction << 16.
 */
function emitRegion(arena: WasmArena, blocks: Block[], rid: number, st: number): Code {
  const c = new Code();
  const out = c.block();
  const e = new WasmEmitter(c, out, st);
  // The GPRs and CNT come as parameters (from the Cpu's slot through the dispatcher, or from the
  // region that tail-called this one); the flags are in the slot (wasm-emit.ts).
  // NE: the address of the block being entered (then of the next block, once one has run)
  c.get(P_EIP).set(NE);
  const top = c.loop();
  const cases: Label[] = [];
  for (let k = blocks.length - 1; k >= 0; k--) cases[k] = c.block();
  // pc is always a case. The default is one too, not `out`: a path from the loop's head to the
  // epilogue would keep BEIP, RV and the like alive across the whole loop (more spills).
  c.get(P_PC).brTable(cases, cases[0]);
  const linkBase = arena.linkBase;
  for (let k = 0; k < blocks.length; k++) {
    c.end(); // closes cases[k]: block k's code follows
    const b = blocks[k];
    e.k = k;
    e.startBlock();
    // the slice must hold the whole block, else the interpreter runs it
    c.get(CNT).op(OP.wrap).i32(b.n).op(OP.lt_s).if_();
    c.get(NE).set(BEIP);
    c.i32(X_INTERPRET | (k << 2)).set(RV).br(out);
    c.end();
    // Entered at NE: the entry address, or the EIP whose valid link named this block (the
    // interpreter's lookup at that EIP found it, whatever virtual page maps its frame there)
    c.get(NE).set(BEIP);
    for (let j = 0; j < b.n; j++) {
      e.j = j;
      const ins = b.insns[j];
      (wasmTemplates.get(ins.fn) as NonNullable<ReturnType<typeof wasmTemplates.get>>)(e, ins);
      e.endInsn();
    }
    if (!e.setsNe) c.get(BEIP).i32(b.insns[b.n - 1].next).op(OP.add).set(NE);
    e.endBlock();
    // CNT counts whole blocks: until here it is the block's start, as RESUME exits report it
    e.count(e.hitsBefore, b.n);
    // follow a valid link into this region: rec = the block's link record
    const rec = linkBase + b.wslot * LINK_WORDS * 4;
    const w = (k2: number): number => rec + 4 * k2;
    c.i32(w(LK_STAMP)).mem(OP.load).get(P_STAMP).op(OP.eq);
    c.if_();
    // t = slot of the link whose eip is ne, or -1
    c.i32(w(LK_E0)).mem(OP.load).get(NE).op(OP.eq).if_();
    c.i32(w(LK_S0)).mem(OP.load).set(T);
    c.else_();
    c.i32(w(LK_E1)).mem(OP.load).get(NE).op(OP.eq).if_();
    c.i32(w(LK_S1)).mem(OP.load).set(T);
    c.else_();
    c.i32(-1).set(T);
    c.end();
    c.end();
    c.get(T).i32(0).op(OP.ge_s).if_();
    // L = the target's record, VP its region: this one, continue at its case; another, chain
    c.get(T).i32(LINK_WORDS * 4).op(OP.mul).i32(linkBase).op(OP.add).set(L);
    c.get(L).mem(OP.load, 4 * LK_RID).set(VP);
    c.get(VP).i32(rid).op(OP.eq).if_();
    c.get(L).mem(OP.load, 4 * LK_PC).set(P_PC);
    c.br(top);
    c.end();
    c.get(VP).if_();
    // go on in region VP at its case, entered at NE: a tail call, the GPRs and CNT as arguments
    e.stStore(4 * ST_CHAINS, () => {
      e.stLoad(4 * ST_CHAINS);
      c.i32(1).op(OP.add);
    });
    c.get(L).mem(OP.load, 4 * LK_PC).get(P_STAMP).get(NE).get(P_TAGS).get(P_ST);
    for (let n = 0; n < 8; n++) c.get(R0 + n);
    c.get(CNT).get(VP).callIndirect(0, true);
    c.end();
    c.end();
    c.end();
    c.i32(X_LINK | (k << 2)).set(RV).br(out);
  }
  c.end(); // top (loop)
  c.end(); // out
  // epilogue
  for (let n = 0; n < 8; n++) e.stStore(4 * n, () => void c.get(R0 + n));
  e.stStore(4 * ST_LEFT, () => void c.get(CNT), OP.i64store);
  e.stStore(4 * ST_BEIP, () => void c.get(BEIP));
  e.stStore(4 * ST_NE, () => void c.get(NE));
  e.stStore(4 * ST_RID, () => void c.i32(rid));
  c.get(RV);
  return c;
}

/** The module whose `run(pc, stamp, eip, tags, st, rid)` calls region rid with the Cpu's GPRs
 *  and CNT from its slot st. */
function dispatcherBytes(): Uint8Array {
  const c = new Code();
  for (const p of [P_PC, P_STAMP, P_EIP, P_TAGS, P_ST]) c.get(p);
  for (let n = 0; n < 8; n++) c.get(P_ST).mem(OP.load, 4 * n);
  c.get(P_ST).mem(OP.i64load, 4 * ST_LEFT);
  c.get(DISPATCH_TYPE.length - 1).callIndirect(0, false);
  return moduleBytes([PARAM_TYPES, DISPATCH_TYPE], 1, 0, c);
}

/** The RegionFn around a region's `run`: Cpu state in and out of the arena slot. */
function glue(arena: WasmArena, rid: number, bound: number): RegionFn {
  const dispatch = arena.dispatch as (...a: number[]) => number;
  const regions = arena.regionBlocks;
  return function wasmRegion(c: Cpu, end: number, pc: number): Block | null {
    // (a Cpu that came after the cache's regions were bound to another one interprets)
    if (c.frameGen !== null || (bound >= 0 && c.wsi << 2 !== bound)) {
      c.jitMode = 1;
      return regions[rid][pc];
    }
    const s = c.wsi;
    const m = c.wst;
    m[s + ST_FLAGS] = c.fop;
    m[s + ST_FLAGS + 1] = c.fa;
    m[s + ST_FLAGS + 2] = c.fb;
    m[s + ST_FLAGS + 3] = c.fres;
    m[s + ST_FLAGS + 4] = c.fsz;
    m[s + ST_FLAGS + 5] = c.fcf;
    m[s + ST_FLAGS + 6] = c.fof;
    m[s + ST_FLAGS + 7] = c.faf;
    const ic0 = c.icount;
    let budget = end - ic0;
    if (budget > 0x40000000) budget = 0x40000000;
    m[s + ST_LEFT] = budget;
    m[s + ST_HITS] = 0;
    m[s + ST_CHAINS] = 0;
    const stamp = arena.stamp(c.wcpu, c.tlb.epoch, c.code.invalidations);
    const rv = dispatch(pc, stamp, c.eip, c.rtagAt, s << 2, rid);
    c.fop = m[s + ST_FLAGS];
    c.fa = m[s + ST_FLAGS + 1];
    c.fb = m[s + ST_FLAGS + 2];
    c.fres = m[s + ST_FLAGS + 3];
    c.fsz = m[s + ST_FLAGS + 4];
    c.fcf = m[s + ST_FLAGS + 5];
    c.fof = m[s + ST_FLAGS + 6];
    c.faf = m[s + ST_FLAGS + 7];
    c.hits += m[s + ST_HITS];
    const ic = ic0 + budget - m[s + ST_LEFT];
    const kind = rv & 3;
    wasmStats.exits[kind]++;
    wasmStats.chains += m[s + ST_CHAINS];
    const b = regions[m[s + ST_RID]][(rv >>> 2) & 0x3fff];
    const beip = m[s + ST_BEIP];
    if (kind === 0) {
      c.icount = ic;
      c.blockBase = c.icount - b.n;
      c.beip = beip;
      c.eip = m[s + ST_NE];
    } else if (kind === 1) {
      c.icount = ic;
      c.eip = beip;
    } else {
      c.icount = ic;
      c.blockBase = c.icount;
      c.beip = beip;
      c.jitPos = rv >>> 16;
    }
    c.jitMode = kind;
    return b;
  };
}

