// `bench fuzz --jobs N`: fuzz cases on N worker threads started from the CLI bundle (like
// bench/swap-pool.ts; the engine imports no node: module, so a worker runs it unchanged). Unlike
// the swap pool, every job has a wall-time watchdog: a case whose worker does not answer within
// the bound is a hang (the engine cannot be interrupted from inside), its worker is terminated
// and replaced, and the job resolves as a hang instead of blocking the sweep.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { runCase, type CaseResult, type CaseSpec, type FuzzImages } from '../src/sim/fuzz/fuzz-case.js';

const KIND = 'fuzz-case';

interface JobMessage {
  id: number;
  spec: CaseSpec;
}
interface DoneMessage {
  id: number;
  result: CaseResult;
  seconds: number;
}

export type PoolAnswer = { hang: false; result: CaseResult; seconds: number } | { hang: true; seconds: number };

/** True (and the worker loop started) when this thread is a fuzz worker. */
export function runFuzzWorkerIfAny(): boolean {
  const data = workerData as { kind?: string; images?: FuzzImages } | null;
  if (isMainThread || data?.kind !== KIND || parentPort === null) return false;
  const port = parentPort;
  const images = data.images as FuzzImages;
  port.on('message', (m: JobMessage) => {
    const t0 = performance.now();
    const result = runCase(m.spec, images);
    port.postMessage({ id: m.id, result, seconds: (performance.now() - t0) / 1000 } satisfies DoneMessage);
  });
  return true;
}

/** The CLI bundle this module runs from, when it does (a worker can start it). */
export function bundleEntry(): string | null {
  return import.meta.url.endsWith('.mjs') ? fileURLToPath(import.meta.url) : null;
}

interface Slot {
  worker: Worker;
  busy: { id: number; resolve: (a: PoolAnswer) => void; timer: ReturnType<typeof setTimeout>; t0: number } | null;
}

export class FuzzPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: { spec: CaseSpec; timeoutMs: number; resolve: (a: PoolAnswer) => void }[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    size: number,
    private readonly images: FuzzImages,
    private readonly timeoutMs: number,
    private readonly entry: string,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(this.entry, { workerData: { kind: KIND, images: this.images } }), busy: null };
    slot.worker.on('message', (d: DoneMessage) => {
      const b = slot.busy;
      if (b === null || b.id !== d.id) return;
      clearTimeout(b.timer);
      slot.busy = null;
      b.resolve({ hang: false, result: d.result, seconds: d.seconds });
      this.pump();
    });
    slot.worker.on('error', (e) => {
      // An error escaping runCase (it catches everything the engine throws) is a pool bug:
      // report it as an internal error of this case rather than losing the sweep.
      const b = slot.busy;
      if (b === null) return;
      clearTimeout(b.timer);
      slot.busy = null;
      const o = { status: 70, reason: 'internal', message: `worker: ${String(e).split('\n')[0]}`, serial: '', instructions: 0, regs: [] };
      b.resolve({ hang: false, result: { native: o, shadow: o, tdp: o, findings: [{ kind: 'internal-error', detail: o.message }], compiled: 0 }, seconds: 0 });
      this.replace(slot);
    });
    return slot;
  }

  private replace(slot: Slot): void {
    void slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) {
      this.slots[i] = this.spawn();
      this.pump();
    }
  }

  /** Run one case; `timeoutMs` overrides the pool's wall-time bound for this job. */
  run(spec: CaseSpec, timeoutMs = this.timeoutMs): Promise<PoolAnswer> {
    return new Promise((resolve) => {
      this.waiting.push({ spec, timeoutMs, resolve });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy !== null || this.waiting.length === 0 || this.closed) continue;
      const { spec, timeoutMs, resolve } = this.waiting.shift()!;
      const id = this.nextId++;
      const t0 = performance.now();
      const timer = setTimeout(() => {
        if (slot.busy?.id !== id) return;
        slot.busy = null;
        resolve({ hang: true, seconds: (performance.now() - t0) / 1000 });
        this.replace(slot);
      }, timeoutMs);
      slot.busy = { id, resolve, timer, t0 };
      slot.worker.postMessage({ id, spec } satisfies JobMessage);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.slots) if (s.busy) clearTimeout(s.busy.timer);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
