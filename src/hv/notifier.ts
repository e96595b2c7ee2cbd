// KVM's mmu_notifier subscriber (virt/kvm/kvm_main.c kvm_mmu_notifier_ops): how host mm events
// reach the shadow MMU. One subscription per VM on the VM process's mm, registered only in
// `notifier` mode (in `pin` and `none` mode the host never tells the hypervisor anything).
//
// The contract this file keeps (reference/kvm-mmu.md §1.3, invariants 2, 3, 5):
// - invalidate_range_start returns only after every spte mapping any gfn whose hva is in the
//   range is gone and every vCPU TLB is flushed, and no new spte can be made for those gfns
//   until the matching end (inProgress > 0 and the range covers them: the fault path retries);
// - invalidate_range_end bumps the sequence before dropping inProgress, so a fault that sampled
//   the sequence before the invalidation can never commit a translation gup'ed during it.

import type { Mm } from '../host/mm.js';
import type { MmuNotifier, MmuNotifierOps, MmuNotifierRange } from '../host/mmu-notifier.js';
import { MMU_NOTIFY_EVENT_NAMES } from '../host/constants.js';
import { AGE_CLEAR, AGE_CLEAR_FLUSH, AGE_TEST, EV_AGE, EV_CHANGE_PTE, EV_INV_START, EV_RELEASE, HOST, ZAP_CHANGE_PTE, ZAP_RELEASE } from '../obs/events.js';
import type { InvalidateState } from './invalidate.js';
import type { Memslots } from './memslots.js';
import type { ShadowMmu } from './shadow/mmu.js';
import type { TdpMmu } from './tdp/tdp-mmu.js';
import { refIndex, refPage, rmapOf } from './shadow/rmap.js';
import type { KvmStats } from './stats.js';
import { SPTE_HOST_WRITABLE, SPTE_P, SPTE_W } from './shadow/spte.js';

export interface NotifierVm {
  readonly mmu: ShadowMmu;
  /** Under `--mmu tdp`: the gpa->hpa table, zapped and aged by gfn range instead of the rmap. */
  readonly tdp?: TdpMmu | null;
  readonly inv: InvalidateState;
  readonly memslots: Memslots;
  readonly stats: KvmStats;
  /** How change_pte is handled: 'update' re-points sptes (the 2009 optimisation), 'noop' ignores it
   *  as Linux >= 6.10 does. Inside start/end both are equivalent (invariant 21). */
  readonly changePteMode: 'update' | 'noop';
  /** Every vCPU's TLB is empty when this returns (kvm_flush_remote_tlbs). */
  flushRemoteTlbs(): void;
  /** The last in-flight invalidation ended: memslot updates that waited may run. */
  invalidationsDrained(): void;
  /** Emits INV_END (the new seq and what the host now has at the range) when tracing. */
  traceInvalidateEnd?(range: MmuNotifierRange): void;
  frameGen(frame: number): number;
}

export function kvmMmuNotifierOps(vm: NotifierVm): MmuNotifierOps {
  const { mmu, inv, memslots, stats } = vm;
  const inject = inv.inject;
  // Which MMU the host's invalidations reach: the shadow MMU through its rmap, or the TDP
  // table by gfn range (kvm_unmap_gfn_range calls one or the other).
  const zapper: ShadowMmu | TdpMmu = vm.tdp ?? mmu;
  return {
    invalidateRangeStart(_sub: MmuNotifier, range: MmuNotifierRange): number {
      stats.countCall(`invalidate_range_start:${MMU_NOTIFY_EVENT_NAMES[range.event] ?? range.event}`);
      inv.activeInvalidateCount++;
      const ring = mmu.ring;
      const ev = ring === null ? -1 : ring.emit(EV_INV_START, HOST, range.event, range.start, range.end, -1, -1);
      let locked = false;
      let zapped = 0;
      memslots.forEachGfnRangeInHva(range.start, range.end, (slot, gfnStart, gfnEnd) => {
        if (!locked) {
          locked = true; // first slot: take mmu_lock, kvm_mmu_invalidate_begin
          inv.begin();
          if (ring !== null) ring.setField(ev, 3, gfnStart);
        }
        if (ring !== null) ring.setField(ev, 4, gfnEnd);
        inv.rangeAdd(gfnStart, gfnEnd);
        if (!inject.noZapInStart && !inject.lateZap) zapped += zapper.unmapGfnRange(slot, gfnStart, gfnEnd);
      });
      if (locked) {
        stats.invalidations++;
        stats.sptes_zapped_by_invalidation += zapped;
        if (zapped > stats.max_sptes_zapped_per_invalidation) stats.max_sptes_zapped_per_invalidation = zapped;
        if (zapped > 0 && !inject.noRemoteTlbFlush) vm.flushRemoteTlbs();
      }
      // KVM handles every event by zapping, so it never refuses a non-blockable range.
      return 0;
    },

    invalidateRangeEnd(_sub: MmuNotifier, range: MmuNotifierRange): void {
      stats.countCall('invalidate_range_end');
      let hit = false;
      let lateZapped = 0;
      memslots.forEachGfnRangeInHva(range.start, range.end, (slot, gfnStart, gfnEnd) => {
        hit = true;
        if (inject.lateZap) lateZapped += zapper.unmapGfnRange(slot, gfnStart, gfnEnd);
      });
      if (lateZapped > 0) vm.flushRemoteTlbs();
      if (hit) inv.end();
      if (mmu.ring !== null) vm.traceInvalidateEnd?.(range);
      inv.activeInvalidateCount--;
      if (inv.activeInvalidateCount < 0) throw new Error('kvm: mn_active_invalidate_count went negative');
      if (inv.activeInvalidateCount === 0) vm.invalidationsDrained();
    },

    clearFlushYoung(_sub: MmuNotifier, _mm: Mm, start: number, end: number): boolean {
      stats.countCall('clear_flush_young');
      if (inject.clearFlushYoungIgnoresSpteAccessed) return false;
      const young = age(vm, start, end, false, AGE_CLEAR_FLUSH);
      if (young) vm.flushRemoteTlbs();
      return young;
    },

    clearYoung(_sub: MmuNotifier, _mm: Mm, start: number, end: number): boolean {
      stats.countCall('clear_young');
      // "We never issue secondary TLB flushes from clear_young": a cached translation may keep
      // hiding accesses until the TLB is next flushed, which aging tolerates.
      return age(vm, start, end, false, AGE_CLEAR);
    },

    testYoung(_sub: MmuNotifier, _mm: Mm, addr: number): boolean {
      stats.countCall('test_young');
      return age(vm, addr, addr + 1, true, AGE_TEST);
    },

    changePte(_sub: MmuNotifier, _mm: Mm, addr: number, frame: number, writable: boolean): void {
      stats.countCall('change_pte');
      if (mmu.ring !== null) mmu.ring.emit(EV_CHANGE_PTE, HOST, addr, frame, writable ? 1 : 0);
      // Since 2012 change_pte runs inside start/end, which already zapped every spte for addr,
      // so there is never anything to update; KVM returned early outside an invalidation.
      // The 2009 flow (control injection change-pte-outside-start-end-in-place): outside any
      // invalidation, bump the sequence so a fault holding the old frame retries, then re-point
      // the sptes in place.
      const outside = inv.inProgress === 0;
      if (outside ? !inject.changePteInPlace : vm.changePteMode === 'noop') return;
      if (outside) inv.seq++;
      memslots.forEachGfnRangeInHva(addr, addr + 1, (slot, gfnStart) => {
        const refs = rmapOf(slot, gfnStart);
        if (refs === undefined) return;
        const cause = mmu.zapCause;
        mmu.zapCause = ZAP_CHANGE_PTE;
        for (const ref of [...refs]) {
          const sp = mmu.page(refPage(ref));
          const idx = refIndex(ref);
          if (writable) {
            mmu.dropSpte(sp, idx); // kvm_set_pte_rmap: a writable new pte means "just zap"
          } else {
            const old = sp.spt[idx];
            if (!(old & SPTE_P)) continue;
            mmu.dropSpte(sp, idx);
            // The same access bits on the new frame, read-only: the page is shared now.
            const flags = old & 0xfff & ~(SPTE_P | SPTE_W | SPTE_HOST_WRITABLE);
            mmu.setLeaf(sp, idx, slot, gfnStart, frame, vm.frameGen(frame), flags);
          }
        }
        mmu.zapCause = cause;
      });
      vm.flushRemoteTlbs();
    },

    release(_sub: MmuNotifier, _mm: Mm): void {
      stats.countCall('release');
      // kvm_flush_shadow_all: the process is exiting; nothing may map its frames any more.
      if (mmu.ring !== null) mmu.ring.emit(EV_RELEASE, HOST);
      if (inject.releaseNoZap) return;
      const cause = zapper.zapCause;
      zapper.zapCause = ZAP_RELEASE;
      zapper.zapAll();
      zapper.zapCause = cause;
      vm.flushRemoteTlbs();
    },
  };
}

function age(vm: NotifierVm, start: number, end: number, testOnly: boolean, op: number): boolean {
  let young = false;
  let hit = false;
  vm.memslots.forEachGfnRangeInHva(start, end, (slot, gfnStart, gfnEnd) => {
    hit = true;
    if ((vm.tdp ?? vm.mmu).ageGfnRange(slot, gfnStart, gfnEnd, testOnly)) young = true;
  });
  if (young) vm.stats.age_young++;
  const ring = vm.mmu.ring;
  if (ring !== null && hit) ring.emit(EV_AGE, HOST, start, end, young ? 1 : 0, op);
  return young;
}
