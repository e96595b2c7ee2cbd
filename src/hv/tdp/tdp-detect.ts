// The stale-access detector's invalidate_range_end check for TDP leaves (detector.ts does the same
// for shadow sptes through the rmap). A leaf whose host page was replaced (COW, KSM, swap-out then
// free) or write-protected (fork, mprotect, KSM) behind a hypervisor that was not told is flagged;
// the next access through it is reported by the 2-D walk (tdp-vcpu.ts). It never changes what the
// guest sees: a flagged leaf keeps mapping the same frame. In notifier mode KVM zapped every leaf
// in the range at start and none can be made until end, so this finds nothing unless the zap or
// the retry check is broken.

import type { Host } from '../../host/host.js';
import type { Mm } from '../../host/mm.js';
import { EV_UNSEEN, HOST, UNSEEN_REPLACED, UNSEEN_UNMAPPED, UNSEEN_WRITE_PROTECTED } from '../../obs/events.js';
import type { Memslot } from '../memslots.js';
import { SPTE_P, SPTE_STALE, SPTE_STALE_WRITE, SPTE_W } from '../shadow/spte.js';
import type { TdpMmu } from './tdp-mmu.js';

/** Flag the leaves in [gfnStart, gfnEnd) of slot that disagree with the host; true if any was. */
export function flagStaleTdpLeaves(host: Host, mm: Mm, tdp: TdpMmu, slot: Memslot, gfnStart: number, gfnEnd: number): boolean {
  let flagged = false;
  const ring = tdp.ring;
  for (let gfn = Math.max(gfnStart, slot.baseGfn); gfn < Math.min(gfnEnd, slot.baseGfn + slot.npages); gfn++) {
    const t = tdp.table(gfn);
    if (t === null) {
      gfn = (((gfn >>> 10) + 1) << 10) - 1;
      continue;
    }
    const idx = gfn & 1023;
    const spte = t.spt[idx]!;
    if (!(spte & SPTE_P)) continue;
    const hva = slot.gfnToHva(gfn);
    const now = host.pageAt(mm, hva);
    if (spte >>> 12 !== now) {
      t.spt[idx] = spte | SPTE_STALE;
      flagged = true;
      ring?.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_REPLACED);
    } else if (spte & SPTE_W && !host.pteWritable(mm, hva) && now === host.frameAt(mm, hva)) {
      t.spt[idx] = spte | SPTE_STALE_WRITE;
      flagged = true;
      ring?.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_WRITE_PROTECTED);
    } else if (ring !== null && host.frameAt(mm, hva) < 0) {
      ring.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_UNMAPPED);
    }
  }
  return flagged;
}
