// `bench swap --jobs N`: grid cells on N worker threads. The engine imports no node: module, so
// a worker runs exactly what the main thread would; the worker entry is the CLI bundle itself
// (started with workerData.kind = 'swap-cell'), which is why --jobs needs the built CLI. Each
// cell is independent and seeded, so the rows are the same whatever N is (except wall time).

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { nullLogger } from '../src/obs/log.js';
import { runSwapCell, type SwapCellOutcome, type SwapCellSpec } from '../src/sim/swap-cell.js';

/** A cell spec without its callbacks: what crosses to a worker. */
export type CellJob = Omit<SwapCellSpec, 'log' | 'onTick'>;

interface JobMessage {
  id: number;
  job: CellJob;
}
interface DoneMessage {
  id: number;
  outcome: SwapCellOutcome;
  seconds: number;
}

const KIND = 'swap-cell';

/** True (and the worker loop started) when this thread is a swap-cell worker. */
export function runSwapWorkerIfAny(): boolean {
  if (isMainThread || (workerData as { kind?: string } | null)?.kind !== KIND || parentPort === null) return false;
  const port = parentPort;
  port.on('message', (m: JobMessage) => {
    const t0 = performance.now();
    const outcome = runSwapCell({ ...m.job, log: nullLogger });
    const done: DoneMessage = { id: m.id, outcome, seconds: (performance.now() - t0) / 1000 };
    port.postMessage(done);
  });
  return true;
}

/** Whether this module is running from the CLI bundle (a worker can start it). */
export function poolAvailable(): boolean {
  return import.meta.url.endsWith('.mjs');
}

export class SwapPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: { job: CellJob; resolve: (d: DoneMessage) => void; reject: (e: Error) => void; id: number }[] = [];
  private readonly pending = new Map<number, { resolve: (d: DoneMessage) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 0;

  constructor(size: number) {
    const entry = fileURLToPath(import.meta.url);
    for (let i = 0; i < size; i++) {
      const w = new Worker(entry, { workerData: { kind: KIND } });
      w.on('message', (d: DoneMessage) => {
        const p = this.pending.get(d.id);
        this.pending.delete(d.id);
        this.idle.push(w);
        this.pump();
        p?.resolve(d);
      });
      w.on('error', (e) => {
        for (const [id, p] of this.pending) {
          if (p.worker === w) {
            this.pending.delete(id);
            p.reject(e);
          }
        }
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  run(job: CellJob): Promise<{ outcome: SwapCellOutcome; seconds: number }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject, id: this.nextId++ });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const w = this.idle.shift() as Worker;
      const { job, resolve, reject, id } = this.waiting.shift()!;
      this.pending.set(id, { resolve, reject, worker: w });
      w.postMessage({ id, job } satisfies JobMessage);
    }
  }

  /** Stop every worker (the end of a run, or Ctrl-C: cells in flight are abandoned). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
