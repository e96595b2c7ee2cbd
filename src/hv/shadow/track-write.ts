// Emulated guest writes to write-protected guest page tables (KVM's kvm_mmu_track_write, formerly
// kvm_mmu_pte_write). The guest's store has already been made in guest memory, exactly once; here
// every shadow page shadowing the written gfn loses the sptes derived from the written gpte, or
// is zapped whole when the write is misaligned or the table is being flooded with writes (the
// guest is probably reusing the page for something else). TLBs are flushed before the guest runs.

import type { ShadowMmu } from './mmu.js';
import { isDirect, roleLevel } from './role.js';

/** detect_write_misaligned: anything but a whole aligned gpte, except a 1-byte write at its start. */
function writeMisaligned(offset: number, bytes: number): boolean {
  if ((offset & 3) === 0 && bytes === 1) return false;
  return ((offset ^ (offset + bytes - 1)) & ~3) !== 0 || bytes < 4;
}

/** detect_write_flooding: >= 3 emulated writes to a non-leaf table without a walk using it. */
const FLOOD_THRESHOLD = 3;

export function trackWrite(mmu: ShadowMmu, gfn: number, offset: number, bytes: number): void {
  if (mmu.indirectShadowPages === 0) return;
  mmu.stats.mmu_pte_write++;
  let flush = false;
  for (const sp of [...mmu.pagesForGfn(gfn)]) {
    if (!sp.valid || isDirect(sp.role)) continue;
    let flooded = false;
    if (roleLevel(sp.role) > 1) flooded = ++sp.writeFloodingCount >= FLOOD_THRESHOLD;
    if (writeMisaligned(offset, bytes) || flooded) {
      mmu.zapPage(sp);
      mmu.stats.mmu_flooded++;
      continue;
    }
    // Aligned writes touch one gpte (or two for an 8-byte store).
    const first = offset >>> 2;
    const last = (offset + bytes - 1) >>> 2;
    for (let i = first; i <= last && i < 1024; i++) {
      if (sp.spt[i] !== 0) {
        mmu.dropSpte(sp, i);
        flush = true;
      }
    }
  }
  if (flush) mmu.vcpus.flushRemoteTlbs();
}
