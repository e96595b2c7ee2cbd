// Emulated guest writes to write-protected guest page tables (KVM's kvm_mmu_track_write, formerly
// kvm_mmu_pte_write). The guest's store has already been made in guest memory, exactly once; here
// every shadow page shadowing the written gfn loses the sptes derived from the written gpte, or
// is zapped whole when the write is misaligned or the table is being flooded with writes (the
// guest is probably reusing the page for something else). TLBs are flushed before the guest runs.

import { EV_EMULATED_PT_WRITE, HOST, ZAP_FLOOD, ZAP_PTE_WRITE } from '../../obs/events.js';
import type { ShadowMmu } from './mmu.js';
import { isDirect, roleLevel } from './role.js';

/** detect_write_misaligned: anything but a whole aligned gpte, except a 1-byte write at its start. */
function writeMisaligned(offset: number, bytes: number): boolean {
  if ((offset & 3) === 0 && bytes === 1) return false;
  return ((offset ^ (offset + bytes - 1)) & ~3) !== 0 || bytes < 4;
}

/** detect_write_flooding: >= 3 emulated writes to a non-leaf table without a walk using it. */
const FLOOD_THRESHOLD = 3;

export function trackWrite(mmu: ShadowMmu, gfn: number, offset: number, bytes: number, vcpu = HOST): void {
  if (mmu.indirectShadowPages === 0) return;
  mmu.stats.mmu_pte_write++;
  const ring = mmu.ring;
  const ev = ring === null ? -1 : ring.emit(EV_EMULATED_PT_WRITE, vcpu, gfn, offset, bytes, 0, 0);
  const cause = mmu.zapCause;
  let flush = false;
  let pagesZapped = 0;
  let dropped = 0;
  for (const sp of [...mmu.pagesForGfn(gfn)]) {
    if (!sp.valid || isDirect(sp.role)) continue;
    let flooded = false;
    if (roleLevel(sp.role) > 1) flooded = ++sp.writeFloodingCount >= FLOOD_THRESHOLD;
    if (writeMisaligned(offset, bytes) || flooded) {
      mmu.zapCause = ZAP_FLOOD;
      mmu.zapPage(sp);
      mmu.stats.mmu_flooded++;
      pagesZapped++;
      continue;
    }
    // Aligned writes touch one gpte (or two for an 8-byte store).
    const first = offset >>> 2;
    const last = (offset + bytes - 1) >>> 2;
    mmu.zapCause = ZAP_PTE_WRITE;
    for (let i = first; i <= last && i < 1024; i++) {
      if (sp.spt[i] !== 0) {
        mmu.dropSpte(sp, i);
        dropped++;
        flush = true;
      }
    }
  }
  mmu.zapCause = cause;
  if (ring !== null) {
    ring.setField(ev, 3, pagesZapped);
    ring.setField(ev, 4, dropped);
  }
  if (flush) mmu.vcpus.flushRemoteTlbs();
}
