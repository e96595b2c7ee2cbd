// SIGINT and SIGTERM for commands that run a guest: instead of dying where the signal lands
// (losing buffered console output, --stats, and leaving a swap file behind), the handler only
// records the signal; the run loop returns to the event loop between chunks of guest work, sees
// it, and the command stops the VM cleanly and exits 130 (SIGINT) or 143 (SIGTERM) as a shell
// reports a process killed by that signal.

import { EXIT_STATUS_INTERRUPTED, EXIT_STATUS_TERMINATED } from '../obs/exit-status.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export class StopSignals {
  /** The first signal received, or null. */
  signal: StopSignal | null = null;
  private readonly handlers = new Map<StopSignal, () => void>();

  /** Start catching SIGINT and SIGTERM (until dispose()). */
  install(): this {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = (): void => {
        this.signal ??= sig;
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
    return this;
  }

  dispose(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }

  /** The exit status for the signal received: 130 for SIGINT, 143 for SIGTERM. */
  static status(sig: StopSignal): number {
    return sig === 'SIGINT' ? EXIT_STATUS_INTERRUPTED : EXIT_STATUS_TERMINATED;
  }
}

/** Let the event loop run (signal handlers, timers) before the next chunk of guest work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
