// How the image loader reaches guest-physical memory. Native mode writes into one flat RAM
// array; the hypervisor supplies a writer that resolves gpa -> memslot -> host frame, much as
// QEMU's loader goes through the address space (rom_add_blob / cpu_physical_memory_write).

export interface GuestPhysWriter {
  /** Copy `bytes` to guest-physical [gpa, gpa + bytes.length). The range was validated. */
  write(gpa: number, bytes: Uint8Array): void;
  /** Zero guest-physical [gpa, gpa + len). */
  zero(gpa: number, len: number): void;
}

/** A writer over flat guest RAM, where guest-physical address = array index. */
export function flatRamWriter(ram: Uint8Array): GuestPhysWriter {
  return {
    write: (gpa, bytes) => ram.set(bytes, gpa),
    zero: (gpa, len) => ram.fill(0, gpa, gpa + len),
  };
}
