// Sleepable RCU as the notifier core uses it: read-side sections around every notifier walk,
// call_srcu for deferred frees, synchronize_srcu to wait for them. Mirrors the single global
// `srcu` of mm/mmu_notifier.c (one per simulated host here, so hosts in one process are separate).
//
// Model: a callback queued by callSrcu runs only when a grace period completes, i.e. at
// synchronize() (or a scheduler's srcuStep()) with no reader inside a read-side section.
// Calling synchronize() from inside a read-side section would deadlock in Linux: it throws here.

export type SrcuCallback = () => void;

export class Srcu {
  /** Readers currently inside srcu_read_lock..unlock. */
  readers = 0;
  private pending: SrcuCallback[] = [];
  /** Grace periods completed so far. */
  gracePeriods = 0;
  callbacksRun = 0;

  readLock(): void {
    this.readers++;
  }

  readUnlock(): void {
    if (this.readers <= 0) throw new Error('srcu: read unlock without lock');
    this.readers--;
  }

  callSrcu(fn: SrcuCallback): void {
    this.pending.push(fn);
  }

  get pendingCallbacks(): number {
    return this.pending.length;
  }

  /** synchronize_srcu: a full grace period; then the callbacks queued before it run. */
  synchronize(): void {
    if (this.readers > 0) throw new Error('srcu: synchronize_srcu inside a read-side section would deadlock');
    this.gracePeriods++;
    this.runPending();
  }

  /** An asynchronous grace period (the SRCU worker): completes only when no reader is active. */
  step(): boolean {
    if (this.readers > 0 || this.pending.length === 0) return false;
    this.gracePeriods++;
    this.runPending();
    return true;
  }

  private runPending(): void {
    // Callbacks queued by these callbacks wait for the next grace period.
    const batch = this.pending;
    this.pending = [];
    for (const fn of batch) {
      this.callbacksRun++;
      fn();
    }
  }
}
