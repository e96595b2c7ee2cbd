// Test double of a secondary MMU in the style of lib/test_hmm.c: a device page table that holds
// NO page references, kept coherent only through an interval notifier over the whole address
// space and the read_begin / read_retry collision check. It also checks, inside its own
// invalidate callback, that the host has not yet freed or replaced any frame it still maps.

import {
  EAGAIN, MMU_NOTIFY_EVENT_NAMES, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE,
} from '../../src/host/constants.js';
import type { Host } from '../../src/host/host.js';
import type { Mm } from '../../src/host/mm.js';
import {
  MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalReadBegin, mmuIntervalReadRetry,
  mmuIntervalSetSeq, type MmuNotifierRange,
} from '../../src/host/mmu-notifier.js';

export interface MirrorEntry {
  frame: number;
  gen: number;
  write: boolean;
}

export class DMirror {
  readonly pt = new Map<number, MirrorEntry>();
  readonly sub = new MmuIntervalNotifier();
  readonly events: string[] = [];
  faults = 0;
  retries = 0;
  /** Mutation switch: pretend read_retry always says "no collision" (the bug the seq prevents). */
  skipRetryCheck = false;
  /** Violations seen inside invalidate (frame already freed or replaced when start arrived). */
  readonly violations: string[] = [];

  constructor(readonly h: Host, readonly mm: Mm) {
    const r = mmuIntervalNotifierInsert(this.sub, mm, 0, TASK_SIZE, {
      invalidate: (sub, range, curSeq) => this.invalidate(sub, range, curSeq),
    });
    if (r !== 0) throw new Error(`insert failed ${r}`);
  }

  private invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): boolean {
    this.events.push(`${MMU_NOTIFY_EVENT_NAMES[range.event]} ${hex(range.start)}-${hex(range.end)}`);
    mmuIntervalSetSeq(sub, curSeq);
    for (const [vpn, e] of this.pt) {
      const addr = vpn << PAGE_SHIFT;
      if (addr < range.start || addr >= range.end) continue;
      // The contract we rely on: start arrives while the frame is still allocated and mapped.
      if (this.h.frameGen[e.frame] !== e.gen) this.violations.push(`frame ${e.frame} at ${hex(addr)} freed before start`);
      this.pt.delete(vpn);
    }
    return true;
  }

  /** dmirror_fault: read_begin, gup, (race window), lock, read_retry, store. Returns 0, -EAGAIN
   *  (an invalidation is running: Linux would sleep), or the gup errno. */
  fault(addr: number, write: boolean, raceWindow?: () => void): number {
    for (let tries = 0; tries < 8; tries++) {
      const seq = mmuIntervalReadBegin(this.sub);
      if (seq === -1) return -EAGAIN;
      const f = this.h.gup(this.mm, addr, write);
      if (f < 0) return f;
      this.faults++;
      if (raceWindow !== undefined && tries === 0) raceWindow();
      if (!this.skipRetryCheck && mmuIntervalReadRetry(this.sub, seq)) {
        this.retries++;
        this.h.putPage(f);
        continue;
      }
      this.pt.set(addr >>> PAGE_SHIFT, { frame: f, gen: this.h.frameGen[f], write });
      this.h.putPage(f); // the mirror keeps no reference: the notifier keeps it honest
      return 0;
    }
    return -EAGAIN;
  }

  /** Device read of len bytes at addr (faulting as needed). */
  read(addr: number, len: number): Uint8Array | number {
    const out = new Uint8Array(len);
    for (let off = 0; off < len; ) {
      const a = addr + off;
      const vpn = a >>> PAGE_SHIFT;
      let e = this.pt.get(vpn);
      if (e === undefined) {
        const r = this.fault(a, false);
        if (r < 0) return r;
        e = this.pt.get(vpn)!;
      }
      const po = a & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - po, len - off);
      out.set(this.h.ram.subarray(e.frame * PAGE_SIZE + po, e.frame * PAGE_SIZE + po + n), off);
      off += n;
    }
    return out;
  }

  write(addr: number, data: Uint8Array): number {
    for (let off = 0; off < data.length; ) {
      const a = addr + off;
      const vpn = a >>> PAGE_SHIFT;
      let e = this.pt.get(vpn);
      if (e === undefined || !e.write) {
        const r = this.fault(a, true);
        if (r < 0) return r;
        e = this.pt.get(vpn)!;
      }
      const po = a & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - po, data.length - off);
      this.h.ram.set(data.subarray(off, off + n), e.frame * PAGE_SIZE + po);
      off += n;
    }
    return 0;
  }

  /** Every mirrored page must still be the host's current, live mapping (with no more
   *  permission than the host pte grants). Returns the list of stale entries. */
  stale(): string[] {
    const out: string[] = [...this.violations];
    for (const [vpn, e] of this.pt) {
      const addr = vpn << PAGE_SHIFT;
      if (this.h.frameGen[e.frame] !== e.gen) out.push(`${hex(addr)}: frame ${e.frame} was freed/reused`);
      else if (this.h.frameAt(this.mm, addr) !== e.frame) out.push(`${hex(addr)}: host maps ${this.h.frameAt(this.mm, addr)}, mirror ${e.frame}`);
      else if (e.write && !this.h.pteWritable(this.mm, addr)) out.push(`${hex(addr)}: mirror writable, host pte read-only`);
    }
    return out;
  }
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}
