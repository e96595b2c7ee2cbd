// Progress of a benchmark grid on stderr: on a terminal one status line rewritten in place with
// '\r' (cell i/n, mode, ratio, elapsed, ETA); elsewhere one log record per finished cell through
// a callback, so CI logs and `2> file` stay readable. Wall time enters only through `now`.

export interface ProgressCellInfo {
  mode: string;
  overcommit: number;
}

export interface ProgressOptions {
  /** Cells this run will execute (the shard's, not the whole grid's). */
  total: number;
  /** Rewrite one status line (stderr is a terminal) or emit a record per finished cell. */
  isTTY: boolean;
  /** Raw text to the terminal (TTY mode). */
  write(s: string): void;
  /** One finished-cell record, without a newline (non-TTY mode). */
  log(line: string): void;
  /** Seconds on a monotonic clock; performance.now() / 1000 by default. */
  now?: () => number;
  /** Terminal width; the status line is cut to fit so '\r' rewrites it cleanly. */
  columns?: number;
  /** Non-TTY: tick() logs a "still running" record at most this often (seconds; default 30). */
  heartbeatSeconds?: number;
}

/** 7 -> "7s", 125 -> "2m05s", 3725 -> "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A cell's own time: tenths of a second below 10 s (cells of a small grid take well under one),
 *  else as formatDuration. */
export function formatCellTime(seconds: number): string {
  return Number.isFinite(seconds) && seconds >= 0 && seconds < 9.95 ? `${seconds.toFixed(1)}s` : formatDuration(seconds);
}

/** Remaining time assuming the remaining cells cost the mean of the finished ones; null before any. */
export function estimateRemaining(elapsed: number, done: number, total: number): number | null {
  if (done <= 0) return null;
  return (elapsed / done) * Math.max(0, total - done);
}

/** "cell 3/10 notifier x1.5 | elapsed 12s | ETA 28s" */
export function statusLine(i: number, total: number, cell: ProgressCellInfo, elapsed: number, done: number): string {
  const eta = estimateRemaining(elapsed, done, total);
  return `cell ${i}/${total} ${cell.mode} x${cell.overcommit} | elapsed ${formatDuration(elapsed)} | ETA ${eta === null ? '?' : formatDuration(eta)}`;
}

export class Progress {
  private readonly now: () => number;
  private readonly t0: number;
  private done = 0;
  private started = 0;
  private cellT0 = 0;
  private current: ProgressCellInfo | null = null;
  private lineShown = false;
  /** When the screen or the log last heard from us, for tick()'s rate limit. */
  private lastShown = 0;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? ((): number => performance.now() / 1000);
    this.t0 = this.now();
    this.lastShown = this.t0;
  }

  /** A cell begins: on a terminal, the status line shows it. */
  start(cell: ProgressCellInfo): void {
    this.started++;
    this.current = cell;
    this.cellT0 = this.now();
    if (this.opts.isTTY) this.redraw();
  }

  /**
   * The current cell finished with `outcome` ('ok', 'oom-killed', ...). `seconds` is the cell's
   * own run time when it was measured elsewhere (a worker thread of --jobs N): start() and
   * finish() then come together when the result arrives, and the time between them means nothing.
   */
  finish(outcome: string, seconds?: number): void {
    const cell = this.current;
    if (cell === null) return;
    this.done++;
    const t = this.now();
    if (this.opts.isTTY) {
      this.redraw();
    } else {
      const elapsed = t - this.t0;
      const eta = estimateRemaining(elapsed, this.done, this.opts.total);
      this.opts.log(
        `cell ${this.done}/${this.opts.total} ${cell.mode} x${cell.overcommit}: ${outcome} in ${formatCellTime(seconds ?? t - this.cellT0)} ` +
          `(elapsed ${formatDuration(elapsed)}, ETA ${eta === null ? '?' : formatDuration(eta)})`,
      );
    }
    this.lastShown = t;
    this.current = null;
  }

  /**
   * Call now and then from inside a long cell (the run loop is synchronous, so no timer would
   * fire): refreshes the elapsed time on a terminal at most 4 times a second, and elsewhere logs
   * a "still running" record every heartbeatSeconds. Cheap when there is nothing to do.
   */
  tick(): void {
    const cell = this.current;
    if (cell === null) return;
    const t = this.now();
    if (this.opts.isTTY) {
      if (t - this.lastShown >= 0.25) this.redraw();
    } else if (t - this.lastShown >= (this.opts.heartbeatSeconds ?? 30)) {
      this.opts.log(
        `cell ${this.started}/${this.opts.total} ${cell.mode} x${cell.overcommit}: still running after ${formatDuration(t - this.cellT0)} ` +
          `(elapsed ${formatDuration(t - this.t0)})`,
      );
      this.lastShown = t;
    }
  }

  /** Clears the status line so the next output starts on a clean line. Call at the end and on Ctrl-C. */
  end(): void {
    if (this.opts.isTTY && this.lineShown) this.opts.write('\r\x1b[K');
    this.lineShown = false;
  }

  private redraw(): void {
    const cell = this.current;
    if (cell === null) return;
    let line = statusLine(this.started, this.opts.total, cell, this.now() - this.t0, this.done);
    const cols = this.opts.columns;
    if (cols !== undefined && cols > 1 && line.length >= cols) line = line.slice(0, cols - 1);
    this.opts.write(`\r${line}\x1b[K`);
    this.lineShown = true;
    this.lastShown = this.now();
  }
}
