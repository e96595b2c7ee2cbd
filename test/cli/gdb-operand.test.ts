// Read and access watchpoints decide from the next instruction's explicit memory operand
// (src/cli/gdb/operand-access.ts): where it is, how wide, and whether the instruction reads it.
// gdb itself drops read-watchpoint reports whose value changed, so a store wrongly counted as a
// read would not show in the gdb-driven test; it is checked here, instruction by instruction.
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu/cpu.js';
import { nextOperandAccess } from '../../src/cli/gdb/operand-access.js';
import { RunControl } from '../../src/cli/gdb/run-control.js';
import type { GuestPhys } from '../../src/cli/gdb/guest-peek.js';

function at(bytes: number[], regs: Partial<Record<'eax' | 'ebx' | 'esp', number>> = {}) {
  const mem = new Uint8Array(0x2000);
  mem.set(bytes, 0x1000);
  const r = new Int32Array(9);
  r[0] = regs.eax ?? 0;
  r[3] = regs.ebx ?? 0;
  r[4] = regs.esp ?? 0;
  const cpu = { eip: 0x1000, cr0: 0x11, cr3: 0, cr4: 0, r } as unknown as Cpu;
  const phys: GuestPhys = {
    read: (gpa, len) => (gpa + len <= mem.length ? mem.slice(gpa, gpa + len) : null),
    readInto: (gpa, out, off, len) => gpa + len <= mem.length && (out.set(mem.subarray(gpa, gpa + len), off), true),
    write: () => false,
    isRam: () => true,
  };
  return nextOperandAccess(cpu, phys);
}

describe('the next instruction operand (rwatch / awatch)', () => {
  it('moffs loads read, moffs stores do not', () => {
    expect(at([0xa1, 0x04, 0x30, 0x10, 0x00])).toEqual({ addr: 0x103004, size: 4, read: true });
    expect(at([0xa3, 0x04, 0x30, 0x10, 0x00])).toEqual({ addr: 0x103004, size: 4, read: false });
    expect(at([0xa0, 0x10, 0x00, 0x00, 0x00])).toEqual({ addr: 0x10, size: 1, read: true });
  });
  it('ModRM operands: base + index*scale + disp; MOV/SETcc/POP to memory only store; read-modify-write reads', () => {
    expect(at([0x89, 0x43, 0x08], { ebx: 0x2000 })).toEqual({ addr: 0x2008, size: 4, read: false }); // mov [ebx+8], eax
    expect(at([0x8b, 0x43, 0x08], { ebx: 0x2000 })).toEqual({ addr: 0x2008, size: 4, read: true }); // mov eax, [ebx+8]
    expect(at([0x01, 0x05, 0x04, 0x30, 0x10, 0x00])).toEqual({ addr: 0x103004, size: 4, read: true }); // add [m], eax
    expect(at([0x03, 0x44, 0x24, 0x04], { esp: 0x7000 })).toEqual({ addr: 0x7004, size: 4, read: true }); // add eax, [esp+4]
    expect(at([0x0f, 0x94, 0x05, 0x00, 0x10, 0x00, 0x00])).toEqual({ addr: 0x1000, size: 1, read: false }); // sete [m]
    expect(at([0x66, 0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x34, 0x12])).toEqual({ addr: 0x1000, size: 2, read: false }); // mov word [m], imm
    expect(at([0x8f, 0x05, 0x00, 0x10, 0x00, 0x00])).toEqual({ addr: 0x1000, size: 4, read: false }); // pop [m]
  });
  it('MOVZX/MOVSX read the byte or word they extend, whatever the destination size', () => {
    expect(at([0x0f, 0xb6, 0x05, 0x8c, 0x1c, 0x10, 0x00])).toEqual({ addr: 0x101c8c, size: 1, read: true }); // movzbl [m], eax
    expect(at([0x0f, 0xbe, 0x03], { ebx: 0x2000 })).toEqual({ addr: 0x2000, size: 1, read: true }); // movsbl [ebx], eax
    expect(at([0x0f, 0xb7, 0x03], { ebx: 0x2000 })).toEqual({ addr: 0x2000, size: 2, read: true }); // movzwl [ebx], eax
    expect(at([0x66, 0x0f, 0xbe, 0x03], { ebx: 0x2000 })).toEqual({ addr: 0x2000, size: 1, read: true }); // movsbw [ebx], ax
    expect(at([0x0f, 0xbf, 0x03], { ebx: 0x2000 })).toEqual({ addr: 0x2000, size: 2, read: true }); // movswl [ebx], eax
  });
  it('no access: register operands, LEA, INVLPG, NOP Ev; undecodable or unreadable code', () => {
    expect(at([0x01, 0xc3])).toBeNull(); // add ebx, eax
    expect(at([0x8d, 0x44, 0x40, 0x01])).toBeNull(); // lea eax, [eax+eax*2+1]
    expect(at([0x0f, 0x01, 0x38])).toBeNull(); // invlpg [eax]
    expect(at([0x0f, 0x1f, 0x40, 0x00])).toBeNull(); // nop [eax]
    expect(at([0x90])).toBeNull();
  });
});

describe('write watchpoints on bytes the debugger cannot always read (watch)', () => {
  // The debugger reads guest memory without faulting anything in: bytes on a page the guest
  // does not map (or whose page tables the target cannot read) are unreadable. Their becoming
  // readable is no store, so it must not stop the guest; only a changed value does (QEMU, where
  // memory is always readable, stops once, at the store).
  it('a watch set on unreadable bytes takes the first value read as its baseline; a swap-out and swap-in is no write', () => {
    let bytes: Uint8Array | null = null;
    const phys: GuestPhys = {
      read: (_gpa, len) => (bytes === null ? null : bytes.slice(0, len)),
      readInto: (_gpa, out, off, len) => bytes !== null && (out.set(bytes.subarray(0, len), off), true),
      write: () => false,
      isRam: () => true,
    };
    const cpu = { eip: 0x1000, cr0: 0x11, cr3: 0, cr4: 0, r: new Int32Array(9), raise: () => undefined } as unknown as Cpu;
    const ctl = new RunControl([cpu], phys);
    ctl.addWatch(0x5000, 4);
    const step = (value: number | null): boolean => {
      bytes = value === null ? null : new Uint8Array(new Uint32Array([value]).buffer);
      ctl.stop = null;
      return ctl.check(0, cpu.eip);
    };
    expect(step(null)).toBe(false); // still unreadable
    expect(step(0)).toBe(false); // the host populated the page: the baseline
    expect(step(5)).toBe(true); // a store
    expect(ctl.stop).toMatchObject({ kind: 'watch', watchAddr: 0x5000 });
    expect(step(5)).toBe(false);
    expect(step(null)).toBe(false); // swapped out
    expect(step(5)).toBe(false); // swapped back in, unchanged
    expect(step(6)).toBe(true);
  });
});
