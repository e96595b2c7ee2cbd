// The web page's simulation worker: receives a run request (cell parameters and the memhog image),
// advances a WebCell in chunks of scheduler steps for about 40 ms of wall time at a time, and
// posts the live figures and new series samples after each slice, yielding to its event loop in
// between so a stop request gets through. The page runs this same code in its main thread when
// it cannot start a Worker.

import { SERIES_FIELDS, WebCell, hostBytesOf, type WebCellParams, type WebSnapshot } from './web-cell.js';
import { traceCell, tracePresetParams } from './trace-cell.js';

/** Scheduler steps per chunk: one series sample each (about 2-5 ms of simulation). */
export const CHUNK_STEPS = 256;
/** Wall time per slice before the worker posts and yields. */
const SLICE_MS = 40;

/** What the page sends. */
export type WorkerRequest =
  | { type: 'run'; id: number; params: WebCellParams; image: Uint8Array }
  | { type: 'trace'; id: number; params: WebCellParams; image: Uint8Array }
  | { type: 'stop'; id: number };

/** What the worker posts back. `samples` are the series samples added since the last message. */
export type WorkerReply =
  | { type: 'progress' | 'done'; id: number; snap: WebSnapshot; samples: number[]; stride: number; seconds: number; hostBytes: number }
  | { type: 'error'; id: number; message: string }
  /** The traced preset: the whole `trace --html` page, rendered in the worker. */
  | { type: 'trace'; id: number; snap: WebSnapshot; html: string; events: number; seconds: number; hostBytes: number };

/** The parts of a DedicatedWorkerGlobalScope (or the page's stand-in) the worker uses. */
export interface WorkerScope {
  postMessage(message: WorkerReply): void;
  onmessage: ((event: { data: WorkerRequest }) => void) | null;
  setTimeout(fn: () => void, ms: number): unknown;
}

/** Serve run requests on `scope`; one run at a time (a new run replaces the old one). */
export function serveWorker(scope: WorkerScope, now: () => number): void {
  let current: { id: number; cell: WebCell; sent: number; t0: number; stopped: boolean } | null = null;

  const reply = (type: 'progress' | 'done', snap: WebSnapshot): void => {
    const c = current!;
    const samples = c.cell.series.slice(c.sent);
    c.sent = c.cell.series.length;
    scope.postMessage({ type, id: c.id, snap, samples, stride: SERIES_FIELDS.length, seconds: (now() - c.t0) / 1000, hostBytes: c.cell.spec.hostMemBytes });
  };

  const pump = (run: NonNullable<typeof current>): void => {
    if (current !== run) return; // replaced by a newer run
    try {
      let snap: WebSnapshot;
      if (run.stopped) {
        snap = run.cell.stop();
      } else {
        const t = now();
        do snap = run.cell.advance(CHUNK_STEPS);
        while (!snap.done && now() - t < SLICE_MS);
      }
      if (snap.done) {
        reply('done', snap);
        current = null;
      } else {
        reply('progress', snap);
        scope.setTimeout(() => pump(run), 0);
      }
    } catch (e) {
      scope.postMessage({ type: 'error', id: run.id, message: e instanceof Error ? e.message : String(e) });
      current = null;
    }
  };

  scope.onmessage = (event) => {
    const m = event.data;
    if (m.type === 'stop') {
      if (current !== null && current.id === m.id) current.stopped = true;
      return;
    }
    if (m.type === 'trace') {
      // Small by design (one VM, a few million instructions): run in one piece, then the page.
      current = null;
      try {
        const t0 = now();
        const r = traceCell(m.params, m.image, now);
        scope.postMessage({ type: 'trace', id: m.id, snap: r.snap, html: r.html, events: r.events, seconds: (now() - t0) / 1000, hostBytes: hostBytesOf(tracePresetParams(m.params)) });
      } catch (e) {
        scope.postMessage({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
      }
      return;
    }
    try {
      const cell = new WebCell(m.params, m.image);
      current = { id: m.id, cell, sent: 0, t0: now(), stopped: false };
      const run = current;
      reply('progress', cell.snapshot());
      scope.setTimeout(() => pump(run), 0);
    } catch (e) {
      scope.postMessage({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
    }
  };
}
