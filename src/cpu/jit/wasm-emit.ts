// The emitter of WebAssembly regions (wasm-region.ts): locals, operand helpers, the TLB-hit
// fast path and the exits through which a region hands a block back to the interpreter.
//
// A region's function keeps the eight GPRs in locals for the whole call, and the lazy-flag record
// (fop fa fb fres fsz fcf fof faf, as flags.ts) in locals within a block: a block stores the
// fields it wrote at its end (and at an exit inside it), and loads the fields it reads before
// writing them (needFlags). Between blocks the record is in the Cpu's arena slot, where the glue
// put it; sixteen values carried around every region's loop made TurboFan spill at each back
// edge, eight are fewer. No JavaScript runs inside a call, so nothing can observe any of this
// before the epilogue stores the GPRs. Nothing inside changes a
// translation or the decoded code either: a region calls no handler, and a store into a page with
// decoded code misses the TLB (its write tags are withheld), which exits. So where the JavaScript
// tier must re-check after every handler call, a WebAssembly region checks once per block.
//
// Every template does its instruction entirely or not at all: it tests everything that could
// stop it (a TLB miss, a page crossing, flags it cannot evaluate) before changing anything, and
// else exits with RESUME at that instruction, where the interpreter's handler does it (and counts
// its TLB hit or miss itself).

import { F_ADD, F_DEC, F_INC, F_RES, F_SUB } from '../flags.js';
import type { Insn } from '../insn.js';
import { TLB_MASK, TLB_SIZE } from '../tlb.js';
import { CPU_TLB_AT, ST_FLAGS } from './wasm-arena.js';
import { Code, I32, I64, type Label, OP } from './wasm-encode.js';

// Parameters of a region function (see wasm-region.ts for the call).
export const P_PC = 0;
/** The Cpu's link stamp (WasmArena.stamp): a mirrored link is valid when its record has it. */
export const P_STAMP = 1;
/** The linear address of the entry block (a region may run a block at any address its links say). */
export const P_EIP = 2;
/** The byte offset of the read tags for the Cpu's CPL (tagSR or tagUR); its write tags follow
 *  them (tlb.ts's order), so one parameter serves both. */
export const P_TAGS = 3;
/** The Cpu's state slot (wasm-arena.ts): unused by a region bound to one Cpu (WasmEmitter.st). */
export const P_ST = 4;
/** The GPRs r0..r7 are parameters too: a region that goes on in another one tail-calls it with
 *  them (wasm-region.ts), in machine registers rather than through the Cpu's slot. */
export const R0 = 5;
/**
 * TLB hits in the high half, the units the slice has left in the low half (ST_LEFT, ST_HITS: one
 * i64 in the Cpu's slot). A block adds its hits and subtracts its length in one addition: the low
 * half never goes below 0 (a block runs only when it fits), so nothing carries into the hits. One
 * register for two counters, which TurboFan would otherwise keep in two (with the budget a third)
 * across every region's loop.
 */
export const CNT = 13;
export const PARAMS = 14;
/** Value types of the parameters, in order. */
export const PARAM_TYPES: number[] = [...new Array<number>(CNT).fill(I32), I64];
/** Which tags a memory access tests (WasmEmitter.access). */
export const RD = 0;
export const WR = 1;
// Locals.
export const FOP = PARAMS;
export const FA = FOP + 1;
export const FB = FOP + 2;
export const FRES = FOP + 3;
export const FSZ = FOP + 4;
export const FCF = FOP + 5;
export const FOF = FOP + 6;
export const FAF = FOP + 7;
export const BEIP = FOP + 8;
export const NE = BEIP + 1;
export const RV = BEIP + 2;
// Scratch, each owned by one helper or template shape (see their uses).
export const L = RV + 1;
export const VP = L + 1;
export const T = L + 2;
export const A = L + 3;
export const X = L + 4;
export const Y = L + 5;
export const Z = L + 6;
export const V = L + 7;
export const L2 = L + 8;
export const T2 = L + 9;
export const A2 = L + 10;
// Owned by the run-time flag evaluation (carryNow, overflowNow).
const CT = L + 11;
const M = L + 12;
const CIN = L + 13;
export const LOCALS = CIN + 1 - PARAMS;

/** Exit kinds in the low 2 bits of the result; bits 2..15 the block's case, 16.. the instruction. */
export const X_LINK = 0;
export const X_INTERPRET = 1;
export const X_RESUME = 2;

/** Byte offset, in a Cpu's arena slot, of the TLB's `add` array (after tagSR tagSW tagUR tagUW off). */
const ADD_AT = CPU_TLB_AT + 5 * TLB_SIZE * 4;

export interface Known {
  fop: number;
  sz: number;
}

/** A template: emits one instruction's effect, or returns false (before emitting anything) for
 *  an operand form it does not cover; a block with such an instruction is not compiled here. */
export type WasmTemplate = (e: WasmEmitter, i: Insn) => boolean;

export class WasmEmitter {
  /** The block's case and the instruction's index in it (for RESUME exits). */
  k = 0;
  j = 0;
  known: Known | null = null;
  /** Set by a template that decided the block's next EIP (a branch). */
  setsNe = false;
  /**
   * TLB hits, counted at compile time: those of the block's instructions before this one, and
   * those the current template has counted. A template counts its hits only on the path where it
   * completes, and an instruction it leaves (RESUME) is redone whole by the interpreter, which
   * counts that one's hits itself; so every exit adds a constant to CNT's hits: the block's total at
   * its end, hitsBefore at a RESUME. (Counting each hit as it happened cost 3-7%.)
   */
  hitsBefore = 0;
  insnHits = 0;
  /** The flag locals hold the whole record (the fields the block had not written were loaded). */
  private flagsIn = false;
  /** Flag fields (bit: local - FOP) written by the block's instructions before this one. */
  private dirtyBefore = 0;

  constructor(
    readonly c: Code,
    /** The function's epilogue: every exit stores RV and branches here. */
    readonly out: Label,
    /** The byte address of the Cpu's state slot when the region is bound to that Cpu (its code
     *  cache has no other): then a constant, folded into each access's offset; else -1, and the
     *  slot is parameter P_ST. */
    readonly st = -1,
  ) {}

  /** Push the word at byte offset `off` of the Cpu's state slot (op: the load, default i32). */
  stLoad(off: number, op: number = OP.load): void {
    this.stBase();
    this.c.mem(op, this.stAt(off));
  }
  /** Store what `value` pushes at byte offset `off` of the Cpu's state slot. */
  stStore(off: number, value: () => void, op: number = OP.store): void {
    this.stBase();
    value();
    this.c.mem(op, this.stAt(off));
  }
  /** The base of an access to the state slot, and its static offset for `off`. */
  private stBase(): void {
    if (this.st < 0) this.c.get(P_ST);
    else this.c.i32(0);
  }
  private stAt(off: number): number {
    return this.st < 0 ? off : this.st + off;
  }

  // ---- registers --------------------------------------------------------------------------
  r(n: number): this {
    this.c.get(R0 + n);
    return this;
  }
  /** Pop into GPR n. */
  setR(n: number): this {
    this.c.set(R0 + n);
    return this;
  }
  /** Push the 8-bit register n (AL CL DL BL AH CH DH BH) zero-extended. */
  get8(n: number): this {
    if (n < 4) this.c.get(R0 + n).i32(255).op(OP.and);
    else this.c.get(R0 + n - 4).i32(8).op(OP.shr_u).i32(255).op(OP.and);
    return this;
  }
  /** 8-bit register n = low byte of what `v` pushes. */
  set8(n: number, v: () => void): this {
    const c = this.c;
    if (n < 4) {
      c.get(R0 + n).i32(-256).op(OP.and);
      v();
      c.i32(255).op(OP.and).op(OP.or).set(R0 + n);
    } else {
      c.get(R0 + n - 4).i32(-65281).op(OP.and);
      v();
      c.i32(255).op(OP.and).i32(8).op(OP.shl).op(OP.or).set(R0 + n - 4);
    }
    return this;
  }
  /** Push the effective address of the memory operand (flat segments, as the JS tier). */
  ea(i: Insn): this {
    const c = this.c;
    let parts = 0;
    if (i.base !== 8) {
      c.get(R0 + i.base);
      parts++;
    }
    if (i.index !== 8) {
      c.get(R0 + i.index);
      if (i.scale !== 0) c.i32(i.scale).op(OP.shl);
      if (parts++ > 0) c.op(OP.add);
    }
    if (i.disp !== 0 || parts === 0) {
      c.i32(i.disp | 0);
      if (parts++ > 0) c.op(OP.add);
    }
    return this;
  }

  // ---- flags ------------------------------------------------------------------------------
  produce(fop: number, sz: number): void {
    this.known = { fop, sz };
  }

  /** Push condition cc (0..15) on the current flags, or emit a RESUME exit when the producer
   *  is not known here and the condition needs more than ZF or SF. */
  cond(cc: number): void {
    const c = this.c;
    const k = this.known;
    const g = cc >> 1;
    const neg = (cc & 1) !== 0;
    if (k === null || !this.knownCond(k, g)) {
      // Evaluated from the flag record as flags.ts does, unless the flags are explicit
      // (F_EXPL = 7, their bits in Cpu.fexp): then the handler.
      this.needFlags();
      c.get(FOP).i32(7).op(OP.eq).if_();
      this.resume();
      c.end();
      const zf = (): void => void c.get(FRES).op(OP.eqz);
      const sf = (): void => void c.get(FRES).i32(0).op(OP.lt_s);
      if (g === 0) this.overflowNow();
      else if (g === 1) this.carryNow();
      else if (g === 2) zf();
      else if (g === 3) {
        this.carryNow();
        zf();
        c.op(OP.or);
      } else if (g === 4) sf();
      else if (g === 5) c.get(FRES).i32(255).op(OP.and).op(OP.popcnt).i32(1).op(OP.and).op(OP.eqz);
      else {
        sf();
        this.overflowNow();
        c.op(OP.ne);
        if (g === 7) {
          zf();
          c.op(OP.or);
        }
      }
    } else this.emitKnownCond(k, g);
    if (neg) c.op(OP.eqz);
  }

  private knownCond(k: Known, g: number): boolean {
    if (g === 2 || g === 4) return true;
    if (k.fop === F_SUB) return g === 1 || g === 3 || g === 6 || g === 7;
    if (k.fop === F_RES) return g === 0 || g === 1 || g === 3 || g === 6 || g === 7;
    if (k.fop === F_ADD && k.sz === 2) return g === 1;
    return false;
  }

  private emitKnownCond(k: Known, g: number): void {
    const c = this.c;
    if (g === 2) {
      c.get(FRES).op(OP.eqz);
      return;
    }
    if (g === 4) {
      c.get(FRES).i32(0).op(OP.lt_s);
      return;
    }
    if (k.fop === F_SUB) {
      const signed = g === 6 || g === 7;
      this.sized(FA, k.sz, signed);
      this.sized(FB, k.sz, signed);
      c.op(g === 1 ? OP.lt_u : g === 3 ? OP.le_u : g === 6 ? OP.lt_s : OP.le_s);
      return;
    }
    if (k.fop === F_RES) {
      if (g === 0) c.get(FOF).i32(0).op(OP.ne);
      else if (g === 1) c.get(FCF).i32(0).op(OP.ne);
      else if (g === 3) c.get(FCF).i32(0).op(OP.ne).get(FRES).op(OP.eqz).op(OP.or);
      else {
        // SF != OF, or (LE) ZF
        c.get(FRES).i32(0).op(OP.lt_s).get(FOF).i32(0).op(OP.ne).op(OP.ne);
        if (g === 7) c.get(FRES).op(OP.eqz).op(OP.or);
      }
      return;
    }
    // F_ADD at 32 bits, B: the sum wrapped below an addend
    c.get(FRES).get(FA).op(OP.lt_u);
  }

  /** Push flag operand local l at size index sz, zero- or sign-extended to 32 bits. */
  private sized(l: number, sz: number, signed: boolean): void {
    const c = this.c;
    c.get(l);
    if (sz === 0) {
      if (signed) c.op(OP.ext8);
      else c.i32(255).op(OP.and);
    } else if (sz === 1) {
      if (signed) c.op(OP.ext16);
      else c.i32(65535).op(OP.and);
    }
  }

  /** Push CF before an INC/DEC (which keep it), or exit RESUME when it is not known here. */
  carry(): void {
    const c = this.c;
    const k = this.known;
    if (k !== null && k.sz === 2 && k.fop === F_SUB) c.get(FA).get(FB).op(OP.lt_u);
    else if (k !== null && k.sz === 2 && k.fop === F_ADD) c.get(FRES).get(FA).op(OP.lt_u);
    else if (k !== null && (k.fop === F_RES || k.fop === F_INC || k.fop === F_DEC)) c.get(FCF);
    else {
      this.needFlags();
      c.get(FOP).i32(7).op(OP.eq).if_();
      this.resume();
      c.end();
      this.carryNow();
    }
  }

  /** M = the operand mask of the producer's size (0xff, 0xffff, -1), from fsz. */
  private sizeMask(): void {
    this.c.i32(-1).i32(65535).i32(255).get(FSZ).i32(1).op(OP.eq).op(OP.select).get(FSZ).i32(2).op(OP.eq).op(OP.select).set(M);
  }

  /** Push CF from the flag record (flags.ts getCF) for any fop but F_EXPL (the caller exits
   *  for that first): fcf for INC/DEC/RES; else the carry (borrow) out of the sized operands
   *  plus the carry in of ADC/SBB, computed in 64 bits. */
  carryNow(): void {
    const c = this.c;
    c.get(FOP).i32(4).op(OP.ge_u).if_();
    c.get(FCF).set(CT);
    c.else_();
    this.sizeMask();
    c.get(FCF).i32(0).get(FOP).i32(1).op(OP.and).op(OP.select).set(CIN);
    const ab = (): void => {
      c.get(FA).get(M).op(OP.and).op(OP.extend_u);
      c.get(FB).get(M).op(OP.and).op(OP.extend_u);
    };
    c.get(FOP).i32(2).op(OP.lt_u).if_();
    // ADD/ADC: a + b + cin > mask
    ab();
    c.op(OP.i64add).get(CIN).op(OP.extend_u).op(OP.i64add).get(M).op(OP.extend_u).op(OP.i64gt_u).set(CT);
    c.else_();
    // SUB/SBB: a < b + cin
    ab();
    c.get(CIN).op(OP.extend_u).op(OP.i64add).op(OP.i64lt_u).set(CT);
    c.end();
    c.end();
    c.get(CT);
  }

  /** Push OF from the flag record (flags.ts getOF), fop not F_EXPL. */
  overflowNow(): void {
    const c = this.c;
    c.get(FOP).i32(6).op(OP.eq).if_();
    c.get(FOF).i32(0).op(OP.ne).set(CT);
    c.else_();
    // sign bit of the size, in M
    c.i32(-2147483648).i32(0x8000).i32(0x80).get(FSZ).i32(1).op(OP.eq).op(OP.select).get(FSZ).i32(2).op(OP.eq).op(OP.select).set(M);
    c.get(FOP).i32(2).op(OP.lt_u).get(FOP).i32(4).op(OP.eq).op(OP.or).if_();
    // ADD, ADC, INC: (a ^ r) & (b ^ r)
    c.get(FA).get(FRES).op(OP.xor).get(FB).get(FRES).op(OP.xor).op(OP.and).set(CT);
    c.else_();
    // SUB, SBB, DEC: (a ^ b) & (a ^ r)
    c.get(FA).get(FB).op(OP.xor).get(FA).get(FRES).op(OP.xor).op(OP.and).set(CT);
    c.end();
    c.get(CT).get(M).op(OP.and).i32(0).op(OP.ne).set(CT);
    c.end();
    c.get(CT);
  }

  /** Set the flag record: fop, fa, fb, fres from locals (fa/fb skipped when -1), fsz const. */
  flags(fop: number, sz: number, fa: number, fb: number, fres: number): void {
    const c = this.c;
    c.i32(fop).set(FOP);
    if (fa >= 0) c.get(fa).set(FA);
    if (fb >= 0) c.get(fb).set(FB);
    c.get(fres).set(FRES);
    c.i32(sz).set(FSZ);
  }
  /** F_RES with CF, OF from locals or constants (a number < 0 names a constant -(v+1)). */
  resFlags(sz: number, fres: number, cf: number, of: number): void {
    const c = this.c;
    c.i32(6).set(FOP).get(fres).set(FRES).i32(sz).set(FSZ);
    if (cf < 0) c.i32(-(cf + 1)).set(FCF);
    else c.get(cf).set(FCF);
    if (of < 0) c.i32(-(of + 1)).set(FOF);
    else c.get(of).set(FOF);
    c.i32(0).set(FAF);
  }

  // ---- exits ------------------------------------------------------------------------------
  /** Leave with this instruction and the rest of the block to the interpreter. */
  resume(): void {
    this.count(this.hitsBefore);
    // the record as the instructions before this one left it (a template writes no flags
    // before its last exit)
    this.storeFlags(this.dirtyBefore);
    this.c.i32(X_RESUME | (this.k << 2) | (this.j << 16)).set(RV).br(this.out);
  }

  // ---- memory -----------------------------------------------------------------------------
  /**
   * The TLB-hit test of Cpu.rd8/rd16/rd32 (tags: RD) or wr8/wr16/wr32 (WR) for an access
   * of `size` bytes at the address `lin` pushes, into locals (l, t): a hit counts one TLB
   * hit, leaves the backing byte address in `a` and runs `hit`; a miss or a page crossing exits.
   */
  access(tags: number, lin: () => void, size: 1 | 2 | 4, hit: () => void, hits = 1): void {
    const c = this.c;
    lin();
    this.test(tags, L, T, size);
    c.if_();
    this.countHits(hits);
    this.addr(L, T, A);
    hit();
    c.else_();
    this.resume();
    c.end();
  }
  /** Push the hit test for the address in local l (computing local t, the entry's byte offset in
   *  a tag array); consumes the pushed address when `l` is being set by it. */
  test(tags: number, l: number, t: number, size: 1 | 2 | 4): void {
    const c = this.c;
    c.tee(l).i32(10).op(OP.shr_u).i32(TLB_MASK << 2).op(OP.and).tee(t);
    c.get(P_TAGS).op(OP.add).mem(OP.load, tags === WR ? TLB_SIZE * 4 : 0);
    // the tag names the page of the access's last byte too: it stays inside the page (QEMU's
    // softmmu compares the same way); an address that wraps past 4 GiB lands on page 0: a miss
    c.get(l);
    if (size !== 1) c.i32(size - 1).op(OP.add);
    c.i32(12).op(OP.shr_u).op(OP.eq);
  }
  countHits(n: number): void {
    this.insnHits += n;
  }
  /** A block's code starts: nothing known, counted or written yet. */
  startBlock(): void {
    this.known = null;
    this.setsNe = false;
    this.hitsBefore = 0;
    this.insnHits = 0;
    this.flagsIn = false;
    this.dirtyBefore = 0;
    this.c.watchFrom = FOP;
    this.c.written = 0;
  }
  /** The instruction's template is done: its hits and flag writes join the block's. */
  endInsn(): void {
    this.hitsBefore += this.insnHits;
    this.insnHits = 0;
    this.dirtyBefore = this.c.written & 0xff;
  }
  /** The block's code is done: store the flag fields it wrote. */
  endBlock(): void {
    this.storeFlags(this.c.written & 0xff);
  }

  /**
   * Make the flag locals hold the whole record: load the fields this block has not written.
   * Called before reading the record with the producer unknown, and before writing it on one
   * path only (the other must see the old record). Only at a template's top level, or on a path
   * whose alternative exits, so that every path after it has the loads.
   */
  needFlags(): void {
    if (this.flagsIn) return;
    const c = this.c;
    const written = c.written;
    for (let f = 0; f < 8; f++) {
      if ((written & (1 << f)) !== 0) continue;
      this.stLoad(4 * (ST_FLAGS + f));
      c.set(FOP + f);
    }
    c.written = written; // loading is not writing
    this.flagsIn = true;
  }
  private storeFlags(mask: number): void {
    const c = this.c;
    for (let f = 0; f < 8; f++) {
      if ((mask & (1 << f)) === 0) continue;
      this.stStore(4 * (ST_FLAGS + f), () => void c.get(FOP + f));
    }
  }
  /** Count n TLB hits and `units` retired units in CNT. */
  count(hits: number, units = 0): void {
    if (hits !== 0 || units !== 0) this.c.get(CNT).i64(hits * 2 ** 32 - units).op(OP.i64add).set(CNT);
  }
  /** a = (add[t] + l) >>> 0: the backing byte address (RAM is at offset 0; tlb.ts add). */
  addr(l: number, t: number, a: number): void {
    const c = this.c;
    c.get(t);
    if (this.st < 0) c.get(P_ST).op(OP.add);
    c.mem(OP.load, this.stAt(ADD_AT)).get(l).op(OP.add).set(a);
  }
  load(size: 1 | 2 | 4, a = A): void {
    this.c.get(a).mem(size === 4 ? OP.load : size === 2 ? OP.load16u : OP.load8u);
  }
  /** Store what `v` pushes at backing address local a. */
  store(size: 1 | 2 | 4, v: () => void, a = A): void {
    this.c.get(a);
    v();
    this.c.mem(size === 4 ? OP.store : size === 2 ? OP.store16 : OP.store8);
  }
}
