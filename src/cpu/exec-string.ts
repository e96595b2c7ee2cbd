// String instruction handlers (MOVS CMPS STOS LODS SCAS INS OUTS) with REP/REPE/REPNE. A REP
// instruction runs to completion as one retired instruction; every iteration commits ESI/EDI/ECX,
// so a fault or MMU exit mid-way restarts the instruction with exactly the remaining work.

import type { Cpu } from './cpu.js';
import { alu } from './exec-alu.js';
import { FL_DF } from './flags.js';
import type { Insn } from './insn.js';
import { getReg, setReg } from './operands.js';
import { TLB_MASK } from './tlb.js';
import { checkIoPrivilege } from './exec-system.js';

/** Elements a REP instruction processes before yielding to the run loop (it then resumes at the
 *  same instruction, as after an interrupt): bounds the time between budget/IRQ/stop checks. */
const REP_CHUNK = 1 << 16;

/** Leave the REP instruction unfinished: it retires a chunk and re-executes for the rest. */
function repYield(c: Cpu, i: Insn): void {
  c.eip = (c.beip + i.boff) | 0;
  c.blockBreak = true;
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
  let done = 0;
  while (r[1] !== 0) {
    if (done >= REP_CHUNK) return repYield(c, i);
    if (d > 0 && r[1] >>> 0 > 8) {
      const n = bulkCopy(c, s);
      done += n;
      if (n > 0) continue;
    }
    done++;
    c.wr(s, r[7], c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
  }
}

/**
 * Forward REP MOVS fast path: copy whole elements while both ESI and EDI stay inside pages that
 * hit the TLB (read for source, write for destination). Returns elements copied (0: none).
 */
function bulkCopy(c: Cpu, s: number): number {
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
  if (n === 0) return 0;
  const bytes = n * s;
  const src = c.tlbOff[sIdx] + (si & 0xfff);
  const dst = c.tlbOff[dIdx] + (di & 0xfff);
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
  let done = 0;
  while (r[1] !== 0) {
    if (done >= REP_CHUNK) return repYield(c, i);
    done++;
    if (d > 0 && r[1] >>> 0 > 8 && c.frameGen === null) {
      const di = r[7];
      const dv = di >>> 12;
      const idx = dv & TLB_MASK;
      if (c.wtag[idx] === dv) {
        let n = Math.floor((0x1000 - (di & 0xfff)) / s);
        const cnt = r[1] >>> 0;
        if (n > cnt) n = cnt;
        if (n > 0) {
          const dst = c.tlbOff[idx] + (di & 0xfff);
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
          continue;
        }
      }
    }
    c.wr(s, r[7], v);
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
  }
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
  let done = 0;
  while (r[1] !== 0) {
    if (++done > REP_CHUNK) return repYield(c, i);
    setReg(c, s, 0, c.rd(s, r[6]));
    r[6] = (r[6] + d) | 0;
    r[1] = (r[1] - 1) | 0;
  }
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
  let done = 0;
  while (r[1] !== 0) {
    if (++done > REP_CHUNK) return repYield(c, i);
    const a = c.rd(s, r[6]);
    const b = c.rd(s, r[7]);
    alu(c, 7, s >> 1, a, b);
    r[6] = (r[6] + d) | 0;
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    if ((c.fres === 0) !== wantZ) break;
  }
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
  let done = 0;
  while (r[1] !== 0) {
    if (++done > REP_CHUNK) return repYield(c, i);
    alu(c, 7, s >> 1, acc, c.rd(s, r[7]));
    r[7] = (r[7] + d) | 0;
    r[1] = (r[1] - 1) | 0;
    if ((c.fres === 0) !== wantZ) break;
  }
}

/** INS (6C 6D). */
export function opIns(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.syncTime(i);
  c.blockBreak = true;
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  let done = 0;
  do {
    if (i.rep !== 0 && r[1] === 0) break;
    if (++done > REP_CHUNK) return repYield(c, i);
    // Check the destination before the port is read: a port read may have side effects.
    c.probeWrite(r[7], c.uacc);
    const v = c.io.portIn(r[2] & 0xffff, s as 1 | 2 | 4);
    c.wr(s, r[7], v);
    r[7] = (r[7] + d) | 0;
    if (i.rep !== 0) r[1] = (r[1] - 1) | 0;
  } while (i.rep !== 0);
}

/** OUTS (6E 6F). */
export function opOuts(c: Cpu, i: Insn): void {
  checkIoPrivilege(c);
  c.syncTime(i);
  c.blockBreak = true;
  const s = i.osz;
  const d = (c.eflRest & FL_DF) !== 0 ? -s : s;
  const r = c.r;
  let done = 0;
  do {
    if (i.rep !== 0 && r[1] === 0) break;
    if (++done > REP_CHUNK) return repYield(c, i);
    const v = c.rd(s, r[6]);
    c.io.portOut(r[2] & 0xffff, s as 1 | 2 | 4, v & (s === 4 ? -1 : (1 << (s * 8)) - 1));
    r[6] = (r[6] + d) | 0;
    if (i.rep !== 0) r[1] = (r[1] - 1) | 0;
  } while (i.rep !== 0);
}
