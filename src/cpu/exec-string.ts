// String instruction handlers (MOVS CMPS STOS LODS SCAS INS OUTS) with REP/REPE/REPNE. Every
// iteration commits ESI/EDI/ECX, so a fault or MMU exit mid-way restarts the instruction with
// exactly the remaining work.
//
// Virtual time (see Cpu.icount): a REP instruction costs one unit per iteration, charged to
// cpu.blockBase as each iteration completes, so an exit or fault after k iterations has charged k
// and the resumed instruction charges the rest; the iteration count never depends on the Mmu.
// A REP instruction stops at the end of the slice (cpu.sliceEnd) and resumes there later, as after
// an interrupt, so budgets and timer deadlines fall on exactly the same iteration in every mode,
// and --max-insns bounds the wall time of a REP over any count. One that performed more than one
// iteration ends its block, whose remaining length was planned for one unit per instruction.

import type { Cpu } from './cpu.js';
import { alu } from './exec-alu.js';
import { FL_DF, FL_IF } from './flags.js';
import type { Insn } from './insn.js';
import { getReg, setReg } from './operands.js';
import { TLB_MASK } from './tlb.js';
import { checkIoPrivilege } from './exec-system.js';

/** Most iterations a REP instruction performs before yielding to the run loop (it then resumes at
 *  the same instruction): bounds the time between stop checks when a slice is unbounded. */
const REP_CHUNK = 1 << 16;

/** Iterations REP instruction `i` may perform before its slice ends (at least 1: the loop only
 *  starts an instruction below cpu.sliceEnd). */
function repRoom(c: Cpu, i: Insn): number {
  const room = c.sliceEnd - (c.blockBase + i.idx);
  return room < REP_CHUNK ? room : REP_CHUNK;
}

/** Leave the REP instruction unfinished after at least one charged iteration: it re-executes for
 *  the rest. The loop charges the instruction's unit, so one iteration is taken back here. */
function repYield(c: Cpu, i: Insn): void {
  c.blockBase--;
  c.eip = (c.beip + i.boff) | 0;
  c.blockBreak = true;
}

/** The REP instruction completed after `done` iterations, each already charged. */
function repDone(c: Cpu, done: number): void {
  if (done > 0) {
    c.blockBase--;
    if (done > 1) c.blockBreak = true;
  }
}

/** Port I/O of a REP INS/OUTS iteration made an interrupt deliverable or asked to stop: the run
 *  loop must see it before the next iteration, as after a single IN/OUT. */
function ioWantsLoop(c: Cpu): boolean {
  return c.stopRequested || (c.irqLine && (c.eflRest & FL_IF) !== 0);
}

/** MOVS (A4 A5). */
export function opMovs(c: Cpu, i: Insn): void {
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  if (i.rep === 0) {
    c.wr(s, r[7], c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    return;
  }
  const room = repRoom(c, i);
  let done = 0;
  while (r[1] !== 0) {
    if (done >= room) return repYield(c, i);
    if (d > 0 && r[1] >>> 0 > 8) {
      const n = bulkCopy(c, s, room - done);
      if (n > 0) {
        done += n;
        c.blockBase += n;
        continue;
      }
    }
    c.wr(s, r[7], c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
  }
  repDone(c, done);
}

/**
 * Forward REP MOVS fast path: copy whole elements while both ESI and EDI stay inside pages that
 * hit the TLB (read for source, write for destination), at most `max`. Returns elements copied
 * (0: none).
 */
function bulkCopy(c: Cpu, s: number, max: number): number {
  const r = c.r;
  const si = r[6];
  const di = r[7];
  const sv = si >>> 12;
  const dv = di >>> 12;
  const sIdx = sv & TLB_MASK;
  const dIdx = dv & TLB_MASK;
  if (c.rtag[sIdx] !== sv || c.wtag[dIdx] !== dv || c.frameGen !== null) return 0;
  const sRoom = 0x1000 - (si & 0xfff);
  const dRoom = 0x1000 - (di & 0xfff);
  let n = Math.floor(Math.min(sRoom, dRoom) / s);
  const cnt = r[1] >>> 0;
  if (n > cnt) n = cnt;
  if (n > max) n = max;
  if (n === 0) return 0;
  const bytes = n * s;
  const src = (c.tlbOff[sIdx] + (si & 0xfff)) >>> 0;
  const dst = (c.tlbOff[dIdx] + (di & 0xfff)) >>> 0;
  // Overlap closer than one element must replicate like the element loop: go element-wise.
  if (dst > src && dst < src + bytes) return 0;
  c.mem.copyWithin(dst, src, src + bytes);
  r[6] = (si + bytes) | 0;
  r[7] = (di + bytes) | 0;
  r[1] = (r[1] - n) | 0;
  return n;
}

/** STOS (AA AB). */
export function opStos(c: Cpu, i: Insn): void {
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  const v = getReg(c, s, 0);
  if (i.rep === 0) {
    c.wr(s, r[7], v);
    r[7] = (r[7] + d) | 0;
    return;
  }
  const room = repRoom(c, i);
  let done = 0;
  while (r[1] !== 0) {
    if (done >= room) return repYield(c, i);
    if (d > 0 && r[1] >>> 0 > 8 && c.frameGen === null) {
      const di = r[7];
      const dv = di >>> 12;
      const idx = dv & TLB_MASK;
      if (c.wtag[idx] === dv) {
        let n = Math.floor((0x1000 - (di & 0xfff)) / s);
        const cnt = r[1] >>> 0;
        if (n > cnt) n = cnt;
        if (n > room - done) n = room - done;
        if (n > 0) {
          const dst = (c.tlbOff[idx] + (di & 0xfff)) >>> 0;
          if (s === 1) c.mem.fill(v, dst, dst + n);
          else {
            for (let k = 0; k < n; k++) {
              const a = dst + k * s;
              c.mem[a] = v;
              c.mem[a + 1] = v >>> 8;
              if (s === 4) {
                c.mem[a + 2] = v >>> 16;
                c.mem[a + 3] = v >>> 24;
              }
            }
          }
          r[7] = (di + n * s) | 0;
          r[1] = (r[1] - n) | 0;
          done += n;
          c.blockBase += n;
          continue;
        }
      }
    }
    c.wr(s, r[7], v);
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
  }
  repDone(c, done);
}

/** LODS (AC AD). */
export function opLods(c: Cpu, i: Insn): void {
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  if (i.rep === 0) {
    setReg(c, s, 0, c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    return;
  }
  const room = repRoom(c, i);
  let done = 0;
  while (r[1] !== 0) {
    if (done >= room) return repYield(c, i);
    setReg(c, s, 0, c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
  }
  repDone(c, done);
}

/** CMPS (A6 A7). */
export function opCmps(c: Cpu, i: Insn): void {
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  if (i.rep === 0) {
    const a = c.rd(s, r[6]);
    const b = c.rd(s, r[7]);
    alu(c, 7, s >> 1, a, b);
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    return;
  }
  const wantZ = i.rep === 1;
  const room = repRoom(c, i);
  let done = 0;
  while (r[1] !== 0) {
    if (done >= room) return repYield(c, i);
    const a = c.rd(s, r[6]);
    const b = c.rd(s, r[7]);
    alu(c, 7, s >> 1, a, b);
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
    if ((c.fres === 0) !== wantZ) break;
  }
  repDone(c, done);
}

/** SCAS (AE AF). */
export function opScas(c: Cpu, i: Insn): void {
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  const acc = getReg(c, s, 0);
  if (i.rep === 0) {
    alu(c, 7, s >> 1, acc, c.rd(s, r[7]));
    r[7] = (r[7] + d) | 0;
    return;
  }
  const wantZ = i.rep === 1;
  const room = repRoom(c, i);
  let done = 0;
  while (r[1] !== 0) {
    if (done >= room) return repYield(c, i);
    alu(c, 7, s >> 1, acc, c.rd(s, r[7]));
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
    if ((c.fres === 0) !== wantZ) break;
  }
  repDone(c, done);
}

/** INS (6C 6D). */
export function opIns(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.blockBreak = true;
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  const room = i.rep === 0 ? 1 : repRoom(c, i);
  let done = 0;
  while (i.rep === 0 || r[1] !== 0) {
    if (done >= room || (done > 0 && ioWantsLoop(c))) return repYield(c, i);
    c.syncTime(i);
    // Check the destination before the port is read: a port read may have side effects.
    c.probeWrite(r[7], c.uacc);
    const v = c.io.portIn(r[2] & 0xffff, s as 1 | 2 | 4);
    c.wr(s, r[7], v);
    r[7] = (r[7] + d) | 0;
    if (i.rep === 0) return;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
  }
  repDone(c, done);
}

/** OUTS (6E 6F). */
export function opOuts(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.blockBreak = true;
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  const room = i.rep === 0 ? 1 : repRoom(c, i);
  let done = 0;
  while (i.rep === 0 || r[1] !== 0) {
    if (done >= room || (done > 0 && ioWantsLoop(c))) return repYield(c, i);
    c.syncTime(i);
    const v = c.rd(s, r[6]);
    c.io.portOut(r[2] & 0xffff, s as 1 | 2 | 4, v & (s === 4 ? -1 : (1 << (s * 8)) - 1));
    r[6] = (r[6] + d) | 0;
    if (i.rep === 0) return;
    r[1] = (r[1] - 1) | 0;
    done++;
    c.blockBase++;
  }
  repDone(c, done);
}
