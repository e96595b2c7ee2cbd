// The TLB's tag arrays and the code cache's write protection: fills by privilege and permission,
// INVLPG/flush semantics, code pages losing and regaining write tags, and one CodeCache shared by
// two Cpus (a store by one drops the blocks the other decoded).

import { describe, expect, it } from 'vitest';
import { CodeCache } from '../../src/cpu/code-cache.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { NativeMmu } from '../../src/cpu/paging.js';
import { EXIT_STOP, TLB_USER, TLB_WRITE } from '../../src/cpu/ports.js';
import { TLB_MASK, Tlb } from '../../src/cpu/tlb.js';
import { CODE, StubIo } from './harness.js';

describe('Tlb', () => {
  it('fills one tag per access kind from the walk permissions', () => {
    const t = new Tlb();
    t.fill(0x5000, 7, TLB_USER, 0);
    const i = 5 & TLB_MASK;
    expect([t.tagSR[i], t.tagSW[i], t.tagUR[i], t.tagUW[i]]).toEqual([5, -1, 5, -1]);
    t.fill(0x6000, 8, TLB_WRITE, 0);
    expect([t.tagSR[6], t.tagSW[6], t.tagUR[6], t.tagUW[6]]).toEqual([6, 6, -1, -1]);
    expect(t.off[6]).toBe(8 << 12);
  });

  it('flushPage drops only a matching entry; flushAll drops all and bumps the epoch', () => {
    const t = new Tlb();
    t.fill(0x5000, 7, TLB_WRITE | TLB_USER, 0);
    t.fill(0x6000, 8, TLB_WRITE | TLB_USER, 0);
    const e0 = t.epoch;
    t.flushPage(0x5000 + (1 << 24)); // same index, different page: no effect on the entry
    expect(t.tagSR[5]).toBe(5);
    t.flushPage(0x5fff);
    expect(t.tagSR[5]).toBe(-1);
    expect(t.tagSR[6]).toBe(6);
    t.flushAll();
    expect(t.tagSR[6]).toBe(-1);
    expect(t.epoch).toBeGreaterThan(e0);
  });

  it('code pages get no write tag until their code is invalidated', () => {
    const code = new CodeCache(1 << 20);
    const t = new Tlb();
    code.register(t);
    t.fill(0x5000, 7, TLB_WRITE | TLB_USER, 0);
    code.markCode(7, 0x100, 0x180, 1);
    expect(t.tagSW[5]).toBe(-1);
    expect(t.tagUW[5]).toBe(-1);
    t.fill(0x9000, 7, TLB_WRITE, 0); // an alias of the same page
    expect(t.tagSW[9]).toBe(-1);
    expect(code.hits(7, 0x17f, 1)).toBe(true);
    expect(code.hits(7, 0x800, 4)).toBe(false);
    code.invalidatePage(7);
    expect([t.tagSW[5], t.tagUW[5], t.tagSW[9], t.tagUW[9]]).toEqual([5, 5, 9, -1]);
  });
});

describe('a CodeCache shared by two Cpus', () => {
  it('a store by one Cpu drops the blocks the other decoded', () => {
    const mem = new Uint8Array(4 << 20);
    const code = new CodeCache(mem.length);
    const mk = () => {
      const io = new StubIo();
      const cpu = new Cpu({ mem, mmu: new NativeMmu(mem.length), io, code });
      io.cpu = cpu;
      return { cpu, io };
    };
    const a = mk();
    const b = mk();
    // at CODE: mov eax, 1; out 0xf4, al
    mem.set([0xb8, 1, 0, 0, 0, 0xe6, 0xf4], CODE);
    // at CODE+0x100: mov byte [CODE+1], 2; out 0xf4, al
    mem.set([0xc6, 0x05, 0x01, 0x00, 0x10, 0x00, 0x02, 0xe6, 0xf4], CODE + 0x100);
    b.cpu.eip = CODE;
    expect(b.cpu.run(10)).toBe(EXIT_STOP);
    expect(b.cpu.regs[0]).toBe(1);
    a.cpu.eip = CODE + 0x100;
    expect(a.cpu.run(10)).toBe(EXIT_STOP);
    b.cpu.eip = CODE;
    expect(b.cpu.run(10)).toBe(EXIT_STOP);
    expect(b.cpu.regs[0]).toBe(2);
  });
});
