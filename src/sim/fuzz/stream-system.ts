// The system-instruction items of the instruction-stream fuzzer: CR moves and toggles (CR0.WP,
// CR4.PSE), descriptor tables, segment loads, far JMP/CALL through the GDT, software interrupts,
// UD2, COM1 and undecoded ports, RDTSC, CPUID, PUSHF/POPF, INVLPG, LTR, the descriptor queries
// LAR LSL VERR VERW, and x87 opcodes (#UD).
// Ring 3 takes #GP on the privileged ones; --qemu profiles keep only what QEMU reproduces exactly.

import { CR0_WP, CR4_PSE } from '../../cpu/paging.js';
import { GDTR, IDTR } from './stream-layout.js';
import { ALLF, AF, OF, RELOC_ABS, le32, type ItemBuilder } from './stream-item.js';
import type { StreamGenState } from './stream-gen-state.js';

/** An item of system instructions (ring 3 gets #GP for the privileged ones: skipped). */
export function systemOp(g: StreamGenState, b: ItemBuilder): boolean {
  const p = g.profile;
  switch (g.r(21)) {
    case 0:
      b.insn(0x0f, 0x01, 0x15, ...le32(GDTR)); // lgdt [gdtr]
      return true;
    case 1:
      b.insn(0x0f, 0x01, 0x1d, ...le32(IDTR)); // lidt [idtr]
      return true;
    case 2:
      b.insn(0x0f, 0x01, 0x45 | ((g.u32() & 1) << 3), g.u32() & 0xff); // sgdt/sidt [ebp+d8]
      return true;
    case 3: {
      const cr = [0, 2, 3, 4][g.r(4)]!;
      b.insn(0x0f, 0x20, 0xc0 | (cr << 3) | g.reg()); // mov r, crN
      return true;
    }
    case 4:
      reloadCr3(b);
      return true;
    case 5:
      if (!p.paging) return false;
      toggleCr(g, b, 0, CR0_WP);
      return true;
    case 6:
      if (!p.paging) return false;
      // CR4.PSE: PD[2] is a 4 MiB page when set, a page table at 0 when clear
      toggleCr(g, b, 4, CR4_PSE);
      reloadCr3(b);
      return true;
    case 7: {
      // segment registers: load a data selector, store one
      const sreg = [0, 3, 4, 5][g.r(4)]!;
      const sel = p.ring3 || g.r(2) === 0 ? 0x23 : 0x10;
      b.insn(0x66, 0xb8, sel, 0); // mov ax, sel
      b.insn(0x8e, 0xc0 | (sreg << 3)); // mov sreg, ax
      b.insn(0x8c, 0x45 | (g.r(6) << 3), g.u32() & 0xff); // mov [ebp+d8], sreg
      b.insn(0x66, 0x8c, 0xc0 | (g.r(6) << 3) | g.reg()); // mov r16, sreg
      return true;
    }
    case 8: {
      // far JMP to the next instruction through the GDT
      b.begin();
      b.e8(0xea);
      b.relocs.push({ at: b.pos, add: b.pos + 6, kind: RELOC_ABS });
      b.e32(0);
      b.e16(p.ring3 ? (g.r(4) === 0 ? 0x08 : 0x1b) : 0x08);
      b.end();
      return true;
    }
    case 9: {
      // far CALL to a far RET: lcall sel:T; jmp over; T: lret
      b.begin();
      b.e8(0x9a);
      b.relocs.push({ at: b.pos, add: b.pos + 6 + 2, kind: RELOC_ABS });
      b.e32(0);
      b.e16(p.ring3 ? 0x1b : 0x08);
      b.end();
      b.insn(0xeb, 0x01);
      b.insn(0xcb);
      return true;
    }
    case 10:
      b.insn(0xfa); // cli
      return true;
    case 11: {
      // software interrupts: INT 0x31..0x3f (gates of DPL 0 or 3), INT3, INTO
      const w = g.r(4);
      if (w === 0) b.insn(0xcc);
      else if (w === 1) {
        if (!(g.def & OF)) return false;
        g.needs |= OF;
        b.insn(0xce);
        return true; // no trap: flags unchanged; a trap: cleared (defined) by the handler
      } else b.insn(0xcd, 0x31 + g.r(15));
      g.def = ALLF; // the handler clears the arithmetic flags it returns with
      return true;
    }
    case 12:
      b.insn(0x0f, 0x0b); // ud2
      g.def = ALLF;
      return true;
    case 13: {
      // COM1: a byte out, the line status in
      b.insn(0x66, 0xba, 0xf8, 0x03); // mov dx, 0x3f8
      b.insn(0xb0, 0x20 + g.r(95)); // mov al, printable
      b.insn(0xee); // out dx, al
      b.insn(0x66, 0xba, 0xfd, 0x03); // mov dx, 0x3fd
      b.insn(0xec); // in al, dx
      return true;
    }
    case 14: {
      if (p.qemu) return false;
      // ports nothing decodes (all ones, writes dropped), 8/16/32-bit, immediate and DX
      const port = [0x80, 0x61, 0x70, 0x3e9, 0x500, 0xcf8][g.r(6)]!;
      const sz = g.r(3);
      if (port < 256 && g.r(2) === 0) {
        b.insn(...(sz === 1 ? [0x66] : []), (g.r(2) ? 0xe4 : 0xe6) + (sz === 0 ? 0 : 1), port);
      } else {
        b.insn(0x66, 0xba, port & 0xff, port >>> 8);
        b.insn(...(sz === 1 ? [0x66] : []), (g.r(2) ? 0xec : 0xee) + (sz === 0 ? 0 : 1));
      }
      return true;
    }
    case 15: {
      // RDTSC: virtual time; a mid-block RDTSC must not disturb the block's tail
      b.insn(0x0f, 0x31);
      if (p.qemu) {
        b.insn(0xb8, ...le32(g.u32()));
        b.insn(0xba, ...le32(g.u32()));
      }
      return true;
    }
    case 16: {
      const leaf = [0, 1, 2, 0x80000000, 7][g.r(5)]!;
      b.insn(0xb8, ...le32(leaf));
      b.insn(0x0f, 0xa2);
      if (p.qemu) for (const r of [0, 1, 2, 3]) b.insn(0xb8 + r, ...le32(g.u32()));
      return true;
    }
    case 17: {
      // PUSHF/POPF: flip arithmetic flags through the stack, or read them into a register
      if (g.r(2) === 0 && (g.def & ALLF) === ALLF) {
        g.needs |= ALLF;
        b.insn(0x9c);
        b.insn(0x58 + g.reg());
        return true;
      }
      b.insn(0x9c);
      b.insn(0x81, 0x34, 0x24, ...le32(g.u32() & ALLF)); // xor dword [esp], imm
      b.insn(0x9d);
      return true;
    }
    case 18: {
      if (!p.paging) return false;
      b.insn(0x0f, 0x01, 0x7d, g.u32() & 0xff); // invlpg [ebp+d8]
      return true;
    }
    case 19: {
      // descriptor queries (LAR LSL VERR VERW) of a GDT selector at any RPL, from ring 0 or 3:
      // only ZF and LAR/LSL's destination change. Never an LDT selector (TI=1): with no LDT
      // loaded QEMU answers from its reset LDTR (base 0), this CPU says no.
      const src = g.reg();
      b.insn(0x66, 0xb8 + src, g.r(64) & ~4, 0); // mov r16, sel
      const k = g.r(4);
      if (k < 2) b.insn(0x0f, 0x02 + k, 0xc0 | (g.reg() << 3) | src); // lar/lsl r32, r16
      else b.insn(0x0f, 0x00, (k === 2 ? 0xe0 : 0xe8) | src); // verr/verw r16
      return true;
    }
    default: {
      if (p.qemu) {
        // LTR of the busy TSS (#GP on both). Not a random selector: QEMU loads a null one
        // where the SDM says #GP(0) (QEMU_DIFFERENCES in fuzz-case.ts).
        b.insn(0x66, 0xb9, 0x28, 0x00); // mov cx, 0x28
        b.insn(0x0f, 0x00, 0xd9); // ltr cx
        return true;
      }
      if (g.r(4) === 0) {
        b.insn(0xd8 + g.r(8), 0xc0 | g.r(64)); // an x87 opcode: no FPU, #UD
        g.def = ALLF;
        return true;
      }
      b.insn(0x0f, 0x00, 0xd8 | g.reg());
      return true;
    }
  }
}

/** mov eax, crN; xor eax, bit; mov crN, eax: one control-register bit flipped (XOR leaves AF undefined). */
function toggleCr(g: StreamGenState, b: ItemBuilder, cr: number, bit: number): void {
  b.insn(0x0f, 0x20, 0xc0 | (cr << 3));
  b.insn(0x35, ...le32(bit));
  b.insn(0x0f, 0x22, 0xc0 | (cr << 3));
  g.def = ALLF & ~AF;
}

/** mov eax, cr3; mov cr3, eax: a TLB flush. */
function reloadCr3(b: ItemBuilder): void {
  b.insn(0x0f, 0x20, 0xd8);
  b.insn(0x0f, 0x22, 0xd8);
}
