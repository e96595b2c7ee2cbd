// Page migration (what compaction, NUMA balancing and memory hot-remove do to a mapped page): the
// page's contents move to another frame and the pte is re-pointed, inside an MMU_NOTIFY_MIGRATE
// range so secondary MMUs drop their translation of the old frame before it is freed. Mirrors
// mm/migrate.c migrate_pages -> migrate_folio_unmap (try_to_migrate_one: S; clear+flush; migration
// entry; rmap; E) and migrate_folio_move (copy, remove_migration_ptes), for exclusively mapped anon
// pages. The migration entry is modelled by doing clear, copy and remap without a preemption point
// between them: a host fault cannot see the page missing, as it would wait on the entry in Linux.

import { MMU_NOTIFY_MIGRATE, PAGE_SHIFT, PAGE_SIZE } from './constants.js';
import { PG_ANON, PG_DIRTY, PG_KSM, PG_LOCKED, PG_LRU, PG_SWAPCACHE } from './frames.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import type { MmuNotifierRange } from './mmu-notifier.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, ptePresent, pteFrame } from './page-table.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END, PP_BEFORE_FREE } from './preempt-points.js';

/** Move the page mm maps at addr to a new frame. Returns the new frame, or -1 when the page cannot
 *  be migrated now (not present, shared, KSM, in the swap cache, locked, extra references, no memory). */
export function migratePage(h: Host, mm: Mm, addr: number): number {
  const ft = h.ft;
  const vpn = addr >>> PAGE_SHIFT;
  const pte = mm.pt.get(vpn);
  if (mm.dead || !ptePresent(pte)) return -1;
  const old = pteFrame(pte);
  const fl = ft.flags[old]!;
  if ((fl & PG_ANON) === 0 || (fl & (PG_KSM | PG_SWAPCACHE | PG_LOCKED)) !== 0 || (fl & PG_LRU) === 0) return -1;
  // folio_migrate_mapping's expected count: the mapping's reference and ours; a gup reference
  // (a pin, a fault in flight) makes migration fail, as it does in Linux.
  if (ft.mapcount[old] !== 1 || ft.refcount[old] !== 1) return -1;
  ft.refcount[old]++; // isolate
  ft.flags[old] |= PG_LOCKED;
  const nf = h.allocPage();
  ft.flags[old] &= ~PG_LOCKED;
  if (nf < 0 || mm.pt.get(vpn) !== pte) {
    if (nf >= 0) h.putFrame(nf);
    h.putFrame(old);
    return -1;
  }
  mm.busy++;
  try {
    const range: MmuNotifierRange = { mm, start: vpn << PAGE_SHIFT, end: (vpn << PAGE_SHIFT) + PAGE_SIZE, event: MMU_NOTIFY_MIGRATE, blockable: true };
    h.notifyStart(range);
    h.preempt(PP_AFTER_START, mm, range.start, range.end);
    if (mm.pt.get(vpn) !== pte) {
      h.notifyEnd(range);
      h.putFrame(nf);
      h.putFrame(old);
      return -1;
    }
    const cur = mm.pt.get(vpn);
    h.unmapPte(mm, vpn); // its reference now ours to drop (dirty moved to the old frame)
    h.copyFrame(nf, old);
    ft.flags[nf] = PG_ANON | (ft.flags[old]! & PG_DIRTY);
    h.lru.add(nf, true);
    h.mapPte(mm, vpn, nf, cur & (PTE_WRITE | PTE_DIRTY | PTE_YOUNG));
    h.preempt(PP_AFTER_CLEAR, mm, range.start, range.end);
    h.preempt(PP_BEFORE_END, mm, range.start, range.end);
    h.notifyEnd(range);
    h.preempt(PP_BEFORE_FREE, mm, range.start, range.end);
    h.putFrame(old); // the old pte's reference
    h.putFrame(old); // the isolation reference: the old frame is freed here
    h.stats.migrations++;
    return nf;
  } finally {
    mm.busy--;
  }
}
