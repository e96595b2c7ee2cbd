// Guest-physical memory as the hypervisor itself reads and writes it (KVM's kvm_read_guest,
// kvm_write_guest and kvm_vcpu_read_guest_atomic): gpa -> memslot -> hva -> the VM process's mm,
// through the host's copy_{from,to}_user, so the host may fault, swap in or break COW on the way.
// The guest walk reads page tables through it; the loader writes the image through it.

import type { Host } from '../host/host.js';
import type { Mm } from '../host/mm.js';
import type { GuestPhysWriter } from '../machine/guest-phys-writer.js';
import type { Memslots } from './memslots.js';
import { PAGE_SIZE } from './memslots.js';
import type { GuestPhysMemory } from './shadow/guest-walk.js';

export class VmGuestMemory implements GuestPhysMemory {
  private readonly word = new Uint8Array(4);

  constructor(
    private readonly host: Host,
    private readonly mm: Mm,
    private readonly memslots: Memslots,
  ) {}

  /** hva of gpa, or -1 outside every memslot. */
  private hvaOf(gpa: number): number {
    const slot = this.memslots.find(gpa >>> 12);
    return slot === null ? -1 : slot.gfnToHva(gpa >>> 12) + (gpa & 0xfff);
  }

  readGpa32(gpa: number): number {
    const hva = this.hvaOf(gpa);
    const w = this.word;
    if (hva < 0 || this.mm.dead || this.host.accessUser(this.mm, hva, w, false) < 0) return -1;
    return w[0]! | (w[1]! << 8) | (w[2]! << 16) | (w[3]! << 24);
  }

  writeGpa32(gpa: number, value: number): void {
    const hva = this.hvaOf(gpa);
    if (hva < 0 || this.mm.dead) return;
    const w = this.word;
    w[0] = value;
    w[1] = value >>> 8;
    w[2] = value >>> 16;
    w[3] = value >>> 24;
    this.host.accessUser(this.mm, hva, w, true);
  }

  peekGpa32(gpa: number): number | null {
    const hva = this.hvaOf(gpa);
    if (hva < 0) return -1;
    const frame = this.host.frameAt(this.mm, hva & ~0xfff);
    if (frame < 0) return null;
    const ram = this.host.ram;
    const o = frame * PAGE_SIZE + (gpa & 0xfff);
    return ram[o]! | (ram[o + 1]! << 8) | (ram[o + 2]! << 16) | (ram[o + 3]! << 24);
  }

  /**
   * The dword the guest would read at gpa, wherever the host keeps its page (Host.peekPage: the
   * frame, the swap cache, the swap device, or zeros never populated), for debuggers and views:
   * nothing is faulted or swapped in. -1 outside every memslot (as peekGpa32), null when the
   * host has no bytes for it. `page` is the caller's 4 KiB scratch.
   */
  peekGpa32Anywhere(gpa: number, page: Uint8Array): number | null {
    const hva = this.hvaOf(gpa);
    if (hva < 0) return -1;
    if (!this.host.peekPage(this.mm, hva & ~0xfff, page)) return null;
    const o = gpa & 0xffc;
    return page[o]! | (page[o + 1]! << 8) | (page[o + 2]! << 16) | (page[o + 3]! << 24);
  }

  /** Copy bytes to guest-physical memory page by page; gpas outside every slot are dropped. */
  write(gpa: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const a = gpa + done;
      const n = Math.min(bytes.length - done, PAGE_SIZE - (a & 0xfff));
      const hva = this.hvaOf(a);
      if (hva >= 0) this.host.accessUser(this.mm, hva, bytes.subarray(done, done + n), true);
      done += n;
    }
  }

  /** The loader's view (GuestPhysWriter). */
  writer(): GuestPhysWriter {
    return {
      write: (gpa, bytes) => this.write(gpa, bytes),
      zero: (gpa, len) => {
        const zeros = new Uint8Array(PAGE_SIZE);
        for (let off = 0; off < len; ) {
          const n = Math.min(len - off, PAGE_SIZE - ((gpa + off) & 0xfff));
          this.write(gpa + off, zeros.subarray(0, n));
          off += n;
        }
      },
    };
  }
}
