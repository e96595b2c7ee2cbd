// The stale-access detector's second half. Frame generations (host.frameGen, recorded in every
// spte and TLB entry) catch accesses to frames the host freed. This observer catches the rest: a
// translation whose host page was *replaced* (COW, KSM) or *write-protected* (fork, mprotect,
// KSM's write_protect_page) while the frame itself lives on. It is a second mmu_notifier
// subscriber on the VM's mm, registered in every mode when detection is on: at
// invalidate_range_end it compares each spte in the range with what the host now has there,
// flags the ones that disagree and empties the TLBs, so the next access walks the spte and is
// reported. It never changes what the guest sees: flagged sptes keep mapping the same frame.
//
// In notifier mode KVM zapped every spte in the range at start and none can be made until end,
// so this finds nothing — unless the retry check is broken, which is what it is there to catch.

import type { Host } from '../host/host.js';
import type { Mm } from '../host/mm.js';
import { MmuNotifier, mmuNotifierRegister, type MmuNotifierRange } from '../host/mmu-notifier.js';
import type { Memslots } from './memslots.js';
import { EV_UNSEEN, HOST, UNSEEN_REPLACED, UNSEEN_UNMAPPED, UNSEEN_WRITE_PROTECTED } from '../obs/events.js';
import type { ShadowMmu } from './shadow/mmu.js';
import type { TdpMmu } from './tdp/tdp-mmu.js';
import { flagStaleTdpLeaves } from './tdp/tdp-detect.js';
import { refIndex, refPage, rmapOf } from './shadow/rmap.js';
import { SPTE_MMIO, SPTE_NONLEAF, SPTE_P, SPTE_STALE, SPTE_STALE_WRITE, SPTE_W } from './shadow/spte.js';

export interface DetectorVm {
  readonly host: Host;
  readonly mm: Mm;
  readonly mmu: ShadowMmu;
  readonly tdp?: TdpMmu | null;
  readonly memslots: Memslots;
  /** Empty every vCPU TLB (not counted as a KVM remote flush: the detector is not KVM). */
  dropTlbs(): void;
}

export function registerStaleDetector(vm: DetectorVm): MmuNotifier {
  const sub = new MmuNotifier({
    invalidateRangeEnd(_s: MmuNotifier, range: MmuNotifierRange): void {
      let flagged = false;
      vm.memslots.forEachGfnRangeInHva(range.start, range.end, (slot, gfnStart, gfnEnd) => {
        const tdp = vm.tdp ?? null;
        if (tdp !== null) {
          if (flagStaleTdpLeaves(vm.host, vm.mm, tdp, slot, gfnStart, gfnEnd)) flagged = true;
          return;
        }
        for (let gfn = gfnStart; gfn < gfnEnd; gfn++) {
          const refs = rmapOf(slot, gfn);
          if (refs === undefined) continue;
          const hva = slot.gfnToHva(gfn);
          const now = vm.host.pageAt(vm.mm, hva);
          const writable = vm.host.pteWritable(vm.mm, hva);
          for (const ref of refs) {
            const sp = vm.mmu.page(refPage(ref));
            const idx = refIndex(ref);
            const spte = sp.spt[idx]!;
            if ((spte & (SPTE_P | SPTE_NONLEAF | SPTE_MMIO)) !== SPTE_P) continue;
            if (spte >>> 12 !== now) {
              sp.spt[idx] = spte | SPTE_STALE;
              flagged = true;
              vm.mmu.ring?.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_REPLACED);
            } else if (spte & SPTE_W && !writable && now === vm.host.frameAt(vm.mm, hva)) {
              // Still the same page, mapped, but the host took write access away (COW-shared
              // after fork, mprotect, KSM): a write through this spte bypasses the host.
              sp.spt[idx] = spte | SPTE_STALE_WRITE;
              flagged = true;
              vm.mmu.ring?.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_WRITE_PROTECTED);
            } else if (vm.mmu.ring !== null && vm.host.frameAt(vm.mm, hva) < 0) {
              // Swapped out but still in the swap cache: not stale yet (the same frame comes back
              // on a swap-in), but it will be once reclaim frees it — unless a pin holds it.
              vm.mmu.ring.emit(EV_UNSEEN, HOST, gfn, spte >>> 12, now, hva, UNSEEN_UNMAPPED);
            }
          }
        }
      });
      if (flagged) vm.dropTlbs();
    },
  });
  const r = mmuNotifierRegister(sub, vm.mm);
  if (r !== 0) throw new Error(`stale detector: mmu_notifier_register failed (${r})`);
  return sub;
}
