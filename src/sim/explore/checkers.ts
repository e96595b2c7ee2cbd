// The explorer's oracle, run after every step: the stale-access detector (a guest access through
// a frame the host freed or replaced), the hypervisor's invariant checker (hv/check.ts) plus the
// window rule it cannot see from one snapshot (invariants 2/3: while an invalidation is in
// progress no spte maps a gfn of its range), the host's own consistency checker
// (host/invariants.ts, only between host operations, where it must hold), and the scenario's
// data checks. At the end of a run: the invalidation state is idle (invariant 5), every actor
// finished (liveness), and what the host and forked children see matches the model.

import { checkVmInvariants, InvariantError } from '../../hv/check.js';
import { SPTE_MMIO, SPTE_NONLEAF, SPTE_P } from '../../hv/shadow/spte.js';
import type { Vm } from '../../hv/vm.js';
import type { World } from './scenarios.js';

export interface Failure {
  /** Which checker: stale, hv-invariant-N, host-invariant, data, liveness, crash. */
  checker: string;
  message: string;
}

/** Invariants 2 and 3 in one: no present leaf spte inside the range of a running invalidation. */
export function checkWindow(vm: Vm): Failure | null {
  const inv = vm.inv;
  if (vm.mode !== 'notifier' || inv.inProgress <= 0 || inv.rangeStart < 0) return null;
  for (const sp of vm.mmu.validPages()) {
    if (sp.presentCount === 0) continue;
    for (let i = 0; i < 1024; i++) {
      const spte = sp.spt[i]!;
      if ((spte & (SPTE_P | SPTE_NONLEAF | SPTE_MMIO)) !== SPTE_P) continue;
      const gfn = sp.gfns[i]!;
      if (gfn >= inv.rangeStart && gfn < inv.rangeEnd) {
        return {
          checker: 'hv-invariant-2',
          message: `invariant 2/3: spte for gfn ${gfn} (frame ${spte >>> 12}) exists inside the invalidation window [${inv.rangeStart}, ${inv.rangeEnd})`,
        };
      }
    }
  }
  return null;
}

/**
 * What the state checks depend on, as counters: when none moved since the last full check, the
 * step only read or wrote guest memory through an existing translation (a TLB hit, a shadow walk
 * that set accessed/dirty bits), which no invariant looks at, and the full checks are skipped.
 * The stale detector and the data checks run after every step regardless.
 */
export class ChangeStamp {
  private readonly last: number[] = [];
  private readonly now: number[] = [];

  changed(world: World): boolean {
    const { host, vm, model } = world;
    const hs = host.stats;
    const ks = vm.stats;
    const n = this.now;
    n.length = 0;
    n.push(model.hostEpoch, hs.gups, hs.framesFreed, hs.notifierStarts, hs.notifierEnds, host.outstandingGupRefs, host.ft.nrFree,
      ks.pf_taken, ks.pf_fixed, ks.pf_retry_in_progress, ks.pf_retry_seq, ks.pf_retry_unsafe, ks.pf_retry_memslot,
      ks.remote_tlb_flush, ks.mmu_shadow_zapped, ks.sptes_zapped_by_invalidation, vm.inv.seq, vm.inv.inProgress, vm.inv.activeInvalidateCount);
    for (const v of vm.vcpus) n.push(v.cpu.tlb.fills, v.cpu.tlb.epoch);
    let same = n.length === this.last.length;
    for (let i = 0; same && i < n.length; i++) same = n[i] === this.last[i];
    if (same) return false;
    this.last.length = 0;
    this.last.push(...n);
    return true;
  }
}

/** The checks after one step; `betweenHostOps` adds the host consistency check. */
export function checkStep(world: World, betweenHostOps: boolean, stamp: ChangeStamp | null = null): Failure | null {
  const vm = world.vm;
  if (stamp !== null && !stamp.changed(world)) {
    if (vm.stats.stale_accesses > 0 || world.model.failure !== null) return checkStep(world, betweenHostOps, null);
    return null;
  }
  if (vm.stats.stale_accesses > 0) {
    const s = vm.staleRecords[0];
    const msg = s === undefined ? 'stale access' :
      `vcpu ${s.vcpu} ${s.write ? 'wrote' : 'read'} gfn ${s.gfn} through host frame ${s.frame}, which the host freed or replaced`;
    return { checker: 'stale', message: msg };
  }
  try {
    checkVmInvariants(vm);
  } catch (e) {
    if (e instanceof InvariantError) return { checker: `hv-invariant-${e.invariant}`, message: e.message };
    throw e;
  }
  const win = checkWindow(vm);
  if (win !== null) return win;
  if (betweenHostOps) {
    try {
      world.host.checkInvariants();
    } catch (e) {
      return { checker: 'host-invariant', message: (e as Error).message };
    }
  }
  if (world.model.failure !== null) return { checker: 'data', message: world.model.failure };
  return null;
}

/** The checks when a run ended without a failure. */
export function checkEnd(world: World, outOfSteps: boolean): Failure | null {
  const inv = world.vm.inv;
  if (inv.inProgress !== 0 || inv.activeInvalidateCount !== 0) {
    return {
      checker: 'hv-invariant-5',
      message: `invariant 5: the host is idle but mmu_invalidate_in_progress = ${inv.inProgress}, mn_active_invalidate_count = ${inv.activeInvalidateCount}`,
    };
  }
  if (outOfSteps) {
    const stuck = world.actors.filter((a) => !a.done()).map((a) => a.name);
    return { checker: 'liveness', message: `the step budget ran out with work left (${stuck.join(', ')}): a fault retries forever` };
  }
  const blocked = world.actors.filter((a) => !a.done()).map((a) => a.name);
  if (blocked.length > 0) return { checker: 'liveness', message: `no actor can run but ${blocked.join(', ')} did not finish` };
  for (const c of world.finalChecks) {
    const m = c();
    if (m !== null) return { checker: 'data', message: m };
  }
  if (world.model.failure !== null) return { checker: 'data', message: world.model.failure };
  return null;
}
