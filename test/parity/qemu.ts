// The QEMU oracle lives in bench/qemu.ts (bench fuzz and bench cpu run it too); this path stays
// for the test files that still import it from here.
export * from '../../bench/qemu.js';
