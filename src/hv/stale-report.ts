// The stale-access detector's report: what a VM records when a guest access goes through a
// translation whose host frame was freed or replaced (counter, trace event, the first few
// accesses in full) and, under --check, how it stops the VM. The detection itself lives in the
// processor's frame-generation check, the shadow walk (vcpu-mmu.ts) and detector.ts.

import type { PcBoard } from '../machine/pc-board.js';
import { EV_STALE } from '../obs/events.js';
import { EXIT_STATUS_STALE } from '../obs/exit-status.js';
import type { ShadowMmu } from './shadow/mmu.js';
import { refIndex, refPage } from './shadow/rmap.js';
import type { ShadowVcpuMmu } from './shadow/vcpu-mmu.js';
import type { KvmStats } from './stats.js';

/** One stale access, as the detector reports it. */
export interface StaleAccess {
  vcpu: number;
  gva: number;
  gfn: number;
  frame: number;
  write: boolean;
}

/** How many stale accesses a VM keeps in full (the counter counts them all). */
export const MAX_STALE_RECORDS = 16;

export interface StaleVm {
  readonly stats: KvmStats;
  readonly mmu: ShadowMmu;
  readonly board: PcBoard;
  readonly staleRecords: StaleAccess[];
}

/** Count, trace and keep one stale access; with `stop` (--check) end the VM with exit status 5. */
export function recordStale(vm: StaleVm, stop: boolean, vcpu: number, gva: number, gfn: number, frame: number, write: boolean): void {
  vm.stats.stale_accesses++;
  const ring = vm.mmu.ring;
  if (ring !== null) ring.emit(EV_STALE, vcpu, gva >>> 0, gfn, frame, write ? 1 : 0);
  if (vm.staleRecords.length < MAX_STALE_RECORDS) vm.staleRecords.push({ vcpu, gva: gva >>> 0, gfn, frame, write });
  if (stop) {
    const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
    vm.board.stop({
      exitCode: EXIT_STATUS_STALE,
      reason: 'exit',
      message: `stale access: vcpu ${vcpu} ${write ? 'wrote' : 'read'} gva ${hex(gva)} gfn ${gfn < 0 ? '?' : hex(gfn)} through host frame ${frame}, which was freed or replaced`,
    });
  }
}

/** The gfn a vCPU's shadow root maps lin to, or -1 (for stale reports from TLB hits). */
export function gfnOfShadow(mmu: ShadowMmu, vmmu: ShadowVcpuMmu, lin: number): number {
  const ref = vmmu.leafRef(lin);
  const sp = ref < 0 ? null : mmu.pages[refPage(ref)];
  if (sp === null || sp === undefined) return -1;
  const idx = refIndex(ref);
  return sp.spt[idx]! & 1 ? sp.gfns[idx]! : -1;
}
