// Backing memory that WebAssembly regions (wasm-region.ts) can address: guest (or host) RAM at
// offset 0 of a WasmMemory, and after it an arena holding what compiled code reads
// besides RAM: each Cpu's register file, lazy-flag record and TLB arrays, and a table that
// mirrors the interpreter's block links. There is no Linux/KVM counterpart; QEMU's TCG keeps
// CPUArchState and the softmmu TLB in host memory next to its generated code for the same reason.
//
// The memory never grows: growing would detach the ArrayBuffer under every typed-array view the
// interpreter holds. What does not fit (too many Cpus, block slots used up, RAM near 4 GiB) just
// is not compiled to WebAssembly: the JavaScript tier and the interpreter stay exact without it.

import type { Block } from '../insn.js';
import { WA, type WasmMemory, type WasmTable } from './wasm-encode.js';

/** Bytes of a Cpu's slot: its state words, then the six TLB arrays (tlb.ts) of 16 KiB each. */
export const CPU_SLOT_BYTES = 112 << 10;
/** Byte offset in a Cpu slot of the TLB arrays (tagSR, tagSW, tagUR, tagUW, off, add). */
export const CPU_TLB_AT = 256;
/** Int32 index, in a Cpu slot, of each state word. r[0..8] come first (Cpu.r). */
export const ST_FLAGS = 10; // fop fa fb fres fsz fcf fof faf: ST_FLAGS .. ST_FLAGS + 7
// ST_LEFT, ST_HITS: one little-endian i64 (wasm-emit.ts CNT). LEFT: units the slice has left
// before the block the call returned (LINK: after it); HITS: TLB hits in the call.
export const ST_LEFT = 20;
export const ST_HITS = 21;
export const ST_BEIP = 22; // that block's linear address
export const ST_NE = 23; // the next EIP after it (LINK)
export const ST_RID = 25; // the region the call ended in
export const ST_CHAINS = 28; // tail calls from one region into another in the call (statistics)
const MAX_CPUS = 64;

/** Link table: per block slot, LINK_WORDS int32 words mirroring Block's link fields. */
export const LINK_WORDS = 8;
/** The stamp (WasmArena.stamp) of the Cpu, TLB epoch and invalidation count the links were made
 *  under; 0: none. One word where the interpreter compares three (Cpu.execBlocks). */
export const LK_STAMP = 0;
export const LK_E0 = 1; // l0eip
export const LK_S0 = 2; // l0's slot, -1: none or not compiled
export const LK_E1 = 3;
export const LK_S1 = 4;
export const LK_RID = 5; // id of the WebAssembly region the block is compiled into
export const LK_PC = 6; // its case in that region
const MAX_SLOTS = 1 << 16;

export class WasmArena {
  readonly i32: Int32Array;
  /** Byte offset of the first Cpu slot and of the link table. */
  readonly cpuBase: number;
  readonly linkBase: number;
  private cpus = 0;
  private nextSlot = 0;
  private readonly freeSlots: number[] = [];
  /** Region ids: unique per arena, never 0; index of the region's function in `table` and of
   *  its blocks in `regionBlocks`. */
  private nextRid = 1;
  readonly regionBlocks: Block[][] = [[]];
  /** Every region's function at its id: a region goes on in another by a tail call through it. */
  readonly table: WasmTable;
  /** Per Cpu id: the TLB epoch and invalidation count its stamp stands for, and the stamp. */
  private readonly stampEpoch = new Float64Array(MAX_CPUS + 1).fill(-1);
  private readonly stampInv = new Float64Array(MAX_CPUS + 1).fill(-1);
  private readonly stamps = new Int32Array(MAX_CPUS + 1);
  private nextStamp = 1;
  /** dispatch(pc, stamp, eip, tags, st, rid): runs region rid from its case pc with the Cpu's
   *  GPRs and counters from slot st (see wasm-region.ts). */
  dispatch: ((...a: number[]) => number) | null = null;

  constructor(
    readonly memory: WasmMemory,
    ramBytes: number,
  ) {
    this.i32 = new Int32Array(memory.buffer);
    this.cpuBase = ramBytes;
    this.linkBase = ramBytes + MAX_CPUS * CPU_SLOT_BYTES;
    this.table = new WA.Table({ element: 'anyfunc', initial: 64 });
  }

  /** A Cpu slot's byte offset and 1-based id, or null when all are taken. */
  takeCpu(): { base: number; id: number } | null {
    if (this.cpus === MAX_CPUS) return null;
    const k = this.cpus++;
    return { base: this.cpuBase + k * CPU_SLOT_BYTES, id: k + 1 };
  }

  /** A link-table slot for a block that is being compiled, or -1 when all are taken. */
  takeSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    if (this.nextSlot === MAX_SLOTS) return -1;
    return this.nextSlot++;
  }

  /**
   * Give back the slots of the blocks of a dropped page. A stale reference to a reused slot is
   * never followed: the drop bumped the code cache's invalidation count, which every mirrored
   * link made before it records.
   */
  dropBlocks(blocks: ReadonlyArray<Block | undefined>): void {
    for (const b of blocks) {
      if (b !== undefined && b.wslot >= 0) {
        this.clearSlot(b.wslot);
        this.freeSlots.push(b.wslot);
        b.wslot = -1;
      }
    }
  }

  private clearSlot(s: number): void {
    this.i32.fill(0, (this.linkBase >>> 2) + s * LINK_WORDS, (this.linkBase >>> 2) + (s + 1) * LINK_WORDS);
  }

  /** Install a region's function and blocks; returns its id. `dispatcher` makes the bytes of
   *  the module that calls regions (instantiated with the first region). */
  addRegion(run: unknown, blocks: Block[], dispatcher: () => Uint8Array): number {
    if (this.dispatch === null) {
      const inst = new WA.Instance(new WA.Module(dispatcher()), { m: { mem: this.memory, tab: this.table } });
      this.dispatch = inst.exports.run as (...a: number[]) => number;
    }
    const rid = this.nextRid++;
    if (rid >= this.table.length) this.table.grow(this.table.length);
    this.table.set(rid, run);
    this.regionBlocks[rid] = blocks;
    return rid;
  }
  /**
   * Drop every region (the compiled-code cap was reached, compile.ts flushCompiled): their
   * blocks go back to the interpreter with their hot counts at 0, their link records say
   * "not compiled" (LK_RID 0, so no region tail-calls into them), and their functions leave the
   * table, so nothing holds the instances any more. Ids are not reused: a region's own code
   * names its id, and an id never comes to mean another region. Slots and mirrored links stay:
   * they are the interpreter's links, which a flush does not touch. Only while no region runs
   * (regions call no JavaScript, so never from inside one).
   */
  dropRegions(): void {
    for (let rid = 1; rid < this.nextRid; rid++) {
      const blocks = this.regionBlocks[rid];
      if (blocks === undefined || blocks.length === 0) continue;
      for (const b of blocks) {
        if (b.jreg !== -1) continue;
        b.jfn = null;
        b.jpc = 0;
        b.jreg = 0;
        b.hot = 0;
        if (b.wslot >= 0) this.setRegion(b.wslot, 0, 0);
      }
      this.regionBlocks[rid] = [];
      this.table.set(rid, null);
    }
  }

  /** Regions whose functions are still in the table (for tests and statistics). */
  /** Block slots in use (taken and not given back by dropBlocks). */
  slotsHeld(): number {
    return this.nextSlot - this.freeSlots.length;
  }

  liveRegions(): number {
    let n = 0;
    for (let rid = 1; rid < this.nextRid; rid++) if (this.table.get(rid) !== null) n++;
    return n;
  }

  /** The id the next addRegion will return (its code names itself). */
  peekRegionId(): number {
    return this.nextRid;
  }

  /**
   * The stamp of (Cpu cpuId, its TLB epoch, its code cache's invalidation count): a number no
   * other such triple has had in this arena, so a region tests a link's validity with one
   * comparison. Both counts only grow, so a triple never comes back once either has moved on.
   */
  stamp(cpuId: number, epoch: number, inv: number): number {
    if (this.stampEpoch[cpuId] !== epoch || this.stampInv[cpuId] !== inv) {
      if (this.nextStamp === 0x7fffffff) this.restamp();
      this.stampEpoch[cpuId] = epoch;
      this.stampInv[cpuId] = inv;
      this.stamps[cpuId] = this.nextStamp++;
    }
    return this.stamps[cpuId];
  }
  /** Stamps used up (2^31 epoch changes): no mirrored link is valid any more, start again. */
  private restamp(): void {
    const i = this.i32;
    for (let s = 0; s < this.nextSlot; s++) i[(this.linkBase >>> 2) + s * LINK_WORDS + LK_STAMP] = 0;
    this.stampEpoch.fill(-1);
    this.stampInv.fill(-1);
    this.nextStamp = 1;
  }

  /** Copy block b's link fields (set by Cpu.execBlocks) into its slot; `stamp` is what
   *  stamp() gave for the Cpu, epoch and count they were made under, 0 if those are past. */
  mirrorLinks(b: Block, stamp: number): void {
    const i = this.i32;
    const k = (this.linkBase >>> 2) + b.wslot * LINK_WORDS;
    i[k + LK_STAMP] = stamp;
    i[k + LK_E0] = b.l0eip;
    i[k + LK_S0] = this.slotOf(b.l0);
    i[k + LK_E1] = b.l1eip;
    i[k + LK_S1] = this.slotOf(b.l1);
  }

  /** A link target's slot, given to it now if it has none: its record says which region it is
   *  in (none until it is compiled), so a link made before the target was compiled is followed
   *  once it is, with no need to find and re-mirror the blocks that link to it. */
  private slotOf(t: Block | null): number {
    if (t === null) return -1;
    if (t.wslot < 0) t.wslot = this.takeSlot();
    return t.wslot;
  }

  /** Record that block slot s is case `pc` of region `rid`. */
  setRegion(s: number, rid: number, pc: number): void {
    const k = (this.linkBase >>> 2) + s * LINK_WORDS;
    this.i32[k + LK_RID] = rid;
    this.i32[k + LK_PC] = pc;
  }
}

const ARENA_BYTES = MAX_CPUS * CPU_SLOT_BYTES + MAX_SLOTS * LINK_WORDS * 4;
const arenas = new WeakMap<ArrayBufferLike, WasmArena>();

let wasmOk: boolean | null = null;
/** WebAssembly can be compiled here (a page's Content-Security-Policy may forbid it). */
export function wasmAvailable(): boolean {
  if (wasmOk === null) {
    try {
      // The smallest module: magic and version.
      new WA.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
      wasmOk = true;
    } catch {
      wasmOk = false;
    }
  }
  return wasmOk;
}

/**
 * RAM of `bytes` bytes, zeroed. With `forWasm` (the compiler is on) and WebAssembly available,
 * it is the start of a WebAssembly.Memory with an arena after it; else a plain ArrayBuffer.
 */
export function allocRam(bytes: number, forWasm: boolean): Uint8Array {
  const total = Math.ceil((bytes + ARENA_BYTES) / 65536);
  if (forWasm && wasmAvailable() && total <= 65536 && bytes % 4096 === 0) {
    try {
      const memory = new WA.Memory({ initial: total, maximum: total });
      arenas.set(memory.buffer, new WasmArena(memory, bytes));
      return new Uint8Array(memory.buffer, 0, bytes);
    } catch {
      // Out of address space for another memory: the JavaScript tier does without.
    }
  }
  return new Uint8Array(bytes);
}

/** The arena after `mem`, when mem was made by allocRam for WebAssembly. */
export function arenaOf(mem: Uint8Array): WasmArena | null {
  if (mem.byteOffset !== 0) return null;
  return arenas.get(mem.buffer) ?? null;
}
