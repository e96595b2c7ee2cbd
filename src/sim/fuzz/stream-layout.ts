// The fixed memory layout of a generated fuzz guest, shared by stream-runtime.S (which hard-codes
// the same addresses), the stream generator and the image builder. Guest RAM is 4 MiB.

export const GUEST_RAM = 4 * 1024 * 1024;
export const BASE = 0x100000;
/** Configuration block the runtime reads (see stream-runtime.S for the fields). */
export const CFG = BASE + 0x1000;
export const CFG_GATES = CFG + 0x80;
/** IDTR images (limit, base) whose base is scratch page k: the hostile "IDT on a page" ending. */
export const IDTR_ALT = CFG + 0x100;
export const GDTR = BASE + 0x1200;
export const IDTR = BASE + 0x1208;
export const STREAM = BASE + 0x4000;
export const STREAM_MAX = 0x8000;
export const LENTAB = BASE + 0xc000;
export const KSTACK = BASE + 0x18000;
export const USER_STACK = BASE + 0x1c000;
export const PD = BASE + 0x1c000;
export const PT0 = BASE + 0x1d000;
export const PT1 = BASE + 0x1e000;
export const IMAGE_END = BASE + 0x1f000;
export const SCRATCH = 0x200000;
export const SCRATCH_PAGES = 8;
export const SCRATCH_EBP = SCRATCH + (SCRATCH_PAGES * 4096) / 2;
/** PT1 (linear 4..8 MiB): entries 0..7 alias the stream pages, 8..10 the PD and page tables,
 *  16..23 scratch frames (or, hostile, addresses outside RAM). */
export const ALIAS_CODE_VA = 0x400000;
export const ALIAS_PT_VA = 0x408000;
export const ALIAS_SCRATCH_VA = 0x410000;
/** PD[2]: a 4 MiB page over guest-physical 0 when CR4.PSE=1 (a page table at 0 when clear). */
export const LARGE_VA = 0x800000;
/** A guest-physical address outside RAM (reads all ones, writes dropped). */
export const BEYOND_RAM_GPA = 0x1000000;
