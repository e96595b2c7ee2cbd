// Reading causality back out of the flat event stream for `shadowvisor trace`: which events belong
// to one vCPU fault (FAULT -> WALK -> GUP -> SPTE_SET or RETRY), which to one host invalidation
// (INV_START -> SPTE_ZAPs -> TLB_FLUSH -> INV_END), what started each invalidation (a host task
// or a vCPU's own gup running reclaim), and which later fault re-created a zapped mapping: the
// refault. Also the --gva / --gfn page filters, which follow the same groups.

import type { TraceEvent } from '../obs/event-ring.js';
import { MMU_NOTIFY_EVENT_NAMES } from '../host/constants.js';
import {
  EV_EMULATED_PT_WRITE,
  EV_FAULT,
  EV_GUEST_PF,
  EV_GUP,
  EV_HOST_TASK,
  EV_INV_END,
  EV_INV_START,
  EV_MMIO,
  EV_RETRY,
  EV_SPTE_SET,
  EV_SPTE_ZAP,
  EV_STALE,
  EV_UNSEEN,
  EV_TLB_FLUSH,
  EV_WALK,
  FLUSH_REMOTE,
  HOST,
  HOSTPAGE_MULTI,
  HOSTPAGE_NAMES,
  RETRY_CAUSE_GPTE,
  TASK_NAMES,
  ZAP_INVALIDATION,
} from '../obs/events.js';

export interface FaultGroup {
  kind: 'fault';
  vcpu: number;
  gva: number;
  /** From the WALK; -1 when the walk failed or was not recorded. */
  gfn: number;
  events: TraceEvent[];
  start: number;
  /** The terminal event's kind (SPTE_SET, RETRY, GUEST_PF, MMIO, GUP on failure), 0 while open. */
  outcome: number;
  gupDone: boolean;
}

export interface Refault {
  gfn: number;
  fault: FaultGroup | null;
}

export interface InvGroup {
  kind: 'inv';
  /** 1-based number among every invalidation in the trace (stable under filters). */
  n: number;
  events: TraceEvent[];
  start: number;
  /** seq of the outermost INV_END, -1 if the ring ended first. */
  end: number;
  /** What set it off: "kswapd", "vcpu0 fault at gva ... (gup of gfn ...)", or "host". */
  cause: string;
  zaps: TraceEvent[];
  refaults: Refault[];
  /** Faults that sampled the sequence before this invalidation and were retried because of it
   *  (the last invalidation before their RETRY): the race the seq/retry protocol exists for. */
  raced: FaultGroup[];
}

export type Group = FaultGroup | InvGroup;

export interface Grouped {
  faults: FaultGroup[];
  invs: InvGroup[];
  /** Group of each event by seq (events in none are standalone). */
  groupOf: Map<number, Group>;
}

const FAULT_KINDS = new Set([EV_FAULT, EV_WALK, EV_GUEST_PF, EV_GUP, EV_RETRY, EV_SPTE_SET, EV_MMIO]);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

function causeOf(lastTask: TraceEvent | null, open: (FaultGroup | null)[]): string {
  let best: FaultGroup | null = null;
  let bestSeq = lastTask === null ? -1 : lastTask.seq;
  for (const g of open) {
    if (g === null || g.gupDone) continue;
    const last = g.events[g.events.length - 1]!.seq;
    if (last > bestSeq) {
      best = g;
      bestSeq = last;
    }
  }
  if (best !== null) {
    const what = best.gfn >= 0 ? `gup of gfn ${hex(best.gfn)}` : 'guest page-table read';
    return `vcpu${best.vcpu} fault at gva ${hex(best.gva)} (${what})`;
  }
  if (lastTask !== null) return TASK_NAMES[lastTask.f[0]!] ?? 'host task';
  return 'host';
}

export function groupEvents(events: readonly TraceEvent[]): Grouped {
  const faults: FaultGroup[] = [];
  const invs: InvGroup[] = [];
  const groupOf = new Map<number, Group>();
  const open: (FaultGroup | null)[] = [];
  let inv: InvGroup | null = null;
  let depth = 0;
  let lastTask: TraceEvent | null = null;

  for (const e of events) {
    if (e.vcpu >= 0 && FAULT_KINDS.has(e.kind)) {
      let g = open[e.vcpu] ?? null;
      if (e.kind === EV_FAULT || g === null) {
        g = { kind: 'fault', vcpu: e.vcpu, gva: e.f[0]!, gfn: -1, events: [], start: e.seq, outcome: 0, gupDone: false };
        faults.push(g);
        open[e.vcpu] = g;
      }
      g.events.push(e);
      groupOf.set(e.seq, g);
      if (e.kind === EV_WALK) g.gfn = e.f[1]!;
      if (e.kind === EV_GUP) g.gupDone = true;
      const terminal = e.kind === EV_SPTE_SET || e.kind === EV_RETRY || e.kind === EV_GUEST_PF || e.kind === EV_MMIO || (e.kind === EV_GUP && e.f[2]! < 0);
      if (terminal) {
        g.outcome = e.kind;
        open[e.vcpu] = null;
      }
      // A retry over the sequence or an in-flight range is caused by the latest invalidation.
      if (e.kind === EV_RETRY && e.f[2] !== RETRY_CAUSE_GPTE && invs.length > 0) invs[invs.length - 1]!.raced.push(g);
      continue;
    }
    if (e.kind === EV_HOST_TASK) {
      lastTask = e;
      continue;
    }
    if (e.kind === EV_INV_START) {
      if (depth === 0) {
        inv = { kind: 'inv', n: invs.length + 1, events: [], start: e.seq, end: -1, cause: causeOf(lastTask, open), zaps: [], refaults: [], raced: [] };
        invs.push(inv);
      }
      depth++;
      inv!.events.push(e);
      groupOf.set(e.seq, inv!);
      continue;
    }
    if (inv === null) continue;
    if (e.kind === EV_INV_END) {
      inv.events.push(e);
      groupOf.set(e.seq, inv);
      if (--depth === 0) {
        inv.end = e.seq;
        inv = null;
      }
      continue;
    }
    if ((e.kind === EV_SPTE_ZAP && e.f[2] === ZAP_INVALIDATION) || (e.kind === EV_TLB_FLUSH && e.vcpu === HOST && e.f[1] === FLUSH_REMOTE)) {
      inv.events.push(e);
      groupOf.set(e.seq, inv);
      if (e.kind === EV_SPTE_ZAP) inv.zaps.push(e);
    }
  }
  findRefaults(faults, invs);
  return { faults, invs, groupOf };
}

/** For every gfn an invalidation zapped: the first later fault that walked to that gfn. */
function findRefaults(faults: readonly FaultGroup[], invs: InvGroup[]): void {
  const byGfn = new Map<number, FaultGroup[]>();
  for (const g of faults) {
    if (g.gfn < 0) continue;
    let l = byGfn.get(g.gfn);
    if (l === undefined) byGfn.set(g.gfn, (l = []));
    l.push(g);
  }
  for (const inv of invs) {
    if (inv.end < 0) continue;
    const seen = new Set<number>();
    for (const z of inv.zaps) {
      const gfn = z.f[0]!;
      if (seen.has(gfn)) continue;
      seen.add(gfn);
      const l = byGfn.get(gfn) ?? [];
      let lo = 0;
      let hi = l.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (l[mid]!.start > inv.end) hi = mid;
        else lo = mid + 1;
      }
      inv.refaults.push({ gfn, fault: l[lo] ?? null });
    }
  }
}

// ---- the page filters -------------------------------------------------------------------------

export interface PageFilter {
  gva?: number;
  gfn?: number;
}

const samePage = (a: number, b: number): boolean => a >= 0 && a >>> 12 === b >>> 12;

/** Does this event itself name the page? */
export function eventMatches(e: TraceEvent, f: PageFilter): boolean {
  const [a, b, , d, x] = e.f as [number, number, number, number, number];
  if (f.gfn !== undefined) {
    const g = f.gfn;
    switch (e.kind) {
      case EV_WALK:
      case EV_RETRY:
      case EV_SPTE_SET:
      case EV_MMIO:
      case EV_STALE:
        return b === g;
      case EV_GUP:
      case EV_EMULATED_PT_WRITE:
      case EV_SPTE_ZAP:
      case EV_UNSEEN:
        return a === g;
      case EV_INV_START:
        return d >= 0 && g >= d && g < x;
      default:
        return false;
    }
  }
  if (f.gva !== undefined) {
    const v = f.gva;
    switch (e.kind) {
      case EV_FAULT:
      case EV_GUEST_PF:
      case EV_WALK:
      case EV_RETRY:
      case EV_SPTE_SET:
      case EV_MMIO:
      case EV_STALE:
        return samePage(a, v);
      case EV_SPTE_ZAP:
        return samePage(x, v);
      default:
        return false;
    }
  }
  return true;
}

export function groupMatches(g: Group, f: PageFilter): boolean {
  if (g.kind === 'fault') {
    if (f.gfn !== undefined) return g.gfn === f.gfn;
    if (f.gva !== undefined) return samePage(g.gva, f.gva);
    return true;
  }
  if (g.events.some((e) => eventMatches(e, f))) return true;
  return false;
}

/** The events the flat listing prints under a filter: matching events, their whole faults, and
 *  the frame (start, flushes, end) of a matching invalidation. */
export function filterEvents(events: readonly TraceEvent[], grouped: Grouped, f: PageFilter): TraceEvent[] {
  if (f.gfn === undefined && f.gva === undefined) return [...events];
  const memo = new Map<Group, boolean>();
  const gm = (g: Group): boolean => {
    let m = memo.get(g);
    if (m === undefined) memo.set(g, (m = groupMatches(g, f)));
    return m;
  };
  return events.filter((e) => {
    if (eventMatches(e, f)) return true;
    const g = grouped.groupOf.get(e.seq);
    if (g === undefined || !gm(g)) return false;
    return g.kind === 'fault' || e.kind === EV_INV_START || e.kind === EV_INV_END || e.kind === EV_TLB_FLUSH;
  });
}

/** Invalidations to show under a filter: those touching the page or refaulting it. */
export function filterChains(invs: readonly InvGroup[], f: PageFilter): InvGroup[] {
  if (f.gfn === undefined && f.gva === undefined) return [...invs];
  return invs.filter((g) => groupMatches(g, f) || g.refaults.some((r) => r.fault !== null && groupMatches(r.fault, f)));
}

// ---- ordering and the chains of what KVM was never told -----------------------------------------

/** How much a chain shows: a zap that was refaulted, then a zap, then a race, then nothing. */
export function chainInterest(inv: InvGroup): number {
  if (inv.zaps.length > 0 && inv.refaults.some((r) => r.fault !== null)) return 3;
  if (inv.zaps.length > 0) return 2;
  if (inv.raced.length > 0) return 1;
  return 0;
}

/** The chains in reading order: the most telling first, in time order within each rank (a
 *  stable sort). Chains that zapped nothing come last: they only say the guest had not touched
 *  the page since its last fault-in. */
export function orderByInterest(invs: readonly InvGroup[]): InvGroup[] {
  return [...invs].sort((a, b) => chainInterest(b) - chainInterest(a) || a.n - b.n);
}

/**
 * An invalidation KVM never heard of (pin and none modes, or a broken notifier): the stale
 * detector's UNSEEN events for one gfn whose spte kept mapping `frame` after the host unmapped,
 * replaced or write-protected the page; then who was given that frame next (the first GUP that
 * returned it, for any gfn) and the first STALE access through the spte.
 */
export interface UnseenGroup {
  /** 1-based, in time order. */
  n: number;
  gfn: number;
  /** The host frame the spte still maps. */
  frame: number;
  /** UNSEEN_* of the first event. */
  what: number;
  /** What set the host off: "kswapd", "ksmd", "vcpu0 fault ... (reclaim)" or "host". */
  cause: string;
  /** The UNSEEN events (one per spte mapping the gfn, and repeats until the spte changes). */
  unseen: TraceEvent[];
  /** The first GUP after the first UNSEEN that was handed `frame` (another gfn, or this one
   *  swapped back in), or null when no guest page of this VM got it in the trace. */
  owner: TraceEvent | null;
  /** The first STALE access on this gfn through `frame`, or null. */
  firstStale: TraceEvent | null;
  /** STALE accesses on this gfn through `frame`. */
  stales: number;
}

/** The UNSEEN chains in reading order: those that led to a stale access first, time order within. */
export function orderUnseen(groups: readonly UnseenGroup[]): UnseenGroup[] {
  return [...groups].sort((a, b) => Number(b.firstStale !== null) - Number(a.firstStale !== null) || a.n - b.n);
}

/** Group UNSEEN events by (gfn, frame) until an SPTE_SET or SPTE_ZAP on the gfn replaces the spte. */
export function groupUnseen(events: readonly TraceEvent[]): UnseenGroup[] {
  const out: UnseenGroup[] = [];
  const open = new Map<number, UnseenGroup>(); // gfn -> the group still open on it
  const byFrame = new Map<number, UnseenGroup[]>(); // frame -> groups waiting for its next owner
  let lastTask: TraceEvent | null = null;
  const faults: (FaultGroup | null)[] = [];
  for (const e of events) {
    switch (e.kind) {
      case EV_HOST_TASK:
        lastTask = e;
        break;
      case EV_FAULT:
        if (e.vcpu >= 0) faults[e.vcpu] = { kind: 'fault', vcpu: e.vcpu, gva: e.f[0]!, gfn: -1, events: [e], start: e.seq, outcome: 0, gupDone: false };
        break;
      case EV_WALK:
        if (e.vcpu >= 0 && faults[e.vcpu]) faults[e.vcpu]!.gfn = e.f[1]!;
        break;
      case EV_GUP: {
        if (e.vcpu >= 0 && faults[e.vcpu]) {
          faults[e.vcpu]!.gupDone = true;
          faults[e.vcpu]!.events.push(e);
        }
        const waiting = byFrame.get(e.f[2]!);
        if (waiting !== undefined) {
          for (const g of waiting) g.owner = e;
          byFrame.delete(e.f[2]!);
        }
        break;
      }
      case EV_SPTE_SET:
      case EV_SPTE_ZAP:
      case EV_RETRY:
      case EV_GUEST_PF:
      case EV_MMIO: {
        if (e.kind === EV_SPTE_SET || e.kind === EV_SPTE_ZAP) open.delete(e.kind === EV_SPTE_SET ? e.f[1]! : e.f[0]!);
        if (e.vcpu >= 0 && e.kind !== EV_SPTE_ZAP) faults[e.vcpu] = null;
        break;
      }
      case EV_UNSEEN: {
        const gfn = e.f[0]!;
        const frame = e.f[1]!;
        let g = open.get(gfn);
        if (g === undefined || g.frame !== frame) {
          g = { n: out.length + 1, gfn, frame, what: e.f[4]!, cause: causeOf(lastTask, faults), unseen: [], owner: null, firstStale: null, stales: 0 };
          out.push(g);
          open.set(gfn, g);
          let l = byFrame.get(frame);
          if (l === undefined) byFrame.set(frame, (l = []));
          l.push(g);
        }
        g.unseen.push(e);
        break;
      }
      case EV_STALE: {
        const g = open.get(e.f[1]!);
        if (g !== undefined && g.frame === e.f[2]) {
          g.stales++;
          if (g.firstStale === null) g.firstStale = e;
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** The one-line heading of a chain, as --chains prints it and the page lists it. */
export function chainHeading(n: number, inv: InvGroup): string {
  const start = inv.events[0]!;
  const end = inv.events.find((e) => e.seq === inv.end);
  const [ev, , , g0, g1] = start.f as [number, number, number, number, number];
  const gfns = g0 < 0 ? 'outside guest RAM' : g1 - g0 === 1 ? `gfn ${hex(g0)}` : `gfns ${hex(g0)}-${hex(g1 - 1)}`;
  const zaps = inv.zaps.length;
  const flushes = inv.events.filter((e) => e.kind === EV_TLB_FLUSH).length;
  const what =
    zaps === 0 ? 'no spte mapped it' : `${zaps} spte${zaps === 1 ? '' : 's'} zapped, ${flushes} remote TLB flush${flushes === 1 ? '' : 'es'}`;
  let after = 'still in progress when the ring was read';
  if (end !== undefined) {
    after = `seq ${end.f[0]}`;
    if (end.f[3] !== HOSTPAGE_MULTI) after += `, host page ${HOSTPAGE_NAMES[end.f[3]!] ?? '?'}`;
  }
  return `chain ${n}: ${inv.cause} -> ${MMU_NOTIFY_EVENT_NAMES[ev] ?? ev} ${gfns} -> ${what} -> ${after}`;
}
