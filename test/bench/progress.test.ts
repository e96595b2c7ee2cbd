// Tests of the progress reporter with an injected clock: TTY status line and per-cell log records.

import { describe, expect, it } from 'vitest';
import { Progress, estimateRemaining, formatDuration, statusLine } from '../../bench/progress.js';

function harness(isTTY: boolean, columns?: number) {
  let t = 100;
  const written: string[] = [];
  const logged: string[] = [];
  const p = new Progress({ total: 4, isTTY, columns, now: () => t, write: (s) => void written.push(s), log: (l) => void logged.push(l), heartbeatSeconds: 10 });
  return { p, written, logged, advance: (s: number) => void (t += s) };
}

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
  it('estimates from the mean cell time', () => {
    expect(estimateRemaining(10, 0, 4)).toBeNull();
    expect(estimateRemaining(10, 2, 4)).toBe(10);
    expect(estimateRemaining(10, 4, 4)).toBe(0);
    expect(statusLine(3, 4, { mode: 'pin', overcommit: 1.5 }, 20, 2)).toBe('cell 3/4 pin x1.5 | elapsed 20s | ETA 20s');
  });
  it('rewrites one line on a TTY and clears it at the end', () => {
    const h = harness(true);
    h.p.start({ mode: 'notifier', overcommit: 0.5 });
    h.advance(6);
    h.p.finish('ok');
    h.p.start({ mode: 'notifier', overcommit: 1 });
    h.advance(0.1);
    h.p.tick(); // too soon after the last redraw: nothing
    h.advance(1);
    h.p.tick();
    h.p.end();
    expect(h.logged).toEqual([]);
    expect(h.written).toEqual([
      '\rcell 1/4 notifier x0.5 | elapsed 0s | ETA ?\x1b[K',
      '\rcell 1/4 notifier x0.5 | elapsed 6s | ETA 18s\x1b[K',
      '\rcell 2/4 notifier x1 | elapsed 6s | ETA 18s\x1b[K',
      '\rcell 2/4 notifier x1 | elapsed 7s | ETA 21s\x1b[K',
      '\r\x1b[K',
    ]);
    for (const w of h.written) expect(w).not.toContain('\n');
  });
  it('cuts the status line to the terminal width', () => {
    const h = harness(true, 20);
    h.p.start({ mode: 'notifier', overcommit: 0.5 });
    expect(h.written[0]).toBe('\rcell 1/4 notifier x\x1b[K');
  });
  it('logs one record per finished cell, and heartbeats, elsewhere', () => {
    const h = harness(false);
    h.p.start({ mode: 'pin', overcommit: 2 });
    h.p.tick();
    h.advance(12);
    h.p.tick();
    h.advance(3);
    h.p.finish('oom-killed');
    h.p.end();
    expect(h.written).toEqual([]);
    expect(h.logged).toEqual([
      'cell 1/4 pin x2: still running after 12s (elapsed 12s)',
      'cell 1/4 pin x2: oom-killed in 15s (elapsed 15s, ETA 45s)',
    ]);
  });
});
