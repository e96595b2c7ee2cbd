// Read and access watchpoints (gdb's rwatch / awatch, Z3 / Z4) without touching the processor:
// before a vCPU executes its next instruction, the stub decodes it from guest memory (read
// without side effects) with the processor's own decoder and computes where its explicit memory
// operand lies (ModRM or moffs) and whether the instruction reads it. x86 debug registers report
// such a hit after the instruction, and so does the stub. Implicit operands (the stack of PUSH,
// POP, CALL, RET; ESI/EDI of string instructions) are not seen: a documented limit.

import type { Cpu } from '../../cpu/cpu.js';
import { decodeInsn, opUD } from '../../cpu/decode.js';
import { Insn } from '../../cpu/insn.js';
import { readVirtualInto, type GuestPhys } from './guest-peek.js';

export interface OperandAccess {
  addr: number;
  size: number;
  /** The instruction reads the operand (false: it only stores to it). */
  read: boolean;
}

const PREFIXES = new Set([0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]);
/** One-byte opcodes that only store to their memory operand: MOV Eb/Ev,Gb/Gv; MOV Ev,Sreg; POP Ev; MOV Eb/Ev,imm; MOV moffs,AL/eAX. */
const STORE_ONLY = new Set([0x88, 0x89, 0x8c, 0x8f, 0xc6, 0xc7, 0xa2, 0xa3]);

const scratch = new Insn(opUD);
/** The next instruction's bytes, read again before every unit (no allocation per instruction). */
const code = new Uint8Array(16);

/** Bytes the memory operand spans: the operand size, except where the decoder keeps the source
 *  size elsewhere (MOVZX/MOVSX: the byte or word it reads, in imm2; SETcc writes one byte). */
function memSize(op2: number | undefined): number {
  if (op2 === 0xb6 || op2 === 0xbe) return 1;
  if (op2 === 0xb7 || op2 === 0xbf) return 2;
  return scratch.osz;
}

/** The explicit memory operand of the instruction at cpu.eip, or null (none, or unreadable). */
export function nextOperandAccess(cpu: Cpu, phys: GuestPhys): OperandAccess | null {
  const n = readVirtualInto(cpu, phys, cpu.eip >>> 0, code, 16);
  if (n === 0 || decodeInsn(scratch, code, 0, n) < 0) return null;
  let p = 0;
  while (p < n && PREFIXES.has(code[p]!)) p++;
  const op = p < n ? code[p] : undefined;
  const op2 = op === 0x0f && p + 1 < n ? code[p + 1] : undefined;
  if (op === undefined) return null;
  if (op >= 0xa0 && op <= 0xa3) return { addr: scratch.disp >>> 0, size: scratch.osz, read: op < 0xa2 };
  if (!scratch.mem) return null;
  // LEA, and the 0F-page forms that name memory without accessing it (NOP Ev, prefetch, INVLPG).
  if (op === 0x8d || op2 === 0x1f || op2 === 0x18 || (op2 === 0x01 && scratch.reg === 7)) return null;
  const r = cpu.r;
  const addr = ((r[scratch.base]! + (r[scratch.index]! << scratch.scale) + scratch.disp) & scratch.amask) >>> 0;
  const storeOnly = STORE_ONLY.has(op) || (op2 !== undefined && op2 >= 0x90 && op2 <= 0x9f);
  return { addr, size: memSize(op2), read: !storeOnly };
}
