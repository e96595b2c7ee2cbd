// JavaScript text for the instructions of one block inside a compiled region (compile.ts).
//
// Inside a region the eight GPRs and the lazy-flag record live in JS locals (r0..r7, fop fa fb
// fres fsz fcf fof faf) that mirror c.r and c.f*: they are written back ("spilled") before
// anything that can observe or change the Cpu (a handler call, a slow path, the end of a block)
// and read back after a handler ran. The block's flag producer is tracked at compile time, so a
// Jcc after CMP/SUB/TEST/... is a comparison of locals (QEMU's cc_op specialisation).
//
// Each instruction is either:
// - a call of its interpreter handler (`h7(c, i7)`: everything templates.ts does not state), or
// - a template (templates.ts) that states its handler's effect for this instruction's fixed
//   operands; a template with a memory operand does the TLB-hit case
//   inline, with the hit test and the hit counting of Cpu.rd32/wr32/..., and calls the handler
//   itself for everything else (miss, page crossing, stale-access detector, code page), so
//   faults, MMU exits, code invalidation and statistics stay the interpreter's own.
// Templates are checked against their handlers by the differential tests (test/cpu/jit*.test.ts).

import { mulS32, mulU32 } from '../exec-alu.js';
import { cond, F_ADD, F_DEC, F_INC, F_RES, F_SUB, getCF, PARITY } from '../flags.js';
import type { Cpu } from '../cpu.js';
import { TLB_MASK } from '../tlb.js';
import type { Handler, Insn } from '../insn.js';

/** Names the emitted text may use besides the region's own, and their values. */
export const EMIT_SCOPE_NAMES = ['cond', 'getCF', 'PARITY', 'SLOW', 'MULU', 'MULS'];
export const EMIT_SCOPE_VALUES: unknown[] = [cond, getCF, PARITY, slowCall, mulU32, mulS32];

/** A template's slow path: the handler runs with the block state the interpreter's loop would
 *  show it (one shared function keeps each region's text and machine code small). */
function slowCall(c: Cpu, ic: number, bb: number, beip: number, hits: number, h: Handler, i: Insn): void {
  c.icount = ic;
  c.blockBase = bb;
  c.beip = beip;
  c.eip = NaN;
  c.blockBreak = false;
  c.hits = hits;
  h(c, i);
}

/** Locals a region declares (compile.ts); a block loads each from the Cpu on first use. */
export const REG_LOCALS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];
export const FLAG_LOCALS = ['fop', 'fa', 'fb', 'fres', 'fsz', 'fcf', 'fof', 'faf'];

/** Compile-time knowledge of the last flag producer in the block (fop and size), or null. */
export interface Known {
  fop: number;
  sz: number;
}

/** States one handler's effect for an instruction as JS text through the emitter; false: the
 *  operand form is not covered, the handler is called. */
export type Template = (e: BlockEmitter, i: Insn) => boolean;

/** The TLB-hit test of Cpu.rd8/rd16/rd32/wr8/wr16/wr32 as JS text, for an access of `size` bytes
 *  at the linear address in local `l`, whose page is `vp` and TLB slot `t` (names of locals):
 *  the tag matches and the access stays inside the page. */
export function hitCond(tags: 'rtag' | 'wtag', t: string, vp: string, l: string, size: 1 | 2 | 4): string {
  const align = size === 4 ? ` && (${l} & 4095) <= 4092` : size === 2 ? ` && (${l} & 4095) !== 4095` : '';
  return `${tags}[${t}] === ${vp}${align}`;
}

/** Where a statement's slow path (the handler call) goes; see BlockEmitter.emit. */
const CALL_MARK = '\u0000CALL\u0000';
/** A flag local's name in emitted text, and whether that occurrence assigns it. */
const FLAG_RE = /\b(fop|fa|fb|fres|fsz|fcf|fof|faf)\b(\s*=(?!=))?/g;
const FLAG_BIT: Record<string, number> = { fop: 1, fa: 2, fb: 4, fres: 8, fsz: 16, fcf: 32, fof: 64, faf: 128 };

/**
 * Emits one block. `live`/`flive` (registers/flag locals) say which locals hold the Cpu's value
 * (loaded or written in this block); `dirty`/`fdirty` which may differ from the Cpu. Both are
 * per local and conservative (a spill of an unchanged value is harmless): a block that only
 * produces flags and branches on them never loads a flag field, and stores only those it wrote.
 */
export class BlockEmitter {
  live = 0;
  dirty = 0;
  flive = 0;
  fdirty = 0;
  known: Known | null = null;
  /** The current instruction: its region index n and index j in the block. */
  n = 0;
  j = 0;
  ins!: Insn;
  constructor(
    readonly out: string[],
    /** Handler -> template (templates.ts, passed in so that it can build on this module). */
    readonly templates: ReadonlyMap<Handler, Template>,
  ) {}

  /**
   * Append a statement. A local is loaded from the Cpu (c.r, c.f*) the first time a statement
   * of the block reads it: the Cpu is in step with the locals at every block boundary. The
   * statement's slow path (CALL_MARK, at most one) is filled in last, so that it spills what
   * was dirty before the statement and reloads exactly the locals live after it.
   */
  emit(s: string, mayKeepFlags = false): void {
    const fast = s.replace(CALL_MARK, '');
    let need = 0;
    for (const m of fast.matchAll(/\br([0-7])\b/g)) need |= 1 << Number(m[1]);
    need &= ~this.live;
    // A statement that writes the flags only on some paths leaves the others' values: it reads
    // them all (they are loaded first), as far as the locals' bookkeeping goes.
    let reads = mayKeepFlags ? 0xff : 0;
    let writes = 0;
    for (const m of fast.matchAll(FLAG_RE)) {
      if (m[2] === undefined) reads |= FLAG_BIT[m[1]];
      else writes |= FLAG_BIT[m[1]];
    }
    let pre = '';
    for (let k = 0; k < 8; k++) if (need & (1 << k)) pre += `r${k} = r[${k}]; `;
    const fneed = reads & ~this.flive;
    for (let k = 0; k < 8; k++) if (fneed & (1 << k)) pre += `${FLAG_LOCALS[k]} = c.${FLAG_LOCALS[k]}; `;
    this.live |= need;
    this.flive |= reads | writes;
    this.out.push(pre + s.replace(CALL_MARK, () => this.slowText()));
    this.fdirty |= writes;
  }

  // ---- state ----------------------------------------------------------------------------
  flagSpillText(): string {
    let s = '';
    for (let k = 0; k < 8; k++) if (this.fdirty & (1 << k)) s += `c.${FLAG_LOCALS[k]} = ${FLAG_LOCALS[k]}; `;
    return s;
  }
  spillText(): string {
    let s = '';
    for (let k = 0; k < 8; k++) if (this.dirty & (1 << k)) s += `r[${k}] = r${k}; `;
    return s + this.flagSpillText();
  }
  /** Spill in straight-line code: the locals are clean afterwards. */
  spill(): void {
    const s = this.spillText();
    if (s !== '') this.out.push(s);
    this.dirty = 0;
    this.fdirty = 0;
  }
  spillFlags(): void {
    const s = this.flagSpillText();
    if (s !== '') this.out.push(s);
    this.fdirty = 0;
  }
  reloadText(): string {
    let s = '';
    for (let k = 0; k < 8; k++) if (this.live & (1 << k)) s += `r${k} = r[${k}]; `;
    for (let k = 0; k < 8; k++) if (this.flive & (1 << k)) s += `${FLAG_LOCALS[k]} = c.${FLAG_LOCALS[k]}; `;
    return s;
  }
  exitText(): string {
    return `{ c.icount = bb + ${this.j + 1}; if (c.eip !== c.eip) c.eip = (beip + ${this.ins.next}) | 0; return null; }`;
  }
  /** The handler call, as a statement that leaves the locals valid (spilled before, reloaded
   *  after) and ends the slice when the handler set blockBreak, as the interpreter loop does.
   *  The Cpu's block state (icount, blockBase, beip, eip = NaN, blockBreak, hits) is what the
   *  interpreter's loop would show the handler (set by SLOW); the region keeps it in locals
   *  otherwise. */
  callText(): string {
    return CALL_MARK;
  }
  private slowText(): string {
    return (
      `{ ${this.spillText()}ii = ${this.n}; SLOW(c, ic, bb, beip, hits, h${this.n}, i${this.n}); ${this.reloadText()}` +
      `ic = c.icount; bb = c.blockBase; hits = c.hits; rtag = c.rtag; wtag = c.wtag; if (c.eip === c.eip) ne = c.eip; if (c.blockBreak) ${this.exitText()} }`
    );
  }
  /** Straight-line handler call: afterwards nothing is known about the flags. */
  call(): void {
    this.emit(this.callText());
    this.dirty = 0;
    this.fdirty = 0;
    this.known = null;
  }
  setDirty(reg: number): void {
    this.dirty |= 1 << reg;
  }
  produce(fop: number, sz: number): void {
    this.known = { fop, sz };
  }

  // ---- operands ---------------------------------------------------------------------------
  ea(i: Insn): string {
    const parts: string[] = [];
    if (i.base !== 8) parts.push(`r${i.base}`);
    if (i.index !== 8) parts.push(i.scale === 0 ? `r${i.index}` : `(r${i.index} << ${i.scale})`);
    if (i.disp !== 0 || parts.length === 0) parts.push(String(i.disp | 0));
    return `((${parts.join(' + ')}) | 0)`;
  }
  get8(n: number): string {
    return n < 4 ? `(r${n} & 255)` : `((r${n - 4} >> 8) & 255)`;
  }
  set8(n: number, v: string): string {
    if (n < 4) {
      this.setDirty(n);
      return `r${n} = (r${n} & -256) | ((${v}) & 255);`;
    }
    this.setDirty(n - 4);
    return `r${n - 4} = (r${n - 4} & -65281) | (((${v}) & 255) << 8);`;
  }

  /** `if (TLB hit) { hit } else handler` for a load of `size` at linear address text `lin`;
   *  `hit` sees the backing byte address in `a`. The test and the hit count are rd8/rd32's (a
   *  region never runs with the stale-access detector on, whose checks the handlers make). */
  loadHit(lin: string, size: 1 | 2 | 4, hit: string): string {
    return this.tlbHit('rtag', lin, size, hit);
  }
  /** Same for a store (wr8/wr32, and rdW32's write-permission test for read-modify-write). */
  storeHit(lin: string, size: 1 | 2 | 4, hit: string): string {
    return this.tlbHit('wtag', lin, size, hit);
  }
  private tlbHit(tags: 'rtag' | 'wtag', lin: string, size: 1 | 2 | 4, hit: string): string {
    return `{ const l = ${lin}, vp = l >>> 12, t = vp & ${TLB_MASK}; if (${hitCond(tags, 't', 'vp', 'l', size)}) { hits++; const a = (tlbOff[t] + (l & 4095)) >>> 0; ${hit} } else ${this.callText()} }`;
  }

  // ---- conditions -------------------------------------------------------------------------
  /** JS boolean text for condition code cc on the current flags (Cpu cond()). */
  cond(cc: number): string {
    const k = this.known;
    const neg = (cc & 1) !== 0;
    let t: string | null = null;
    const g = cc >> 1;
    if (k !== null) {
      const mask = k.sz === 2 ? '' : k.sz === 1 ? ' & 65535' : ' & 255';
      const sxa = k.sz === 2 ? 'fa' : k.sz === 1 ? '((fa << 16) >> 16)' : '((fa << 24) >> 24)';
      const sxb = k.sz === 2 ? 'fb' : k.sz === 1 ? '((fb << 16) >> 16)' : '((fb << 24) >> 24)';
      const ua = k.sz === 2 ? '(fa >>> 0)' : `(fa${mask})`;
      const ub = k.sz === 2 ? '(fb >>> 0)' : `(fb${mask})`;
      if (g === 2) t = 'fres === 0';
      else if (g === 4) t = 'fres < 0';
      else if (g === 5) t = 'PARITY[fres & 255] !== 0';
      else if (k.fop === F_SUB) {
        if (g === 1) t = `${ua} < ${ub}`;
        else if (g === 3) t = `${ua} <= ${ub}`;
        else if (g === 6) t = `${sxa} < ${sxb}`;
        else if (g === 7) t = `${sxa} <= ${sxb}`;
      } else if (k.fop === F_RES) {
        if (g === 0) t = 'fof !== 0';
        else if (g === 1) t = 'fcf !== 0';
        else if (g === 3) t = '(fcf !== 0 || fres === 0)';
        else if (g === 6) t = '((fres < 0) !== (fof !== 0))';
        else if (g === 7) t = '(fres === 0 || (fres < 0) !== (fof !== 0))';
      } else if (k.fop === F_ADD && k.sz === 2) {
        if (g === 1) t = '(fres >>> 0) < (fa >>> 0)';
      }
    }
    if (t === null) {
      this.spillFlags();
      return neg ? `!cond(c, ${cc & ~1})` : `cond(c, ${cc & ~1})`;
    }
    return neg ? `!(${t})` : `(${t})`;
  }

  /** JS text for CF before an INC/DEC (getCF), from the known producer when there is one. */
  carry(): string {
    const k = this.known;
    if (k !== null && k.sz === 2) {
      if (k.fop === F_SUB) return '((fa >>> 0) < (fb >>> 0) ? 1 : 0)';
      if (k.fop === F_ADD) return '((fres >>> 0) < (fa >>> 0) ? 1 : 0)';
    }
    if (k !== null && (k.fop === F_RES || k.fop === F_INC || k.fop === F_DEC)) return 'fcf';
    this.spillFlags();
    return 'getCF(c)';
  }

  /** Emit instruction ins (region index n, block index j). */
  insn(ins: Insn, n: number, j: number): void {
    this.ins = ins;
    this.n = n;
    this.j = j;
    // 16-bit addressing (amask 0xFFFF): the handler computes the address; templates state 32-bit.
    const t = ins.amask === -1 ? this.templates.get(ins.fn) : undefined;
    if (t !== undefined && t(this, ins)) return;
    this.call();
  }
}
