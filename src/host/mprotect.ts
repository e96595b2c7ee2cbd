// mprotect: change the protection of whole vmas (splitting at the edges) and rewrite the ptes of
// the range inside one PROTECTION_VMA notifier range, started lazily at the first populated pte.
// Mirrors mm/mprotect.c mprotect_fixup -> change_protection -> change_pte_range. Upgrades only
// make shared ptes writable; private ones regain write access through a write fault (reuse).

import { MMU_NOTIFY_PROTECTION_VMA, PAGE_SHIFT, PROT_WRITE } from './constants.js';
import type { Host } from './host.js';
import type { Mm } from './mm.js';
import type { MmuNotifierRange } from './mmu-notifier.js';
import { PTE_WRITE, ptePresent } from './page-table.js';
import { mergeAdjacent, splitAt } from './vma.js';
import { PP_AFTER_CLEAR, PP_AFTER_START, PP_BEFORE_END } from './preempt-points.js';

export function changeProtection(h: Host, mm: Mm, start: number, end: number, prot: number): void {
  if (end <= start) return;
  mm.busy++;
  try {
    splitAt(mm.vmas, start);
    splitAt(mm.vmas, end);
    let range: MmuNotifierRange | null = null;
    for (const v of mm.vmas) {
      if (v.end <= start || v.start >= end) continue;
      v.prot = prot;
      const writable = (prot & PROT_WRITE) !== 0;
      const vpns: number[] = [];
      mm.pt.forEach(v.start >>> PAGE_SHIFT, v.end >>> PAGE_SHIFT, (vpn, pte) => {
        if (ptePresent(pte)) vpns.push(vpn);
      });
      for (const vpn of vpns) {
        if (range === null) {
          // "Defer invalidation of secondary MMUs until a PTE change is imminent."
          range = { mm, start, end, event: MMU_NOTIFY_PROTECTION_VMA, blockable: true };
          h.notifyStart(range);
          h.preempt(PP_AFTER_START, mm, start, end);
        }
        const pte = mm.pt.get(vpn);
        if (!ptePresent(pte)) continue;
        if (!writable) mm.pt.set(vpn, pte & ~PTE_WRITE);
        else if (v.shared) mm.pt.set(vpn, pte | PTE_WRITE);
      }
    }
    if (range !== null) {
      h.preempt(PP_AFTER_CLEAR, mm, start, end);
      h.preempt(PP_BEFORE_END, mm, start, end);
      h.notifyEnd(range);
    }
    mergeAdjacent(mm.vmas);
  } finally {
    mm.busy--;
  }
}
