// Host ABI constants: page geometry, mmap/mprotect/madvise flags, errno values and the
// mmu_notifier event enum. Mirrors include/uapi/asm-generic/mman-common.h, errno-base.h and
// enum mmu_notifier_event in include/linux/mmu_notifier.h.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Top of the simulated user address space (i386's 3G/1G split); `ULONG_MAX`-like ranges end here. */
export const TASK_SIZE = 0xc000_0000;
/** Lowest address mmap hands out when the caller gives no hint. */
export const MMAP_MIN_ADDR = 0x1000_0000;

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;

export const MADV_DONTNEED = 4;
export const MADV_MERGEABLE = 12;
/** Reclaim the range now (Linux 5.4+), ignoring referenced bits. */
export const MADV_PAGEOUT = 21;
export const MADV_UNMERGEABLE = 13;

export const EPERM = 1;
export const EIO = 5;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EOVERFLOW = 75;

/** enum mmu_notifier_event (6.x order). */
export const MMU_NOTIFY_UNMAP = 0;
export const MMU_NOTIFY_CLEAR = 1;
export const MMU_NOTIFY_PROTECTION_VMA = 2;
export const MMU_NOTIFY_PROTECTION_PAGE = 3;
export const MMU_NOTIFY_SOFT_DIRTY = 4;
export const MMU_NOTIFY_RELEASE = 5;
export const MMU_NOTIFY_MIGRATE = 6;
export const MMU_NOTIFY_EXCLUSIVE = 7;
export const MMU_NOTIFY_EVENT_NAMES: readonly string[] = [
  'UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE',
];
