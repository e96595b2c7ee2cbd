// The trace event ring: a preallocated struct-of-arrays circular buffer the slow paths of the
// hypervisor write into and `shadowvisor trace` (and the visualizer) read back. Plays the part of
// the kernel's per-cpu trace ring buffer (kernel/trace/ring_buffer.c) in overwrite mode: when full
// the oldest event is overwritten and counted, never the newest dropped.
//
// emit() writes numbers into typed arrays in place: no allocation, no logging. A disabled ring is
// `null` at the call site, so tracing off costs one null check on a slow path.

import { HOST } from './events.js';

/** Numeric fields per event. */
export const EVENT_FIELD_COUNT = 5;

export const DEFAULT_RING_CAPACITY = 1 << 16;

export class EventRing {
  readonly capacity: number;
  readonly kinds: Uint8Array;
  readonly vcpus: Int16Array;
  /** Sequence number of the event in each slot (events ever emitted before it). */
  readonly seqs: Float64Array;
  readonly times: Float64Array;
  /** EVENT_FIELD_COUNT values per slot; doubles so both u32 addresses and -1 fit exactly. */
  readonly fields: Float64Array;
  /** Events ever emitted; the next event's sequence number. */
  emitted = 0;
  /** Virtual time source (the VM's vCPU 0 clock, set by whoever owns the ring). */
  clock: () => number = () => 0;

  constructor(capacity = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`event ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.kinds = new Uint8Array(capacity);
    this.vcpus = new Int16Array(capacity);
    this.seqs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.fields = new Float64Array(capacity * EVENT_FIELD_COUNT);
  }

  /** Record one event; returns its sequence number (for setField while it is still held). */
  emit(kind: number, vcpu: number, a = 0, b = 0, c = 0, d = 0, e = 0): number {
    const seq = this.emitted++;
    const i = seq % this.capacity;
    this.kinds[i] = kind;
    this.vcpus[i] = vcpu;
    this.seqs[i] = seq;
    this.times[i] = this.clock();
    const f = i * EVENT_FIELD_COUNT;
    const fs = this.fields;
    fs[f] = a;
    fs[f + 1] = b;
    fs[f + 2] = c;
    fs[f + 3] = d;
    fs[f + 4] = e;
    return seq;
  }

  /** Fill in a field of an event after the fact (e.g. the gfn range an invalidation covered). */
  setField(seq: number, field: number, value: number): void {
    if (!this.holds(seq)) return;
    this.fields[(seq % this.capacity) * EVENT_FIELD_COUNT + field] = value;
  }

  /** Events currently held. */
  get size(): number {
    return Math.min(this.emitted, this.capacity);
  }

  /** Events overwritten because the ring was full. */
  get overwritten(): number {
    return Math.max(0, this.emitted - this.capacity);
  }

  /** Sequence number of the oldest event held. */
  get oldestSeq(): number {
    return this.overwritten;
  }

  holds(seq: number): boolean {
    return seq >= this.oldestSeq && seq < this.emitted;
  }

  kindOf(seq: number): number {
    return this.kinds[this.slot(seq)]!;
  }

  vcpuOf(seq: number): number {
    return this.vcpus[this.slot(seq)]!;
  }

  timeOf(seq: number): number {
    return this.times[this.slot(seq)]!;
  }

  field(seq: number, k: number): number {
    return this.fields[this.slot(seq) * EVENT_FIELD_COUNT + k]!;
  }

  /** Forget every event (capacity and arrays stay). */
  clear(): void {
    this.emitted = 0;
  }

  private slot(seq: number): number {
    if (!this.holds(seq)) throw new RangeError(`event ${seq} is not in the ring (held: ${this.oldestSeq}..${this.emitted - 1})`);
    return seq % this.capacity;
  }
}

/** One event copied out of the ring (for readers; the ring itself never allocates these). */
export interface TraceEvent {
  seq: number;
  time: number;
  vcpu: number;
  kind: number;
  f: number[];
}

/** Copy the events held, oldest first. */
export function readEvents(ring: EventRing): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (let s = ring.oldestSeq; s < ring.emitted; s++) {
    const f: number[] = [];
    for (let k = 0; k < EVENT_FIELD_COUNT; k++) f.push(ring.field(s, k));
    out.push({ seq: s, time: ring.timeOf(s), vcpu: ring.vcpuOf(s), kind: ring.kindOf(s), f });
  }
  return out;
}

export { HOST };
