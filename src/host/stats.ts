// Plain-number counters of the host mm (vmstat-like: pgfault, pswpin, pswpout, cow, ksm
// pages_shared, reclaim failures by cause, oom_kill). Hot paths only increment fields.

export class HostStats {
  faults = 0;
  zeroFills = 0;
  swapIns = 0;
  swapInsFromCache = 0;
  swapOuts = 0;
  swapOutsClean = 0;
  swapReadErrors = 0;
  swapWriteErrors = 0;
  cowBreaks = 0;
  cowReuses = 0;
  cowCopiesForPins = 0;
  forkEagerCopies = 0;
  gups = 0;
  gupFailures = 0;
  ksmPagesScanned = 0;
  ksmMerges = 0;
  ksmFullScans = 0;
  ksmRefusedPinned = 0;
  ksmCowBreaks = 0;
  reclaimScanned = 0;
  reclaimFreed = 0;
  reclaimActivated = 0;
  reclaimFailPinned = 0;
  reclaimFailMapped = 0;
  reclaimFailSwapFull = 0;
  reclaimFailIo = 0;
  reclaimFailLocked = 0;
  directReclaims = 0;
  kswapdRuns = 0;
  allocFailures = 0;
  oomKills = 0;
  /** Pages the OOM reaper freed before the victim's exit_mmap, and vmas it had to skip (-EAGAIN). */
  oomReapedPages = 0;
  oomReapSkipped = 0;
  /** Pages moved to another frame (migration, compaction). */
  migrations = 0;
  lastOomMessage = '';
  framesFreed = 0;
  notifierStarts = 0;
  notifierEnds = 0;
  notifierStartsEagain = 0;
}
