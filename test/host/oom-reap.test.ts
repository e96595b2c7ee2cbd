// The OOM reaper's non-blockable ranges and page migration, at the host level: a subscriber that
// cannot handle a non-blockable range answers -EAGAIN, and the reaper then leaves that vma mapped
// and calls no invalidate_range_end for it (exit_mmap frees it later); migration moves a page's
// bytes to a new frame inside an MMU_NOTIFY_MIGRATE range and refuses a page someone holds.

import { describe, expect, it } from 'vitest';
import { EAGAIN, MAP_ANONYMOUS, MAP_PRIVATE, MMU_NOTIFY_MIGRATE, MMU_NOTIFY_UNMAP, PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { Host } from '../../src/host/host.js';
import { MmuNotifier, mmuNotifierRegister, type MmuNotifierRange } from '../../src/host/mmu-notifier.js';
import { oomReap } from '../../src/host/zap.js';

function setup(): { h: Host; mm: ReturnType<Host['createMm']>; at: number } {
  const h = new Host({ frames: 64, swapPages: 16, seed: 3 });
  const mm = h.createMm();
  const at = h.mmap(mm, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  h.accessUser(mm, at, new Uint8Array(8 * 4096).fill(0x5c), true);
  return { h, mm, at };
}

describe('OOM reaper', () => {
  it('reaps with non-blockable ranges; a subscriber that says -EAGAIN keeps its vma and gets no end', () => {
    const { h, mm, at } = setup();
    const starts: MmuNotifierRange[] = [];
    let ends = 0;
    let refuse = true;
    mmuNotifierRegister(new MmuNotifier({
      invalidateRangeStart: (_s, r) => {
        starts.push({ ...r });
        return !r.blockable && refuse ? -EAGAIN : 0;
      },
      invalidateRangeEnd: () => { ends++; },
    }), mm);
    expect(oomReap(h, mm)).toBe(1);
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ event: MMU_NOTIFY_UNMAP, blockable: false });
    expect(ends).toBe(0);
    expect(mm.rss).toBe(8); // nothing was unmapped
    expect(h.stats.oomReapSkipped).toBe(1);
    h.checkInvariants();
    refuse = false;
    const free = h.nrFreeFrames;
    expect(oomReap(h, mm)).toBe(0);
    expect(ends).toBe(1);
    expect(mm.rss).toBe(0);
    expect(h.nrFreeFrames).toBe(free + 8);
    expect(h.frameAt(mm, at)).toBe(-1);
    h.checkInvariants();
  });
});

describe('page migration', () => {
  it('moves the bytes to a new frame inside an MMU_NOTIFY_MIGRATE range and frees the old one', () => {
    const { h, mm, at } = setup();
    const events: number[] = [];
    mmuNotifierRegister(new MmuNotifier({ invalidateRangeStart: (_s, r) => { events.push(r.event); return 0; } }), mm);
    const old = h.frameAt(mm, at + 4096);
    const gen = h.frameGen[old]!;
    const nf = h.migratePage(mm, at + 4096);
    expect(nf).toBeGreaterThanOrEqual(0);
    expect(nf).not.toBe(old);
    expect(h.frameAt(mm, at + 4096)).toBe(nf);
    expect(h.frameGen[old]).not.toBe(gen); // freed
    expect(events).toEqual([MMU_NOTIFY_MIGRATE]);
    const buf = new Uint8Array(4096);
    h.accessUser(mm, at + 4096, buf, false);
    expect(buf.every((b) => b === 0x5c)).toBe(true);
    h.checkInvariants();
  });

  it('refuses a page with an extra reference (a gup in flight)', () => {
    const { h, mm, at } = setup();
    const f = h.gup(mm, at, false);
    expect(h.migratePage(mm, at)).toBe(-1);
    expect(h.frameAt(mm, at)).toBe(f);
    h.putPage(f);
    expect(h.migratePage(mm, at)).toBeGreaterThanOrEqual(0);
    h.checkInvariants();
  });
});
