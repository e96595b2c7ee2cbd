// One IA-32 processor: architectural state, the TLB-first memory access paths and the dispatch
// loop over pre-decoded blocks. Mirrors struct kvm_vcpu_arch's register state plus what hardware
// does between VM entries (fetch, execute, take faults); run() plays the role of vcpu_enter_guest.

import { CodeCache } from './code-cache.js';
import { decodeInsn, opUD } from './decode.js';
import * as A from './exec-alu.js';
import * as B from './exec-branch.js';
import * as D from './exec-data.js';
import { GuestError } from './errors.js';
import { F_EXPL, FL_ARITH, FL_IF, FL_TF, arithFlags, setArith } from './flags.js';
import { hotId } from './hot-forms.js';
import { breakHere, breakLimit } from './breakpoints.js';
import { Block, Insn } from './insn.js';
import { deliverEvent, EV_EXC, EV_IRQ, EV_NONE, faultDuringDelivery } from './interrupts.js';
import {
  ACC_FETCH,
  ACC_USER,
  ACC_WRITE,
  EXIT_BUDGET,
  EXIT_HLT,
  EXIT_MMU,
  EXIT_STOP,
  EXIT_TRIPLE_FAULT,
  type InterruptController,
  type IoBus,
  type Mmu,
  TLB_NOCACHE,
  TLB_USER,
  TLB_WRITE,
  XLATE_EXIT,
  XLATE_PF,
  XLATE_UNBACKED,
} from './ports.js';
import { TLB_MASK, Tlb } from './tlb.js';
import { compileRegion, JIT_LINK, jitDefault, jitTuning } from './jit/compile.js';
import { arenaOf, CPU_TLB_AT, type WasmArena } from './jit/wasm-arena.js';
import { JIT_RESUME } from './jit/wasm-region.js';

/** Thrown (never as an Error) to abandon the current instruction: an exception is pending. */
export const FAULT_SIGNAL: object = Object.freeze({ signal: 'fault' });
/** Thrown to abandon the current instruction or event delivery: XLATE_EXIT, return EXIT_MMU. */
export const EXIT_SIGNAL: object = Object.freeze({ signal: 'exit' });
/** Thrown when a fault occurs while delivering #DF. */
export const TRIPLE_SIGNAL: object = Object.freeze({ signal: 'triple' });

/** Segment register numbers (ModRM.reg order for MOV Sreg). */
export const SEG_ES = 0;
export const SEG_CS = 1;
export const SEG_SS = 2;
export const SEG_DS = 3;
export const SEG_FS = 4;
export const SEG_GS = 5;

const EFLAGS_WRITABLE = 0x100 | 0x200 | 0x400 | 0x3000 | 0x4000 | 0x40000 | 0x200000;
const MAX_BLOCK = 64;
/** DR6.BS: the #DB was the single-step trap. */
const DR6_BS = 0x4000;

export interface CpuStats {
  /** Exceptions delivered, per vector (0..31). */
  exceptions: Float64Array;
  /** Memory accesses and block fetches that hit the TLB. */
  readonly tlbHits: number;
  /** TLB misses (calls to Mmu.translate). */
  tlbMisses: number;
  blocksDecoded: number;
  interrupts: number;
}

export interface CpuOptions {
  mem: Uint8Array;
  mmu: Mmu;
  io: IoBus;
  pic?: InterruptController;
  code?: CodeCache;
  index?: number;
  /** Compile hot regions to JavaScript (jit/): default jitDefault(). Results are identical. */
  jit?: boolean;
}

export class Cpu {
  readonly mem: Uint8Array;
  readonly m32: Int32Array;
  readonly dv: DataView;
  /** GPRs plus slot 8, which is always zero (the "no base/index" register of decoded operands). */
  readonly r: Int32Array;
  /** The 8 GPRs, EAX ECX EDX EBX ESP EBP ESI EDI (a view of r). */
  readonly regs: Int32Array;
  eip = 0;
  /** Address of the instruction being executed (set when it faults; faults restart here). */
  curEip = 0;
  /** Linear address of the executing block. While a block runs, eip is NaN until a handler
   *  sets it (branches) or the loop sets it after the block: handlers that need the address of
   *  the next instruction compute beip + Insn.next (see nextEip). */
  beip = 0;

  // Lazy flags (see flags.ts) and the non-arithmetic EFLAGS bits.
  fop = F_EXPL;
  fa = 0;
  fb = 0;
  fres = 0;
  fsz = 2;
  fcf = 0;
  fof = 0;
  faf = 0;
  fexp = 0;
  eflRest = 2;

  cr0 = 0;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  private _cpl = 0;
  /** Tag arrays for the current privilege level (see Tlb). */
  rtag: Int32Array;
  wtag: Int32Array;
  readonly tlbOff: Int32Array;
  /** ACC_USER when CPL = 3, else 0. */
  uacc = 0;

  readonly sreg = new Int32Array(6);
  /** The high word of the descriptor each data segment register was loaded from (0 for a null
   *  selector): the hidden part a return to an outer level consults (segments.ts
   *  dropInvisibleSegs), so it needs no GDT read that could fault. */
  readonly segHi = new Int32Array(6);
  /** DR0-DR7, kept but never armed: MOV to and from them works (DR4/DR5 alias DR6/DR7), no
   *  DR7 breakpoint ever raises #DB. The single-step trap (EFLAGS.TF) sets DR6.BS. */
  readonly dr = new Int32Array(8);
  gdtBase = 0;
  gdtLimit = 0;
  idtBase = 0;
  idtLimit = 0x3ff;
  trSel = 0;
  trBase = 0;
  trLimit = 0;
  ldtSel = 0;

  readonly mmu: Mmu;
  readonly io: IoBus;
  readonly pic: InterruptController | null;
  readonly code: CodeCache;
  readonly index: number;
  readonly tlb: Tlb;

  /**
   * Virtual time in units retired (GUEST-ABI: RDTSC, the PIT, --max-insns and --stats count it).
   * The rule, identical under every Mmu: an instruction is one unit, except a REP string
   * instruction, which is one unit per iteration it performs (one when ECX is already 0). The
   * iterations are charged as they complete, so a REP cut short by an exit, a fault, an interrupt
   * or the end of a slice has charged exactly the work it did, and the rest is charged when it
   * resumes: where a shadow MMU's exits fall can never change the total.
   */
  icount = 0;
  haltedTicks = 0;
  /** icount at the start of the executing block (handlers that need exact time add Insn.idx).
   *  REP handlers add the iterations beyond the first here, so the loop's count stays right. */
  blockBase = 0;
  /** icount at which the current execBlocks() slice ends: a REP instruction stops there. */
  sliceEnd = 0;
  /** Events delivered (exceptions, interrupts, INT n) since reset. */
  deliveries = 0;
  /** Consecutive exception deliveries with no unit retired in between (see deliverEvent). */
  stormCount = 0;
  stormIcount = -1;
  halted = false;
  stopRequested = false;
  irqLine = false;
  /** One-instruction interrupt shadow after STI (IF 0 -> 1) or a load of SS. */
  intShadow = false;
  /** Set by an instruction that no single-step trap follows (singleStep): a load of SS (MOV SS,
   *  POP SS), and INT n, INT3 or INTO delivering its interrupt. */
  noStepTrap = false;
  /** Set by anything that makes the rest of the current block invalid (SMC, mode changes). */
  blockBreak = false;
  /** Triple fault happened: the processor is shut down until reset(). */
  shutdown = false;

  exitLin = 0;
  exitAcc = 0;
  pfErrorCode = 0;
  xlatePage = 0;
  xlateFlags = 0;
  /** The last xlate() went through a TLB_NOCACHE translation. */
  nocache = false;
  tripleFaultVector = 0;
  tripleFaultEip = 0;
  /** The vector of the event whose delivery began the chain that ended in a triple fault (a
   *  guest without an IDT that hits #UD triple-faults on #GP: this says 6). */
  tripleFaultFirst = 0;
  /** The vector whose delivery is in progress since no event was pending (interrupts.ts). */
  chainFirst = 0;

  /** Exception being raised (set before FAULT_SIGNAL is thrown). */
  excVector = 0;
  excError = -1;
  /** An event whose delivery has not completed (injected, or interrupted by XLATE_EXIT). */
  pendKind = EV_NONE;
  pendVector = 0;
  pendError = -1;
  pendEip = 0;

  /** The descriptor last read by segments.readDescriptor (low and high dwords). */
  descLo = 0;
  descHi = 0;
  /** Scratch result of 32x32 multiplies (high half). */
  mulHi = 0;

  /** TLB hits (a plain field: the fast paths bump it; stats.tlbHits reads it). */
  hits = 0;
  /** A debugger's breakpoints (linear addresses) while it lets the guest run between them, else
   *  null: execBlocks stops before one (breakpoints.ts has the rule). */
  breakAt: ReadonlySet<number> | null = null;
  /** EIP at the last instruction boundary, kept while breakAt is set (breakpoints.ts). */
  breakLast = -1;
  /** Set when execBlocks stopped at a breakpoint; the debugger clears it. */
  breakHit = false;
  readonly stats: CpuStats;
  frameGen: Int32Array | null = null;
  /** Run compiled regions (jit/compile.ts) where they exist and compile hot blocks. Observable
   *  behaviour (output, icount, statistics, events) is the same either way. */
  jit: boolean;
  /** Set by a compiled region when it returns a block: JIT_LINK or JIT_INTERPRET. */
  jitMode = JIT_LINK;
  /** Set with JIT_LINK when the returned block has a valid link to the next block (this one). */
  jitNext: Block | null = null;
  /** With JIT_RESUME: the index in the returned block of the first instruction left to run. */
  jitPos = 0;
  /** The WebAssembly arena after this Cpu's memory (jit/wasm-arena.ts) holding r and the TLB,
   *  or null (plain memory, or no slot left): then only the JavaScript tier compiles. */
  readonly warena: WasmArena | null;
  /** This Cpu's id in the arena (link records name it), the arena as int32s and the index
   *  there of this Cpu's state words. */
  readonly wcpu: number = 0;
  readonly wst: Int32Array;
  readonly wsi: number = 0;
  /** Byte offset of rtag in the arena (the WebAssembly tier's TLB tags; wtag follows it). */
  rtagAt = 0;
  onStale: ((cpu: Cpu, lin: number, page: number, write: boolean) => void) | null = null;

  private readonly ibuf = new Uint8Array(16);
  private readonly xBlock = new Block();
  private readonly xInsn = new Insn(opUD);

  constructor(opts: CpuOptions) {
    this.mem = opts.mem;
    const buf = opts.mem.buffer;
    const words = Math.floor(opts.mem.byteLength / 4);
    this.m32 = new Int32Array(buf, opts.mem.byteOffset, words);
    this.dv = new DataView(buf, opts.mem.byteOffset, opts.mem.byteLength);
    const arena = arenaOf(opts.mem);
    const slot = arena === null ? null : arena.takeCpu();
    this.warena = slot === null ? null : arena;
    if (slot !== null && arena !== null) {
      this.wcpu = slot.id;
      this.wst = arena.i32;
      this.wsi = slot.base >>> 2; // unsigned: the slot lies past RAM, above 2 GiB when RAM is that large
      this.r = new Int32Array(arena.memory.buffer, slot.base, 9);
    } else {
      this.wst = new Int32Array(0);
      this.r = new Int32Array(9);
    }
    this.regs = this.r.subarray(0, 8);
    this.mmu = opts.mmu;
    this.io = opts.io;
    this.pic = opts.pic ?? null;
    this.code = opts.code ?? new CodeCache(opts.mem.byteLength);
    this.index = opts.index ?? 0;
    this.jit = opts.jit ?? jitDefault();
    this.tlb = slot === null || arena === null ? new Tlb() : new Tlb(arena.memory.buffer, slot.base + CPU_TLB_AT);
    if (arena !== null && slot !== null) this.code.onDrop = (blocks) => arena.dropBlocks(blocks);
    this.code.register(this.tlb);
    this.tlbOff = this.tlb.off;
    this.rtag = this.tlb.tagSR;
    this.wtag = this.tlb.tagSW;
    const self = this;
    this.stats = {
      exceptions: new Float64Array(32),
      get tlbHits(): number {
        return self.hits;
      },
      tlbMisses: 0,
      blocksDecoded: 0,
      interrupts: 0,
    };
    this.xBlock.insns.push(this.xInsn);
    this.xBlock.n = 1;
    this.reset();
  }

  get cpl(): number {
    return this._cpl;
  }
  set cpl(v: number) {
    this._cpl = v;
    this.tlb.epoch++;
    const u = v === 3;
    this.rtag = u ? this.tlb.tagUR : this.tlb.tagSR;
    this.wtag = u ? this.tlb.tagUW : this.tlb.tagSW;
    this.rtagAt = this.rtag.byteOffset;
    this.uacc = u ? ACC_USER : 0;
  }

  /** GUEST-ABI "State at entry": protected mode, paging off, IF=0, flat segments, CPL 0. */
  reset(): void {
    this.r.fill(0);
    this.eip = 0;
    this.curEip = 0;
    this.setEflags(2);
    this.cr0 = 0x11; // PE | ET
    this.cr2 = 0;
    this.cr3 = 0;
    this.cr4 = 0;
    this.cpl = 0;
    // Selectors as QEMU's multiboot loader leaves them.
    this.sreg[SEG_CS] = 0x10;
    this.sreg[SEG_ES] = this.sreg[SEG_SS] = this.sreg[SEG_DS] = this.sreg[SEG_FS] = this.sreg[SEG_GS] = 0x18;
    this.segHi.fill(0x00cf9300); // ring 0 data, as the loader's descriptors
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.gdtBase = 0;
    this.gdtLimit = 0;
    this.idtBase = 0;
    this.idtLimit = 0x3ff;
    this.trSel = this.trBase = this.trLimit = this.ldtSel = 0;
    this.halted = false;
    this.stopRequested = false;
    this.intShadow = false;
    this.shutdown = false;
    this.pendKind = EV_NONE;
    this.tlb.flushAll();
  }

  getEflags(): number {
    return this.eflRest | arithFlags(this);
  }

  setEflags(v: number): void {
    setArith(this, v);
    this.eflRest = (v & EFLAGS_WRITABLE & ~FL_ARITH) | 2;
  }

  vtime(): number {
    return this.icount + this.haltedTicks;
  }

  /**
   * Make icount exact in the middle of a block (before port I/O or RDTSC). Only time: EIP stays
   * NaN while a block runs unless a handler transfers control, because the loop takes a non-NaN
   * EIP as the target of a taken branch and would re-run the rest of the block from there.
   */
  syncTime(i: Insn): void {
    this.icount = this.blockBase + i.idx;
  }

  // ---- exceptions -------------------------------------------------------------------------

  /** Raise exception `vector` (errorCode -1: none) for the current instruction. */
  raise(vector: number, errorCode: number): never {
    this.excVector = vector;
    this.excError = errorCode;
    throw FAULT_SIGNAL;
  }

  /**
   * Queue an exception for the next run() (a hypervisor's fault path found a guest #PF for the
   * access that exited). When that exit interrupted the delivery of an event, the fault happened
   * during that delivery: the double-fault rules apply exactly as if the native walk had raised
   * it there, up to a triple fault, which the next run() reports.
   */
  injectException(vector: number, errorCode: number, cr2?: number): void {
    if (cr2 !== undefined) this.cr2 = cr2;
    this.halted = false;
    if (this.pendKind !== EV_NONE) {
      if (!faultDuringDelivery(this, vector, errorCode)) this.shutdown = true;
      return;
    }
    this.pendKind = EV_EXC;
    this.chainFirst = vector; // a fresh event: run() delivers it as a redelivery
    this.pendVector = vector;
    this.pendError = errorCode;
    this.pendEip = this.eip;
  }

  invalidateCode(page: number): void {
    if (this.code.codePages[page] !== 0) {
      this.code.invalidatePage(page);
      this.blockBreak = true;
    }
  }

  // ---- memory -----------------------------------------------------------------------------

  private checkStale(i: number, lin: number, write: boolean): void {
    const page = this.tlbOff[i] >>> 12;
    if (this.frameGen !== null && this.frameGen[page] !== this.tlb.gen[i] && this.onStale !== null) {
      this.onStale(this, lin, page, write);
    }
  }

  /**
   * Translate `lin` for an access of `size` bytes within one page: returns the backing byte
   * address, or -1 when not backed by memory. Raises #PF, or throws EXIT_SIGNAL.
   */
  xlate(lin: number, acc: number, size: number): number {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    const tlb = this.tlb;
    const user = (acc & ACC_USER) !== 0;
    const write = (acc & ACC_WRITE) !== 0;
    const rt = user ? tlb.tagUR : tlb.tagSR;
    const wt = user ? tlb.tagUW : tlb.tagSW;
    this.nocache = false;
    if (rt[i] !== vpn || (write && wt[i] !== vpn && !this.codeProtected(i, user))) {
      this.stats.tlbMisses++;
      this.xlateFlags = 0;
      const res = this.mmu.translate(this, lin, acc);
      if (res === XLATE_PF) {
        this.cr2 = lin;
        this.raise(14, this.pfErrorCode);
      }
      if (res === XLATE_EXIT) {
        this.exitLin = lin;
        this.exitAcc = acc;
        throw EXIT_SIGNAL;
      }
      if (res === XLATE_UNBACKED) return -1;
      if ((this.xlateFlags & TLB_NOCACHE) !== 0) {
        this.nocache = true;
        if (write) this.codeStore(this.xlatePage, lin & 0xfff, size);
        return this.xlatePage * 4096 + (lin & 0xfff);
      }
      if (rt[i] !== vpn || (write && wt[i] !== vpn && !this.codeProtected(i, user))) {
        throw new Error(`Mmu.translate returned XLATE_OK for ${lin >>> 0} (acc ${acc}) without filling the TLB`);
      }
    } else {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, write);
    }
    const off = this.tlbOff[i];
    if (write && wt[i] !== vpn) this.codeStore(off >>> 12, lin & 0xfff, size);
    return (off + (lin & 0xfff)) >>> 0;
  }

  /** Entry i lacks a write tag only because its page holds decoded code. */
  private codeProtected(i: number, user: boolean): boolean {
    const f = this.tlb.flags[i];
    return (f & TLB_WRITE) !== 0 && (!user || (f & TLB_USER) !== 0);
  }

  private codeStore(page: number, off: number, size: number): void {
    if (this.code.codePages[page] !== 0 && this.code.hits(page, off, size)) this.invalidateCode(page);
  }

  private load(a: number, size: number): number {
    if (size === 1) return this.mem[a];
    if (size === 2) return this.mem[a] | (this.mem[a + 1] << 8);
    return (a & 3) === 0 ? this.m32[a >>> 2] : this.dv.getInt32(a, true);
  }

  private store(a: number, size: number, v: number): void {
    if (size === 1) this.mem[a] = v;
    else if (size === 2) {
      this.mem[a] = v;
      this.mem[a + 1] = v >>> 8;
    } else if ((a & 3) === 0) this.m32[a >>> 2] = v;
    else this.dv.setInt32(a, v, true);
  }

  /** Read of `size` bytes with access bits `acc` (supervisor or user), any alignment. */
  readAcc(lin: number, size: number, acc: number): number {
    if ((lin & 0xfff) + size > 0x1000) {
      let v = 0;
      for (let k = 0; k < size; k++) {
        const a = this.xlate((lin + k) | 0, acc, 1);
        v |= (a < 0 ? 0xff : this.mem[a]) << (8 * k);
      }
      return size === 4 ? v | 0 : v;
    }
    const a = this.xlate(lin, acc, size);
    if (a < 0) return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
    return this.load(a, size);
  }

  /** Write of `size` bytes; a write across a page boundary translates both pages first. */
  writeAcc(lin: number, size: number, v: number, acc: number): void {
    acc |= ACC_WRITE;
    if ((lin & 0xfff) + size > 0x1000) {
      this.xlate(lin, acc, 0x1000 - (lin & 0xfff));
      this.xlate((lin + size - 1) & ~0xfff, acc, 1);
      for (let k = 0; k < size; k++) {
        const l = (lin + k) | 0;
        const a = this.xlate(l, acc, 1);
        if (a >= 0) {
          this.mem[a] = v >>> (8 * k);
          if (this.nocache) this.mmu.trackedWrite(this, l, a, 1);
        }
      }
      return;
    }
    const a = this.xlate(lin, acc, size);
    if (a < 0) return;
    this.store(a, size, v);
    if (this.nocache) this.mmu.trackedWrite(this, lin, a, size);
  }

  /** Make sure a write to `lin` will not fault (used before multi-part stores commit). */
  probeWrite(lin: number, acc: number): void {
    this.xlate(lin, acc | ACC_WRITE, 1);
  }

  /**
   * Before a read-modify-write of `size` bytes at `lin` reads: make sure neither its read nor
   * its write-back can fault. The read's checks come first, page by page, then the write's, as
   * QEMU's load-then-store does (GUEST-ABI: QEMU is the oracle): a page not present, or
   * supervisor-only from ring 3, faults with W=0; a read-only page faults with W=1 after the
   * read set its accessed bit. (Intel hardware reports W=1 for both; pgmap holds us to QEMU.)
   */
  probeRmw(lin: number, size: number, acc: number): void {
    const cross = (lin & 0xfff) + size > 0x1000;
    const last = (lin + size - 1) & ~0xfff;
    this.xlate(lin, acc, 1);
    if (cross) this.xlate(last, acc, 1);
    this.xlate(lin, acc | ACC_WRITE, 1);
    if (cross) this.xlate(last, acc | ACC_WRITE, 1);
  }

  rd8(lin: number): number {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.rtag[i] === vpn) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, false);
      return this.mem[(this.tlbOff[i] + (lin & 0xfff)) >>> 0];
    }
    return this.readAcc(lin, 1, this.uacc);
  }

  rd16(lin: number): number {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.rtag[i] === vpn && (lin & 0xfff) !== 0xfff) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, false);
      const a = (this.tlbOff[i] + (lin & 0xfff)) >>> 0;
      return this.mem[a] | (this.mem[a + 1] << 8);
    }
    return this.readAcc(lin, 2, this.uacc);
  }

  rd32(lin: number): number {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.rtag[i] === vpn && (lin & 0xfff) <= 0xffc) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, false);
      const a = (this.tlbOff[i] + (lin & 0xfff)) >>> 0;
      return (a & 3) === 0 ? this.m32[a >>> 2] : this.dv.getInt32(a, true);
    }
    return this.readAcc(lin, 4, this.uacc);
  }

  wr8(lin: number, v: number): void {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.wtag[i] === vpn) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, true);
      this.mem[(this.tlbOff[i] + (lin & 0xfff)) >>> 0] = v;
      return;
    }
    this.writeAcc(lin, 1, v, this.uacc);
  }

  wr16(lin: number, v: number): void {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.wtag[i] === vpn && (lin & 0xfff) !== 0xfff) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, true);
      const a = (this.tlbOff[i] + (lin & 0xfff)) >>> 0;
      this.mem[a] = v;
      this.mem[a + 1] = v >>> 8;
      return;
    }
    this.writeAcc(lin, 2, v, this.uacc);
  }

  wr32(lin: number, v: number): void {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.wtag[i] === vpn && (lin & 0xfff) <= 0xffc) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, lin, true);
      const a = (this.tlbOff[i] + (lin & 0xfff)) >>> 0;
      if ((a & 3) === 0) this.m32[a >>> 2] = v;
      else this.dv.setInt32(a, v, true);
      return;
    }
    this.writeAcc(lin, 4, v, this.uacc);
  }

  /** Backing address remembered by rdW32 for wrW32 (-1: go through wr32). */
  private rmwAddr = -1;

  /** Read a dword that the same instruction will write back (RMW): write permission is
   *  checked before the value is used (probeRmw), so the write-back cannot fault after flags
   *  changed. Pair with wrW32. */
  rdW32(lin: number): number {
    const vpn = lin >>> 12;
    const i = vpn & TLB_MASK;
    if (this.wtag[i] === vpn && (lin & 0xfff) <= 0xffc && this.frameGen === null) {
      this.hits++;
      const a = (this.tlbOff[i] + (lin & 0xfff)) >>> 0;
      this.rmwAddr = a;
      return (a & 3) === 0 ? this.m32[a >>> 2] : this.dv.getInt32(a, true);
    }
    this.rmwAddr = -1;
    this.probeRmw(lin, 4, this.uacc);
    return this.rd32(lin);
  }

  wrW32(lin: number, v: number): void {
    const a = this.rmwAddr;
    if (a >= 0) {
      if ((a & 3) === 0) this.m32[a >>> 2] = v;
      else this.dv.setInt32(a, v, true);
    } else this.wr32(lin, v);
  }

  /** Sized access helpers (size in bytes). */
  rd(size: number, lin: number): number {
    return size === 4 ? this.rd32(lin) : size === 2 ? this.rd16(lin) : this.rd8(lin);
  }

  wr(size: number, lin: number, v: number): void {
    if (size === 4) this.wr32(lin, v);
    else if (size === 2) this.wr16(lin, v);
    else this.wr8(lin, v);
  }

  push32(v: number): void {
    const sp = (this.r[4] - 4) | 0;
    this.wr32(sp, v);
    this.r[4] = sp;
  }

  pop32(): number {
    const v = this.rd32(this.r[4]);
    this.r[4] = (this.r[4] + 4) | 0;
    return v;
  }

  // ---- fetch and decode -------------------------------------------------------------------

  /** The decoded block at this.eip (decoding it if needed). */
  private lookupBlock(): Block {
    const eip = this.eip;
    const vpn = eip >>> 12;
    const i = vpn & TLB_MASK;
    let base: number;
    if (this.rtag[i] === vpn) {
      this.hits++;
      if (this.frameGen !== null) this.checkStale(i, eip, false);
      base = this.tlbOff[i] >>> 0;
    } else {
      this.curEip = eip;
      const a = this.xlate(eip, ACC_FETCH | this.uacc, 1);
      // Fetching from no memory reads all ones: FF FF is an invalid encoding.
      if (a < 0) this.raise(6, -1);
      base = a - (eip & 0xfff);
    }
    const t = this.code.pages[base >>> 12];
    if (t !== undefined) {
      const b = t[eip & 0xfff];
      if (b !== undefined) return b;
    }
    return this.buildBlock(eip, base);
  }

  private buildBlock(eip: number, base: number): Block {
    this.code.flushIfFull();
    const start = eip & 0xfff;
    const mem = this.mem;
    const b = new Block();
    let p = start;
    while (p < 0x1000 && b.n < MAX_BLOCK) {
      const ins = new Insn(opUD);
      const len = decodeInsn(ins, mem, base + p, base + 0x1000);
      if (len < 0) break; // runs past the page: ends the block (or is decoded alone below)
      ins.boff = p - start;
      ins.next = ins.boff + len;
      ins.idx = b.n;
      ins.hid = hotId(ins.fn);
      b.insns.push(ins);
      b.n++;
      p += len;
      if (ins.term) break;
    }
    if (b.n === 0) return this.crossingBlock(eip, base);
    b.bytes = p - start;
    b.page = base >>> 12;
    b.poff = start;
    this.code.table(base >>> 12)[start] = b;
    this.code.markCode(base >>> 12, start, p, b.n);
    this.stats.blocksDecoded++;
    return b;
  }

  /** An instruction that straddles two pages: decoded each time, never cached. */
  private crossingBlock(eip: number, base: number): Block {
    const buf = this.ibuf;
    const first = 0x1000 - (eip & 0xfff);
    for (let k = 0; k < first; k++) buf[k] = this.mem[base + (eip & 0xfff) + k];
    const next = (eip + first) | 0;
    this.curEip = eip;
    const a = this.xlate(next, ACC_FETCH | this.uacc, 1);
    for (let k = first; k < 15; k++) buf[k] = a < 0 ? 0xff : this.mem[a + k - first];
    const ins = this.xInsn;
    const len = decodeInsn(ins, buf, 0, 15);
    ins.boff = 0;
    ins.idx = 0;
    if (len < 0) {
      ins.fn = opUD;
      ins.len = 15;
    }
    ins.next = ins.len;
    ins.hid = hotId(ins.fn);
    return this.xBlock;
  }

  // ---- the run loop -----------------------------------------------------------------------

  private irqDeliverable(): boolean {
    return this.irqLine && this.pic !== null && (this.eflRest & FL_IF) !== 0;
  }

  run(maxInsns: number): number {
    if (this.shutdown) return EXIT_TRIPLE_FAULT;
    const end = this.icount + maxInsns;
    try {
      if (this.pendKind !== EV_NONE) {
        this.halted = false;
        deliverEvent(this, this.pendVector, this.pendError, this.pendKind, this.pendEip);
      }
      for (;;) {
        if (this.stopRequested) {
          this.stopRequested = false;
          return EXIT_STOP;
        }
        let shadow = false;
        if (this.intShadow) {
          // The shadow covers the next instruction, whichever slice runs it: a slice that ends
          // right after STI keeps it, or the next one would take an IRQ before that instruction.
          if (end - this.icount <= 0) return EXIT_BUDGET;
          this.intShadow = false;
          shadow = this.irqLine;
        } else if (this.irqDeliverable()) {
          // A breakpoint on the instruction the interrupt comes before stops first. (An event
          // pending at run()'s start needs no such check: its instruction was reached already.)
          if (this.breakAt !== null && breakHere(this, this.eip)) return EXIT_STOP;
          this.halted = false;
          const v = (this.pic as InterruptController).acknowledge();
          this.stats.interrupts++;
          deliverEvent(this, v, -1, EV_IRQ, this.eip);
        }
        if (this.halted) return EXIT_HLT;
        const left = end - this.icount;
        if (left <= 0) return EXIT_BUDGET;
        if ((this.eflRest & FL_TF) !== 0) this.singleStep();
        // Inside an interrupt shadow with an IRQ waiting: exactly one instruction, then deliver.
        else this.execBlocks(shadow ? this.icount + 1 : end);
        if (this.halted) return EXIT_HLT;
      }
    } catch (x) {
      if (x === EXIT_SIGNAL) return EXIT_MMU;
      if (x === TRIPLE_SIGNAL) {
        this.shutdown = true;
        return EXIT_TRIPLE_FAULT;
      }
      throw x;
    }
  }

  /**
   * EFLAGS.TF is set as the next instruction begins: run it alone, then raise the single-step
   * trap (#DB, EIP after it, DR6.BS set), as QEMU does. No trap when the instruction did not
   * complete, raised an event of its own (a fault; INT n, whose gate clears TF), loaded SS (the
   * trap comes after the next instruction instead) or halted. One REP iteration is one
   * instruction here (the slice ends after it), so a REP traps per iteration with EIP still on
   * it. A POPF or IRET that sets TF is not traced; one that clears it is. #DB is not in
   * GUEST-ABI's list of exceptions; a guest that sets TF sees what it would see on QEMU
   * (cputest's single-step group).
   */
  private singleStep(): void {
    const ic = this.icount;
    const events = this.deliveries;
    this.noStepTrap = false;
    this.execBlocks(this.icount + 1);
    if (this.icount === ic || this.deliveries !== events || this.noStepTrap || this.halted) return;
    this.dr[6] |= DR6_BS;
    this.curEip = this.eip;
    deliverEvent(this, 1, -1, EV_EXC, this.eip);
  }

  /** The arena stamp of block b's links (WasmArena.stamp) when they were made by this Cpu under
   *  its current TLB epoch and invalidation count, else 0 (never valid). */
  linkStamp(b: Block): number {
    const a = this.warena;
    if (a === null || b.linkCpu !== this || b.linkTlb !== this.tlb.epoch || b.linkCode !== this.code.invalidations) return 0;
    return a.stamp(this.wcpu, this.tlb.epoch, this.code.invalidations);
  }

  /** The instruction at curEip threw (icount, curEip and eip already name it, by the
   *  interpreter's catch or by a compiled region): deliver its exception, or pass an error on. */
  private instructionFault(x: unknown): void {
    if (x === FAULT_SIGNAL) {
      deliverEvent(this, this.excVector, this.excError, EV_EXC, this.curEip);
      return;
    }
    if (x instanceof GuestError) x.message += ` (EIP 0x${(this.curEip >>> 0).toString(16)})`;
    throw x;
  }

  /** The fetch of a block faulted: deliver the exception (EIP is the fetch address). */
  private fetchFault(x: unknown): void {
    if (x !== FAULT_SIGNAL) throw x;
    this.curEip = this.eip;
    deliverEvent(this, this.excVector, this.excError, EV_EXC, this.eip);
  }

  /**
   * Execute blocks, following block links, until icount reaches `end` or an instruction sets
   * blockBreak (anything that needs the outer loop: HLT, port I/O, IF changes, SMC, mode changes).
   */
  private execBlocks(end: number): void {
    this.sliceEnd = end;
    let b: Block;
    try {
      b = this.lookupBlock();
    } catch (x) {
      this.fetchFault(x);
      return;
    }
    const tlb = this.tlb;
    const code = this.code;
    for (;;) {
      // A compiled region runs whole blocks (it hands a block it cannot finish back to the
      // interpreter, JIT_INTERPRET) and follows valid links inside itself exactly as below.
      let compiled = false;
      let resume = false;
      if (b.jfn !== null && this.jit && this.frameGen === null && this.breakAt === null && end - this.icount >= b.n) {
        let nb: Block | null;
        try {
          nb = b.jfn(this, end, b.jpc);
        } catch (x) {
          this.instructionFault(x);
          return;
        }
        if (nb === null) return;
        b = nb;
        compiled = this.jitMode === JIT_LINK;
        resume = this.jitMode === JIT_RESUME;
        const next = this.jitNext;
        if (next !== null) {
          // The region found a valid link from b: the step below would take it, unchanged.
          this.jitNext = null;
          b = next;
          continue;
        }
      }
      if (!compiled) {
        // A WebAssembly region that stopped at instruction jitPos of block b (JIT_RESUME) hands
        // the rest of it over with the block's icount and address set up: go on from there.
        const base = resume ? this.blockBase : this.icount;
        this.blockBase = base;
        this.blockBreak = false;
        // | 0: an int, so beip stays a small-integer field (eip, NaN in blocks, is a double)
        const beip = (resume ? this.beip : this.eip) | 0;
        const insns = b.insns;
        const left = end - base;
        let n = b.n < left ? b.n : left;
        if (n <= 0) return;
        if (this.breakAt !== null) {
          n = breakLimit(this, b, beip, resume ? this.jitPos : 0, n);
          if (n < 0) return;
        }
        this.beip = beip;
        this.eip = NaN;
        let i = resume ? this.jitPos : 0;
        try {
          while (i < n) {
            const ins = insns[i];
            // One call site per hot form (hot-forms.ts): V8 calls or inlines each directly. The
            // forms that `continue` touch registers and flags only: they cannot set blockBreak.
            switch (ins.hid) {
              case 1: D.opMov32GM(this, ins); break;
              case 2: D.opMov32MG(this, ins); break;
              case 3: D.opMov32RR(this, ins); i++; continue;
              case 4: D.opMov32RI(this, ins); i++; continue;
              case 5: D.opMov8RR(this, ins); i++; continue;
              case 6: D.opMov8MG(this, ins); break;
              case 7: D.opMovEG(this, ins); break;
              case 8: D.opLea32(this, ins); i++; continue;
              case 9: D.opPush32R(this, ins); break;
              case 10: D.opPop32R(this, ins); break;
              case 11: A.opMovsx16M32(this, ins); break;
              case 12: A.opMovzx16R32(this, ins); i++; continue;
              case 13: A.opMovzx8M32(this, ins); break;
              case 14: A.opMovzx8R32(this, ins); i++; continue;
              case 15: A.opAdd32RR(this, ins); i++; continue;
              case 16: A.opAdd32RI(this, ins); i++; continue;
              case 17: A.opAdd32MG(this, ins); break;
              case 18: A.opAdd32MI(this, ins); break;
              case 19: A.opSub32RR(this, ins); i++; continue;
              case 20: A.opSub32RI(this, ins); i++; continue;
              case 21: A.opCmp32RR(this, ins); i++; continue;
              case 22: A.opCmp32RI(this, ins); i++; continue;
              case 23: A.opCmp32MG(this, ins); break;
              case 24: A.opAnd32RI(this, ins); i++; continue;
              case 25: A.opXor32RR(this, ins); i++; continue;
              case 26: A.opXor32RI(this, ins); i++; continue;
              case 27: A.opXor32GM(this, ins); break;
              case 28: A.opTest32RR(this, ins); i++; continue;
              case 29: A.opInc32R(this, ins); i++; continue;
              case 30: A.opDec32R(this, ins); i++; continue;
              case 31: A.opIncDec32M(this, ins); break;
              case 32: A.opNeg(this, ins); break;
              case 33: A.opAlu8RR(this, ins); i++; continue;
              case 34: A.opAlu8RI(this, ins); i++; continue;
              case 35: A.opTest8RR(this, ins); i++; continue;
              case 36: A.opCmp8MG(this, ins); break;
              case 37: A.opCmp8MI(this, ins); break;
              case 38: A.opShl32RI(this, ins); i++; continue;
              case 39: A.opShr32RI(this, ins); i++; continue;
              case 40: A.opSar32RI(this, ins); i++; continue;
              case 41: A.opShift(this, ins); break;
              case 42: A.opImul32GE(this, ins); break;
              case 43: A.opImulGEI(this, ins); break;
              case 44: A.opMul(this, ins); break;
              case 45: A.opSetccR(this, ins); i++; continue;
              case 46: B.opJz(this, ins); break;
              case 47: B.opJnz(this, ins); break;
              case 48: B.opJb(this, ins); break;
              case 49: B.opJae(this, ins); break;
              case 50: B.opJbe(this, ins); break;
              case 51: B.opJa(this, ins); break;
              case 52: B.opJl(this, ins); break;
              case 53: B.opJge(this, ins); break;
              case 54: B.opJle(this, ins); break;
              case 55: B.opJg(this, ins); break;
              case 56: B.opJmp(this, ins); break;
              case 57: B.opJmpE(this, ins); break;
              case 58: B.opCall(this, ins); break;
              case 59: B.opCallE(this, ins); break;
              case 60: B.opRet(this, ins); break;
              default: ins.fn(this, ins);
            }
            i++;
            // !== false: one comparison (a plain test compiles to a generic ToBoolean).
            if (this.blockBreak !== false) break;
          }
        } catch (x) {
          // The faulting instruction does not retire and restarts at its own address.
          this.icount = this.blockBase + i;
          this.curEip = (beip + insns[i].boff) | 0;
          this.eip = this.curEip;
          this.instructionFault(x);
          return;
        }
        this.icount = this.blockBase + i;
        // eip !== eip: NaN, no branch was taken; continue after the last executed instruction.
        if (this.eip !== this.eip) this.eip = (beip + insns[i - 1].next) | 0;
        if (this.breakAt !== null) this.breakLast = (beip + insns[i - 1].boff) >>> 0;
        if (this.blockBreak !== false || i < b.n) return;
        if (this.jit && b.jfn === null) {
          const h = ++b.hot;
          if ((h === jitTuning.hot || (h === jitTuning.wasmHot && this.warena !== null)) && b.page >= 0 && this.frameGen === null) {
            if (!compileRegion(this, b, h === jitTuning.hot)) b.hot = 0;
          }
        }
      }
      const eip = this.eip;
      let nb: Block | null = null;
      // With the stale-access detector on, every fetch goes through the TLB check: no links.
      if (b.linkCpu === this && b.linkTlb === tlb.epoch && b.linkCode === code.invalidations && this.frameGen === null) {
        if (b.l0eip === eip) nb = b.l0;
        else if (b.l1eip === eip) nb = b.l1;
      } else {
        b.linkCpu = this;
        b.linkTlb = tlb.epoch;
        b.linkCode = code.invalidations;
        b.l0eip = b.l1eip = -1;
        b.l0 = b.l1 = null;
        if (b.wslot >= 0 && this.warena !== null) this.warena.mirrorLinks(b, this.linkStamp(b));
      }
      if (nb === null) {
        try {
          nb = this.lookupBlock();
        } catch (x) {
          this.fetchFault(x);
          return;
        }
        // Crossing blocks are scratch objects: never link to them. The lookup may itself have
        // flushed or invalidated (a fill cannot), so re-check the epoch before linking.
        if (nb !== this.xBlock && b.linkTlb === tlb.epoch && b.linkCode === code.invalidations) {
          if (b.l0eip === -1) {
            b.l0eip = eip;
            b.l0 = nb;
          } else {
            b.l1eip = eip;
            b.l1 = nb;
          }
          if (b.wslot >= 0 && this.warena !== null) this.warena.mirrorLinks(b, this.linkStamp(b));
        }
      }
      b = nb;
    }
  }
}

export { GuestError };
