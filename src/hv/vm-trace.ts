// What a VM adds to the trace ring beyond its slow paths' own events: how the host produced the
// frame of a gup (read from the host's counters, so the host needs no tracing of its own) and,
// at invalidate_range_end, the new sequence and what the host now has at the range.

import type { Host } from '../host/host.js';
import type { Mm } from '../host/mm.js';
import type { MmuNotifierRange } from '../host/mmu-notifier.js';
import { pteIsSwap } from '../host/page-table.js';
import type { EventRing } from '../obs/event-ring.js';
import {
  EV_INV_END, GUP_COW_BREAK, GUP_PRESENT, GUP_SWAP_CACHE, GUP_SWAP_IN, GUP_ZERO_FILL, HOST,
  HOSTPAGE_MULTI, HOSTPAGE_NONE, HOSTPAGE_PRESENT, HOSTPAGE_READONLY, HOSTPAGE_SWAPPED,
} from '../obs/events.js';
import { PAGE_SIZE } from './memslots.js';

/** gup on mm, and in out.how what the host had to do (GUP_*). */
export function gupTraced(host: Host, mm: Mm, hva: number, write: boolean, out: { lastGupHow: number }): number {
  const hs = host.stats;
  const z = hs.zeroFills, si = hs.swapIns, sc = hs.swapInsFromCache, cow = hs.cowBreaks;
  const f = host.gup(mm, hva, write);
  out.lastGupHow =
    hs.swapInsFromCache !== sc ? GUP_SWAP_CACHE
    : hs.swapIns !== si ? GUP_SWAP_IN
    : hs.zeroFills !== z ? GUP_ZERO_FILL
    : hs.cowBreaks !== cow ? GUP_COW_BREAK
    : GUP_PRESENT;
  return f;
}

/** INV_END: the new sequence and what the host now has at the range's first page. */
export function emitInvalidateEnd(ring: EventRing, host: Host, mm: Mm, seq: number, range: MmuNotifierRange): void {
  let state = HOSTPAGE_MULTI;
  let frame = -1;
  if (range.end - range.start <= PAGE_SIZE) {
    frame = host.frameAt(mm, range.start);
    if (frame >= 0) state = host.pteWritable(mm, range.start) ? HOSTPAGE_PRESENT : HOSTPAGE_READONLY;
    else state = pteIsSwap(mm.pt.get(range.start >>> 12)) ? HOSTPAGE_SWAPPED : HOSTPAGE_NONE;
  }
  ring.emit(EV_INV_END, HOST, seq, range.start, range.end, state, frame);
}
