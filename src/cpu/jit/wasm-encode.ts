// A minimal WebAssembly binary writer for compiled regions (wasm-region.ts): one function of i32
// parameters and locals returning an i32, importing the memory that holds RAM and the arena.
// Structured control (block/loop/if) is tracked by nesting depth so that branches name their
// target by a Label rather than by a hand-counted relative depth.

/** Opcodes used (WebAssembly core spec, section 5.4). */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  call_indirect: 0x11,
  return_call_indirect: 0x13,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load: 0x28,
  i64load: 0x29,
  load8s: 0x2c,
  load8u: 0x2d,
  load16s: 0x2e,
  load16u: 0x2f,
  store: 0x36,
  i64store: 0x37,
  store8: 0x3a,
  store16: 0x3b,
  const: 0x41,
  i64const: 0x42,
  eqz: 0x45,
  eq: 0x46,
  ne: 0x47,
  lt_s: 0x48,
  lt_u: 0x49,
  gt_s: 0x4a,
  gt_u: 0x4b,
  le_s: 0x4c,
  le_u: 0x4d,
  ge_s: 0x4e,
  ge_u: 0x4f,
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  and: 0x71,
  or: 0x72,
  xor: 0x73,
  shl: 0x74,
  shr_s: 0x75,
  shr_u: 0x76,
  i64ne: 0x52,
  i64lt_u: 0x54,
  i64gt_u: 0x56,
  popcnt: 0x69,
  i64add: 0x7c,
  i64mul: 0x7e,
  i64div_u: 0x80,
  i64or: 0x84,
  i64shl: 0x86,
  i64shr_u: 0x88,
  i64shr_s: 0x87,
  wrap: 0xa7,
  extend_s: 0xac,
  extend_u: 0xad,
  ext8: 0xc0,
  ext16: 0xc1,
} as const;

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
const VOID = 0x40;

export function uleb(out: number[], v: number): void {
  v >>>= 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

export function sleb(out: number[], v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Signed LEB128 of a safe integer beyond the i32 range (division instead of 32-bit shifts). */
function sleb53(out: number[], v: number): void {
  for (;;) {
    const b = ((v % 128) + 128) % 128;
    v = (v - b) / 128;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** A branch target: the nesting depth its construct opened at. */
export interface Label {
  readonly depth: number;
}

/** The body of one function: instructions appended in order. */
export class Code {
  readonly b: number[] = [];
  private depth = 0;

  op(o: number): this {
    this.b.push(o);
    return this;
  }
  i32(v: number): this {
    this.b.push(OP.const);
    sleb(this.b, v);
    return this;
  }
  /** i64.const of a safe integer (|v| < 2^53). */
  i64(v: number): this {
    this.b.push(OP.i64const);
    if (v === (v | 0)) sleb(this.b, v);
    else sleb53(this.b, v);
    return this;
  }
  get(l: number): this {
    this.b.push(OP.get);
    uleb(this.b, l);
    return this;
  }
  /** Locals [watchFrom, watchFrom + 31] whose writes (set, tee) are recorded in `written`, bit
   *  l - watchFrom (the emitter's way of knowing which flag fields a block changed). */
  watchFrom = -64;
  written = 0;
  set(l: number): this {
    if (l >= this.watchFrom && l < this.watchFrom + 32) this.written |= 1 << (l - this.watchFrom);
    this.b.push(OP.set);
    uleb(this.b, l);
    return this;
  }
  tee(l: number): this {
    if (l >= this.watchFrom && l < this.watchFrom + 32) this.written |= 1 << (l - this.watchFrom);
    this.b.push(OP.tee);
    uleb(this.b, l);
    return this;
  }
  /** A memory access with a static byte offset (alignment hint 0: any address is allowed). */
  mem(o: number, offset = 0): this {
    this.b.push(o, 0);
    uleb(this.b, offset);
    return this;
  }
  block(): Label {
    this.b.push(OP.block, VOID);
    return { depth: this.depth++ };
  }
  loop(): Label {
    this.b.push(OP.loop, VOID);
    return { depth: this.depth++ };
  }
  /** `if` on the i32 on the stack; close with end() (else_() in between for two arms). */
  if_(): Label {
    this.b.push(OP.if, VOID);
    return { depth: this.depth++ };
  }
  else_(): this {
    this.b.push(OP.else);
    return this;
  }
  end(): this {
    this.b.push(OP.end);
    this.depth--;
    return this;
  }
  private rel(l: Label): number {
    return this.depth - 1 - l.depth;
  }
  br(l: Label): this {
    this.b.push(OP.br);
    uleb(this.b, this.rel(l));
    return this;
  }
  brIf(l: Label): this {
    this.b.push(OP.br_if);
    uleb(this.b, this.rel(l));
    return this;
  }
  /** call_indirect (or return_call_indirect: a tail call) of function type `type` through
   *  table 0; the table index is on top of the arguments. */
  callIndirect(type: number, tail: boolean): this {
    this.b.push(tail ? OP.return_call_indirect : OP.call_indirect);
    uleb(this.b, type);
    this.b.push(0);
    return this;
  }
  brTable(targets: Label[], dflt: Label): this {
    this.b.push(OP.br_table);
    uleb(this.b, targets.length);
    for (const t of targets) uleb(this.b, this.rel(t));
    uleb(this.b, this.rel(dflt));
    return this;
  }
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (const x of body) out.push(x);
}

function name(out: number[], s: string): void {
  uleb(out, s.length);
  for (let k = 0; k < s.length; k++) out.push(s.charCodeAt(k));
}

/**
 * A module importing memory `m.mem` and table `m.tab` (of funcref), declaring function types
 * `types` (parameter value types each, one i32 result) and exporting `run`, of type `fnType`,
 * with `locals` i32 locals after its parameters and `body`.
 */
export function moduleBytes(types: number[][], fnType: number, locals: number, body: Code): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const type: number[] = [];
  uleb(type, types.length);
  for (const params of types) {
    type.push(0x60);
    uleb(type, params.length);
    for (const t of params) type.push(t);
    type.push(1, I32);
  }
  section(out, 1, type);
  const imp: number[] = [2];
  name(imp, 'm');
  name(imp, 'mem');
  imp.push(0x02, 0x00, 0x00); // memory, limits: min 0, no max
  name(imp, 'm');
  name(imp, 'tab');
  imp.push(0x01, 0x70, 0x00, 0x00); // table of funcref, min 0
  section(out, 2, imp);
  section(out, 3, [1, fnType]);
  const exp: number[] = [1];
  name(exp, 'run');
  exp.push(0x00, 0);
  section(out, 7, exp);
  // code section: one body = local declarations, the instructions, end
  const decl: number[] = [];
  if (locals > 0) {
    decl.push(1);
    uleb(decl, locals);
    decl.push(I32);
  } else decl.push(0);
  const fnLen = decl.length + body.b.length + 1;
  const head: number[] = [1];
  uleb(head, fnLen);
  const secLen = head.length + fnLen;
  out.push(10);
  uleb(out, secLen);
  const bytes = new Uint8Array(out.length + head.length + decl.length + body.b.length + 1);
  bytes.set(out, 0);
  bytes.set(head, out.length);
  bytes.set(decl, out.length + head.length);
  bytes.set(body.b, out.length + head.length + decl.length);
  bytes[bytes.length - 1] = OP.end;
  return bytes;
}

/** The part of the WebAssembly JS API the tier uses (the project's lib settings leave the
 *  global's types out; Node and browsers have it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmTable {
  readonly length: number;
  grow(n: number): number;
  set(i: number, f: unknown): void;
  get(i: number): unknown;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  Table: new (d: { element: 'anyfunc'; initial: number }) => WasmTable;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
export const WA: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
