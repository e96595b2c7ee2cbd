// The x86 instruction decoder: prefixes, opcode maps (one- and two-byte), ModRM/SIB/displacement
// and immediates, producing an Insn with its handler chosen once. Mirrors the role of QEMU's
// disas_insn / Blink's decoder; specialised handlers are picked for the common 32-bit forms.

import * as A from './exec-alu.js';
import * as B from './exec-branch.js';
import * as D from './exec-data.js';
import * as G from './exec-legacy.js';
import * as S from './exec-string.js';
import * as Y from './exec-system.js';
import type { Insn } from './insn.js';

export const opUD = Y.opUD;

const MAX_LEN = 15;

/** 16-bit ModRM rm -> base and index register (8: none). */
const RM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const RM16_INDEX = [6, 7, 6, 7, 8, 8, 8, 8];
/** One-byte opcodes whose implicit memory operands an address-size prefix changes and which
 *  are not supported with it (6C-6F INS/OUTS, A0-A3 moffs, A4-A7 and AA-AF string instructions,
 *  D7 XLAT): a bit per opcode, 32 to a word. LOOP/JCXZ count CX under it (Insn.amask). */
const ADDR16_IMPLICIT = (() => {
  const w = new Uint32Array(8);
  for (const op of [0x6c, 0x6d, 0x6e, 0x6f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xd7]) w[op >> 5]! |= 1 << (op & 31);
  return w;
})();

/** Jcc handlers by condition code at a 32-bit operand size (opJcc: the rare ones). */
const JCC32: readonly Insn['fn'][] = [
  B.opJcc, B.opJcc, B.opJb, B.opJae, B.opJz, B.opJnz, B.opJbe, B.opJa,
  B.opJcc, B.opJcc, B.opJcc, B.opJcc, B.opJl, B.opJge, B.opJle, B.opJg,
];

function jccHandler(cc: number, osz: number): Insn['fn'] {
  return osz === 2 ? B.opJccW : JCC32[cc];
}

/** Make a register-to-register G, E form (reg is the destination) an E, G one (rm is). */
function swapRegRm(ins: Insn): void {
  const t = ins.reg;
  ins.reg = ins.rm;
  ins.rm = t;
}

/**
 * Decode one instruction from src[start..end). Returns its length, or -1 when the bytes run out
 * before the instruction ends (it straddles the end of the page). Invalid encodings decode to a
 * handler raising #UD (or #GP for instructions longer than 15 bytes), never to an error.
 */
export function decodeInsn(ins: Insn, src: Uint8Array, start: number, end: number): number {
  let p = start;
  let short = false;
  const u8 = (): number => {
    if (p >= end) {
      short = true;
      return 0;
    }
    return src[p++];
  };
  const i8 = (): number => (u8() << 24) >> 24;
  const u16 = (): number => u8() | (u8() << 8);
  const i32 = (): number => u8() | (u8() << 8) | (u8() << 16) | (u8() << 24);

  ins.osz = 4;
  ins.rep = 0;
  ins.mem = false;
  ins.base = 8;
  ins.index = 8;
  ins.amask = -1;
  ins.scale = 0;
  ins.disp = 0;
  ins.imm = 0;
  ins.imm2 = 0;
  ins.op = 0;
  ins.reg = 0;
  ins.rm = 0;
  ins.term = false;
  ins.fn = Y.opUD;

  let addr16 = false;
  let lock = false;
  let op = 0;
  for (;;) {
    op = u8();
    if (short) return -1;
    if (p - start > MAX_LEN) {
      ins.fn = Y.opGP0;
      ins.term = true;
      ins.len = p - start;
      return ins.len;
    }
    if (op === 0x66) ins.osz = 2;
    else if (op === 0x67) addr16 = true;
    else if (op === 0xf3) ins.rep = 1;
    else if (op === 0xf2) ins.rep = 2;
    else if (op === 0xf0) lock = true;
    else if (op === 0x26 || op === 0x2e || op === 0x36 || op === 0x3e || op === 0x64 || op === 0x65) {
      // segment overrides: nothing to do in a flat world
    } else break;
  }
  const osz = ins.osz;
  const opAt = p; // the byte after the opcode: a 0F opcode's second byte

  let mod = 0;
  let mreg = 0; // the ModRM reg field, which group opcodes use as their operation
  const modrm = (): void => {
    const m = u8();
    mod = m >> 6;
    mreg = (m >> 3) & 7;
    ins.reg = mreg;
    const rm = m & 7;
    ins.op = ins.reg;
    if (mod === 3) {
      ins.rm = rm;
      ins.mem = false;
      return;
    }
    ins.mem = true;
    if (addr16) {
      // 16-bit addressing: [BX+SI] [BX+DI] [BP+SI] [BP+DI] [SI] [DI] [BP] [BX] (+disp8/disp16;
      // mod 0 rm 6 is disp16 alone), the sum wrapping at 64 KiB (amask).
      ins.amask = 0xffff;
      ins.scale = 0;
      ins.base = RM16_BASE[rm]!;
      ins.index = RM16_INDEX[rm]!;
      if (mod === 0 && rm === 6) {
        ins.base = 8;
        ins.disp = u16();
      } else if (mod === 1) ins.disp = i8();
      else if (mod === 2) ins.disp = u16();
      return;
    }
    if (rm === 4) {
      const sib = u8();
      ins.scale = sib >> 6;
      const idx = (sib >> 3) & 7;
      ins.index = idx === 4 ? 8 : idx;
      const base = sib & 7;
      if (base === 5 && mod === 0) {
        ins.base = 8;
        ins.disp = i32();
      } else ins.base = base;
    } else if (rm === 5 && mod === 0) {
      ins.base = 8;
      ins.disp = i32();
    } else ins.base = rm;
    if (mod === 1) ins.disp = i8();
    else if (mod === 2) ins.disp = i32();
  };
  const immv = (): number => (osz === 2 ? u16() : i32());
  const sized = (byteForm: boolean): number => (byteForm ? 1 : osz);
  const term = (): void => {
    ins.term = true;
  };

  if (op < 0x40 && (op & 7) < 6) {
    // ALU block: 00-3D.
    const aop = op >> 3;
    const form = op & 7;
    ins.op = aop;
    if (form < 4) {
      modrm();
      ins.op = aop;
      ins.osz = sized((form & 1) === 0);
      if (form < 2) {
        if (ins.osz === 4 && !ins.mem) ins.fn = A.alu32RR(aop);
        else if (ins.osz === 4) ins.fn = aop === 7 ? A.opCmp32MG : aop === 0 ? A.opAdd32MG : A.opAlu32MG;
        else if (ins.osz === 1 && !ins.mem) ins.fn = A.opAlu8RR;
        else if (ins.osz === 1 && aop === 7) ins.fn = A.opCmp8MG;
        else ins.fn = A.opAluEG;
      } else if (ins.osz !== 2 && !ins.mem) {
        swapRegRm(ins);
        ins.fn = ins.osz === 4 ? A.alu32RR(aop) : A.opAlu8RR;
      } else if (ins.osz === 4) ins.fn = A.alu32GM(aop);
      else ins.fn = A.opAluGE;
    } else {
      ins.osz = sized(form === 4);
      ins.imm = ins.osz === 1 ? u8() : immv();
      ins.rm = 0;
      ins.fn = ins.osz === 4 ? A.alu32RI(aop) : ins.osz === 1 && aop !== 2 && aop !== 3 ? A.opAlu8RI : A.opAluEI;
    }
  } else if (op >= 0x40 && op < 0x50) {
    ins.rm = op & 7;
    ins.op = (op >> 3) & 1;
    ins.fn = osz === 4 ? (ins.op === 0 ? A.opInc32R : A.opDec32R) : A.opIncDec;
  } else if (op >= 0x50 && op < 0x58) {
    ins.reg = op & 7;
    ins.fn = osz === 4 ? D.opPush32R : D.opPush;
  } else if (op >= 0x58 && op < 0x60) {
    ins.reg = op & 7;
    ins.fn = osz === 4 ? D.opPop32R : D.opPop;
  } else if (op >= 0x70 && op < 0x80) {
    ins.op = op & 15;
    ins.imm = i8();
    ins.fn = jccHandler(ins.op, osz);
    term();
  } else if (op >= 0x91 && op < 0x98) {
    ins.reg = 0;
    ins.rm = op & 7;
    ins.fn = D.opXchg;
  } else if (op >= 0xb0 && op < 0xc0) {
    ins.osz = op < 0xb8 ? 1 : osz;
    ins.rm = op & 7;
    ins.imm = ins.osz === 1 ? u8() : immv();
    ins.fn = ins.osz === 4 ? D.opMov32RI : D.opMovEI;
  } else if (op >= 0xd8 && op <= 0xdf) {
    // x87: no FPU.
    modrm();
    ins.fn = Y.opUD;
    term();
  } else {
    switch (op) {
      case 0x06:
      case 0x0e:
      case 0x16:
      case 0x1e:
        ins.reg = op >> 3;
        ins.fn = Y.opPushSreg;
        break;
      case 0x07:
      case 0x17:
      case 0x1f:
        ins.reg = op >> 3;
        ins.fn = Y.opPopSreg;
        term();
        break;
      case 0x0f:
        decode0F(ins, u8, i8, u16, i32, modrm, immv);
        break;
      case 0x60:
        ins.fn = D.opPusha;
        break;
      case 0x61:
        ins.fn = D.opPopa;
        break;
      case 0x68:
        ins.imm = immv();
        ins.op = 1;
        ins.fn = D.opPush;
        break;
      case 0x6a:
        ins.imm = i8();
        ins.op = 1;
        ins.fn = D.opPush;
        break;
      case 0x69:
      case 0x6b:
        modrm();
        ins.imm = op === 0x6b ? i8() : immv();
        ins.fn = A.opImulGEI;
        break;
      case 0x6c:
      case 0x6d:
        ins.osz = sized(op === 0x6c);
        ins.fn = S.opIns;
        term();
        break;
      case 0x6e:
      case 0x6f:
        ins.osz = sized(op === 0x6e);
        ins.fn = S.opOuts;
        term();
        break;
      case 0x80:
      case 0x81:
      case 0x82:
      case 0x83:
        modrm();
        ins.osz = sized(op === 0x80 || op === 0x82);
        ins.imm = ins.osz === 1 ? u8() : op === 0x83 ? (ins.osz === 2 ? i8() & 0xffff : i8()) : immv();
        if (ins.osz === 4 && !ins.mem) ins.fn = A.alu32RI(ins.op);
        else if (ins.osz === 4) ins.fn = ins.op === 7 ? A.opCmp32MI : ins.op === 0 ? A.opAdd32MI : A.opAlu32MI;
        else if (ins.osz === 1 && !ins.mem && ins.op !== 2 && ins.op !== 3) ins.fn = A.opAlu8RI;
        else if (ins.osz === 1 && ins.mem && ins.op === 7) ins.fn = A.opCmp8MI;
        else ins.fn = A.opAluEI;
        break;
      case 0x84:
      case 0x85:
        modrm();
        ins.osz = sized(op === 0x84);
        ins.fn = ins.mem || ins.osz === 2 ? A.opTestEG : ins.osz === 4 ? A.opTest32RR : A.opTest8RR;
        break;
      case 0x86:
      case 0x87:
        modrm();
        ins.osz = sized(op === 0x86);
        ins.fn = D.opXchg;
        break;
      case 0x88:
      case 0x89:
        modrm();
        ins.osz = sized(op === 0x88);
        if (ins.osz === 4) ins.fn = ins.mem ? D.opMov32MG : D.opMov32RR;
        else if (ins.osz === 1) ins.fn = ins.mem ? D.opMov8MG : D.opMov8RR;
        else ins.fn = D.opMovEG;
        break;
      case 0x8a:
      case 0x8b:
        modrm();
        ins.osz = sized(op === 0x8a);
        if (ins.osz !== 2 && !ins.mem) {
          swapRegRm(ins);
          ins.fn = ins.osz === 4 ? D.opMov32RR : D.opMov8RR;
        } else ins.fn = ins.osz === 4 ? D.opMov32GM : ins.osz === 1 ? D.opMov8GM : D.opMovGE;
        break;
      case 0x8c:
        modrm();
        ins.fn = ins.reg > 5 ? Y.opUD : Y.opMovESreg;
        break;
      case 0x8d:
        modrm();
        ins.fn = !ins.mem ? Y.opUD : osz === 4 ? D.opLea32 : D.opLea;
        break;
      case 0x8e:
        modrm();
        ins.fn = ins.reg > 5 || ins.reg === 1 ? Y.opUD : Y.opMovSregE;
        term();
        break;
      case 0x8f:
        modrm();
        ins.op = 2;
        ins.fn = ins.reg === 0 ? D.opPop : Y.opUD;
        break;
      case 0x90:
        ins.fn = D.opNop;
        break;
      case 0x98:
        ins.fn = A.opCbw;
        break;
      case 0x99:
        ins.fn = A.opCwd;
        break;
      case 0x9a:
      case 0xea:
        ins.imm = immv();
        ins.imm2 = u16();
        ins.op = op === 0x9a ? 1 : 0;
        ins.fn = B.opFarDirect;
        term();
        break;
      case 0x9b:
        ins.fn = D.opNop; // FWAIT: no FPU, nothing pending
        break;
      case 0x9c:
        ins.fn = Y.opPushf;
        break;
      case 0x9d:
        ins.fn = Y.opPopf;
        term();
        break;
      case 0x9e:
        ins.fn = A.opSahf;
        break;
      case 0x9f:
        ins.fn = A.opLahf;
        break;
      case 0xa0:
      case 0xa1:
      case 0xa2:
      case 0xa3:
        ins.osz = sized((op & 1) === 0);
        ins.disp = i32();
        ins.op = op < 0xa2 ? 0 : 1;
        ins.fn = D.opMovMoffs;
        break;
      case 0xa4:
      case 0xa5:
        ins.osz = sized(op === 0xa4);
        ins.fn = S.opMovs;
        break;
      case 0xa6:
      case 0xa7:
        ins.osz = sized(op === 0xa6);
        ins.fn = S.opCmps;
        break;
      case 0xa8:
      case 0xa9:
        ins.osz = sized(op === 0xa8);
        ins.imm = ins.osz === 1 ? u8() : immv();
        ins.rm = 0;
        ins.fn = ins.osz === 4 ? A.opTest32RI : A.opTestEI;
        break;
      case 0xaa:
      case 0xab:
        ins.osz = sized(op === 0xaa);
        ins.fn = S.opStos;
        break;
      case 0xac:
      case 0xad:
        ins.osz = sized(op === 0xac);
        ins.fn = S.opLods;
        break;
      case 0xae:
      case 0xaf:
        ins.osz = sized(op === 0xae);
        ins.fn = S.opScas;
        break;
      case 0xc0:
      case 0xc1:
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3:
        modrm();
        ins.osz = sized((op & 1) === 0);
        if (op < 0xd0) ins.imm = u8();
        else if (op < 0xd2) ins.imm = 1;
        else ins.imm2 = 1;
        ins.fn = A.opShift;
        if (ins.osz === 4 && !ins.mem && ins.imm2 === 0 && (ins.imm & 31) !== 0) {
          ins.imm &= 31;
          if (ins.op === 4 || ins.op === 6) ins.fn = A.opShl32RI;
          else if (ins.op === 5) ins.fn = A.opShr32RI;
          else if (ins.op === 7) ins.fn = A.opSar32RI;
        }
        break;
      case 0xc2:
        ins.imm = u16();
        ins.fn = B.opRet;
        term();
        break;
      case 0xc3:
        ins.fn = B.opRet;
        term();
        break;
      case 0xc6:
      case 0xc7:
        modrm();
        ins.osz = sized(op === 0xc6);
        ins.imm = ins.osz === 1 ? u8() : immv();
        if (ins.reg !== 0) ins.fn = Y.opUD;
        else ins.fn = ins.osz === 4 ? (ins.mem ? D.opMov32MI : D.opMov32RI) : D.opMovEI;
        break;
      case 0xc8:
        ins.imm = u16();
        ins.imm2 = u8();
        ins.fn = D.opEnter;
        break;
      case 0xc9:
        ins.fn = D.opLeave;
        break;
      case 0xca:
        ins.imm = u16();
        ins.fn = B.opRetf;
        term();
        break;
      case 0xcb:
        ins.fn = B.opRetf;
        term();
        break;
      case 0xcc:
        ins.imm = 3;
        ins.fn = Y.opInt;
        term();
        break;
      case 0xcd:
        ins.imm = u8();
        ins.fn = Y.opInt;
        term();
        break;
      case 0xce:
        ins.imm = 4;
        ins.op = 1;
        ins.fn = Y.opInt;
        term();
        break;
      case 0xcf:
        ins.fn = Y.opIret;
        term();
        break;
      case 0xd7:
        ins.fn = A.opXlat;
        break;
      case 0xe0:
      case 0xe1:
      case 0xe2:
      case 0xe3:
        ins.imm = i8();
        ins.op = op === 0xe0 ? 2 : op === 0xe1 ? 1 : op === 0xe2 ? 0 : 3;
        if (addr16) ins.amask = 0xffff; // the counter is CX
        ins.fn = B.opLoop;
        term();
        break;
      case 0xe4:
      case 0xe5:
      case 0xe6:
      case 0xe7:
      case 0xec:
      case 0xed:
      case 0xee:
      case 0xef:
        ins.osz = sized((op & 1) === 0);
        if (op < 0xec) ins.imm = u8();
        ins.op = op < 0xec ? 0 : 1;
        ins.fn = (op & 2) === 0 ? Y.opIn : Y.opOut;
        term();
        break;
      case 0xe8:
        ins.imm = immv();
        ins.fn = B.opCall;
        term();
        break;
      case 0xe9:
        ins.imm = immv();
        ins.fn = B.opJmp;
        term();
        break;
      case 0xeb:
        ins.imm = i8();
        ins.fn = B.opJmp;
        term();
        break;
      case 0xf4:
        ins.fn = Y.opHlt;
        term();
        break;
      case 0xf5:
        ins.op = 0;
        ins.fn = A.opFlagOp;
        break;
      case 0xf8:
      case 0xf9:
        ins.op = op === 0xf8 ? 1 : 2;
        ins.fn = A.opFlagOp;
        break;
      case 0xfc:
      case 0xfd:
        ins.op = op === 0xfc ? 3 : 4;
        ins.fn = A.opFlagOp;
        break;
      case 0xfa:
        ins.fn = Y.opCli;
        term();
        break;
      case 0xfb:
        ins.fn = Y.opSti;
        term();
        break;
      case 0xf6:
      case 0xf7:
        modrm();
        ins.osz = sized(op === 0xf6);
        switch (ins.op) {
          case 0:
          case 1:
            ins.imm = ins.osz === 1 ? u8() : immv();
            ins.fn = A.opTestEI;
            break;
          case 2:
            ins.fn = A.opNot;
            break;
          case 3:
            ins.fn = A.opNeg;
            break;
          case 4:
            ins.fn = A.opMul;
            break;
          case 5:
            ins.fn = A.opImul1;
            break;
          case 6:
            ins.fn = A.opDiv;
            break;
          default:
            ins.fn = A.opIdiv;
        }
        break;
      case 0xfe:
        modrm();
        ins.osz = 1;
        ins.fn = ins.op < 2 ? A.opIncDec : Y.opUD;
        break;
      case 0xff:
        modrm();
        switch (ins.op) {
          case 0:
          case 1:
            ins.fn = osz === 4 && ins.mem ? A.opIncDec32M : A.opIncDec;
            break;
          case 2:
            ins.fn = B.opCallE;
            term();
            break;
          case 3:
          case 5:
            ins.op = ins.op === 3 ? 1 : 0;
            ins.fn = ins.mem ? B.opFarIndirect : Y.opUD;
            term();
            break;
          case 4:
            ins.fn = B.opJmpE;
            term();
            break;
          case 6:
            ins.op = 2;
            ins.fn = D.opPush;
            break;
          default:
            ins.fn = Y.opUD;
        }
        break;
      case 0x27:
      case 0x2f:
        ins.op = op >> 3 & 1;
        ins.fn = A.opDaa;
        break;
      case 0x37:
      case 0x3f:
        ins.op = op >> 3 & 1;
        ins.fn = A.opAaa;
        break;
      case 0xd4:
      case 0xd5:
        ins.op = op & 1;
        ins.imm = u8();
        ins.fn = A.opAam;
        break;
      case 0x62:
        modrm();
        ins.fn = ins.mem ? G.opBound : Y.opUD;
        break;
      case 0x63:
        modrm();
        ins.osz = 2;
        ins.fn = G.opArpl;
        break;
      case 0xc4:
      case 0xc5:
        // Without VEX (no AVX), a register form is LES/LDS with a register operand: #UD.
        modrm();
        ins.fn = ins.mem ? G.opLoadFarPtr : Y.opUD;
        ins.op = op === 0xc4 ? 0 : 3;
        term();
        break;
      case 0xd6:
        ins.fn = G.opSalc;
        break;
      default:
        // F1 (INT1) and other unassigned one-byte opcodes: #UD.
        ins.fn = Y.opUD;
    }
  }
  if (short) return -1;
  // 16-bit addressing is decoded for ModRM operands and LOOP/JCXZ's CX; the instructions whose
  // implicit addresses it changes (string instructions with SI/DI/CX, XLAT with BX, moffs with a
  // 16-bit offset) are not supported: #UD (gcc never emits an address-size prefix).
  if (addr16 && op !== 0x0f && (ADDR16_IMPLICIT[op >> 5]! & (1 << (op & 31))) !== 0) ins.fn = Y.opUD;
  // Atomicity costs nothing here (a vCPU runs a whole instruction at a time), but LOCK is #UD
  // on anything but a read-modify-write of memory by one of the SDM's lockable instructions.
  if (lock && !(ins.mem && lockable(op, op === 0x0f ? src[opAt] : 0, mreg))) ins.fn = Y.opUD;
  if (ins.fn === Y.opUD || ins.fn === Y.opGP0) ins.term = true;
  const len = p - start;
  if (len > MAX_LEN) {
    ins.fn = Y.opGP0;
    ins.term = true;
  }
  ins.len = len;
  return len;
}

/** May LOCK prefix opcode op (op2: a 0F opcode's second byte; reg: the ModRM reg field) when
 *  its destination is memory? (SDM vol. 2 "LOCK": ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B DEC
 *  INC NEG NOT OR SBB SUB XOR XADD XCHG.) */
function lockable(op: number, op2: number, reg: number): boolean {
  if (op === 0x0f) {
    if (op2 === 0xba) return reg >= 5;
    if (op2 === 0xc7) return reg === 1;
    return op2 === 0xab || op2 === 0xb3 || op2 === 0xbb || op2 === 0xb0 || op2 === 0xb1 || op2 === 0xc0 || op2 === 0xc1;
  }
  if (op < 0x38) return (op & 7) < 2; // the ALU block's E-destination forms, CMP excluded
  if (op >= 0x80 && op <= 0x83) return reg !== 7;
  if (op === 0x86 || op === 0x87) return true;
  if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3;
  return (op === 0xfe || op === 0xff) && reg < 2;
}

function decode0F(
  ins: Insn,
  u8: () => number,
  i8: () => number,
  u16: () => number,
  i32: () => number,
  modrm: () => void,
  immv: () => number,
): void {
  void i8;
  void u16;
  const op = u8();
  const osz = ins.osz;
  const term = (): void => {
    ins.term = true;
  };
  if (op >= 0x80 && op < 0x90) {
    ins.imm = osz === 2 ? (u16() << 16) >> 16 : i32();
    ins.op = op & 15;
    ins.fn = jccHandler(ins.op, osz);
    term();
    return;
  }
  if (op >= 0x40 && op < 0x50) {
    modrm();
    ins.op = op & 15;
    ins.fn = A.opCmov;
    return;
  }
  if (op >= 0x90 && op < 0xa0) {
    modrm();
    ins.op = op & 15;
    ins.osz = 1;
    ins.fn = ins.mem ? A.opSetcc : A.opSetccR;
    return;
  }
  if (op >= 0xc8 && op < 0xd0) {
    ins.rm = op & 7;
    ins.fn = A.opBswap;
    return;
  }
  if (op >= 0x18 && op < 0x20) {
    // Hint NOPs (multi-byte NOP 0F 1F /0, reserved hints). PREFETCHh (0F 18 /0-/3) names a
    // memory byte: a register operand is #UD, as on QEMU.
    modrm();
    ins.fn = op === 0x18 && !ins.mem && ins.op < 4 ? Y.opUD : D.opNop;
    return;
  }
  if (op === 0x0d) {
    // PREFETCH/PREFETCHW: a hint, run as a NOP (QEMU does); a register operand is #UD.
    modrm();
    ins.fn = ins.mem ? D.opNop : Y.opUD;
    return;
  }
  if (op === 0xae) {
    // LFENCE MFENCE SFENCE (0F AE E8/F0/F8 and the other register forms of /5 /6 /7): this CPU
    // performs every access in program order, so a fence has nothing to wait for. Hand-written
    // code uses them without checking CPUID (`lfence; rdtsc`), and QEMU runs them. The memory
    // forms (FXSAVE ... CLFLUSH) and the other register forms are FPU/SSE state: #UD.
    modrm();
    ins.fn = !ins.mem && ins.op >= 5 ? D.opNop : Y.opUD;
    return;
  }
  switch (op) {
    case 0x00:
      modrm();
      ins.osz = ins.mem ? 2 : osz;
      ins.fn = ins.op < 4 ? Y.opGroup6 : ins.op < 6 ? G.opVerify : Y.opUD;
      term();
      return;
    case 0x01:
      modrm();
      if (ins.op === 5 || (!ins.mem && ins.op !== 4 && ins.op !== 6)) ins.fn = Y.opUD;
      else ins.fn = Y.opGroup7;
      if (ins.op === 4 || ins.op === 6) ins.osz = ins.mem ? 2 : ins.osz;
      term();
      return;
    case 0x02:
    case 0x03:
      modrm();
      ins.op = op - 2;
      ins.fn = G.opLarLsl;
      return;
    case 0xb2:
    case 0xb4:
    case 0xb5:
      modrm();
      ins.fn = ins.mem ? G.opLoadFarPtr : Y.opUD;
      ins.op = op - 0xb0;
      term();
      return;
    case 0x06:
      ins.fn = Y.opClts;
      return;
    case 0x08:
    case 0x09:
      ins.fn = Y.opCacheCtl;
      return;
    case 0x0b:
      ins.fn = Y.opUD;
      return;
    case 0x20:
    case 0x22:
    case 0x21:
    case 0x23: {
      // MOV to/from CRn (20 22) or DRn (21 23): the ModRM mod field is ignored (always a
      // register, no SIB/disp). A CR write can change paging: it ends the block.
      const m = u8();
      ins.reg = (m >> 3) & 7;
      ins.rm = m & 7;
      ins.mem = false;
      ins.op = (op & 2) !== 0 ? 1 : 0;
      ins.fn = (op & 1) !== 0 ? Y.opMovDr : Y.opMovCr;
      if ((op & 1) === 0) term();
      return;
    }
    case 0x33:
      ins.fn = Y.opRdpmc;
      return;
    case 0x31:
      ins.fn = Y.opRdtsc;
      return;
    case 0xa2:
      ins.fn = Y.opCpuid;
      return;
    case 0xa0:
    case 0xa8:
      ins.reg = op === 0xa0 ? 4 : 5;
      ins.fn = Y.opPushSreg;
      return;
    case 0xa1:
    case 0xa9:
      ins.reg = op === 0xa1 ? 4 : 5;
      ins.fn = Y.opPopSreg;
      term();
      return;
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb:
      modrm();
      ins.op = op === 0xa3 ? 0 : op === 0xab ? 1 : op === 0xb3 ? 2 : 3;
      ins.fn = A.opBt;
      return;
    case 0xba:
      modrm();
      ins.imm = u8();
      ins.imm2 = 1;
      if (ins.op < 4) ins.fn = Y.opUD;
      else {
        ins.op -= 4;
        ins.fn = A.opBt;
      }
      return;
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad:
      modrm();
      if ((op & 1) === 0) ins.imm = u8();
      else ins.imm2 = 1;
      ins.op = op < 0xac ? 0 : 1;
      ins.fn = A.opShiftD;
      return;
    case 0xaf:
      modrm();
      ins.fn = osz === 4 ? A.opImul32GE : A.opImulGE;
      return;
    case 0xb0:
    case 0xb1:
      modrm();
      ins.osz = op === 0xb0 ? 1 : osz;
      ins.fn = A.opCmpxchg;
      return;
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf:
      modrm();
      ins.imm2 = (op & 1) === 0 ? 1 : 2;
      ins.op = op >= 0xbe ? 1 : 0;
      if (op === 0xb6 && osz === 4) ins.fn = ins.mem ? A.opMovzx8M32 : A.opMovzx8R32;
      else if (osz === 4 && ins.mem) ins.fn = op === 0xb7 ? A.opMovzx16M32 : op === 0xbf ? A.opMovsx16M32 : A.opMovsx8M32;
      else if (osz === 4) ins.fn = op === 0xb7 ? A.opMovzx16R32 : op === 0xbf ? A.opMovsx16R32 : A.opMovsx8R32;
      else ins.fn = A.opMovx;
      return;
    case 0xbc:
    case 0xbd:
      modrm();
      ins.op = op === 0xbc ? 0 : 1;
      ins.fn = A.opBsf;
      return;
    case 0xc0:
    case 0xc1:
      modrm();
      ins.osz = op === 0xc0 ? 1 : osz;
      ins.fn = A.opXadd;
      return;
    case 0xc7:
      modrm();
      ins.fn = ins.op === 1 && ins.mem ? A.opCmpxchg8b : Y.opUD;
      return;
    default:
      ins.fn = Y.opUD;
  }
}
