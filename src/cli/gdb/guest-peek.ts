// Guest memory as the debugger sees it: a linear (virtual) address translated through the
// vCPU's current page tables by a walk that only reads (like KVM's kvm_mmu_gva_to_gpa for
// KVM_TRANSLATE, but without setting accessed bits), then guest-physical bytes read or written
// through a GuestPhys whose reads never fault anything in (under the hypervisor a page the host
// does not hold reads from swap, or as zeros: Host.peekPage). A page the guest has not mapped is
// unreadable to the debugger, never a fault in the guest; a write to a mapped page of guest RAM
// always lands (through the host, which may fault it in).

import { peekGuestWalk } from '../../cpu/paging.js';

/** Guest-physical memory without side effects on reads (the target supplies it). */
export interface GuestPhys {
  /** Bytes [gpa, gpa+len) of one page, or null when not readable without changing state. */
  read(gpa: number, len: number): Uint8Array | null;
  /** The same bytes copied into out[off..off+len), allocating nothing (a watchpoint reads its
   *  bytes after every instruction); false when they are not readable. */
  readInto(gpa: number, out: Uint8Array, off: number, len: number): boolean;
  /** Store bytes within one page; false when the page is not guest RAM. */
  write(gpa: number, bytes: Uint8Array): boolean;
  /** Whether gpa is guest RAM a write can reach (resident or not: a write faults it in). */
  isRam(gpa: number): boolean;
}

export interface PagingRegs {
  cr0: number;
  cr3: number;
  cr4: number;
}

const entry = new Uint8Array(4);

function word(phys: GuestPhys, gpa: number): number | null {
  if (!phys.readInto(gpa, entry, 0, 4)) return null;
  return (entry[0]! | (entry[1]! << 8) | (entry[2]! << 16) | (entry[3]! << 24)) >>> 0;
}

/** The gpa of `gva` under the vCPU's paging state, or null (not mapped, or its tables unreadable). */
export function gvaToGpa(regs: PagingRegs, phys: GuestPhys, gva: number): number | null {
  return peekGuestWalk(regs.cr0, regs.cr3, regs.cr4, gva, (gpa) => word(phys, gpa)).gpa;
}

/** Read `len` bytes at `gva`; stops at the first page that cannot be read (the prefix is returned). */
export function readVirtual(regs: PagingRegs, phys: GuestPhys, gva: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  return out.subarray(0, readVirtualInto(regs, phys, gva, out, len));
}

/** readVirtual into out[0..len): how many bytes could be read (up to the first page that cannot). */
export function readVirtualInto(regs: PagingRegs, phys: GuestPhys, gva: number, out: Uint8Array, len: number): number {
  let done = 0;
  while (done < len) {
    const a = (gva + done) >>> 0;
    const n = Math.min(len - done, 0x1000 - (a & 0xfff));
    const gpa = gvaToGpa(regs, phys, a);
    if (gpa === null || !phys.readInto(gpa, out, done, n)) break;
    done += n;
  }
  return done;
}

/** Write bytes at `gva`; every page is translated first, so a failure writes nothing. A page the
 *  guest maps but the host has not populated (or has swapped out) is written all the same: the
 *  write goes through the host as KVM's kvm_write_guest does, faulting the page in. */
export function writeVirtual(regs: PagingRegs, phys: GuestPhys, gva: number, bytes: Uint8Array): boolean {
  const pieces: [number, Uint8Array][] = [];
  for (let done = 0; done < bytes.length; ) {
    const a = (gva + done) >>> 0;
    const n = Math.min(bytes.length - done, 0x1000 - (a & 0xfff));
    const gpa = gvaToGpa(regs, phys, a);
    if (gpa === null || !phys.isRam(gpa)) return false;
    pieces.push([gpa, bytes.subarray(done, done + n)]);
    done += n;
  }
  for (const [gpa, b] of pieces) if (!phys.write(gpa, b)) return false;
  return true;
}
