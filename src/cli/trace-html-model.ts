// What `shadowvisor trace --html` puts on its page, as plain data: the (capped) events with their
// text, the causal chains of trace-chains.ts by event index, an index gfn -> events touching it
// (the --gfn filter's own rule), end-of-run translations and the run's totals. Pure: the same
// events, stats and translations give the same object, so the page is byte-identical per seed.

import { PTE_D, PTE_RW } from '../cpu/paging.js';
import { MMU_NOTIFY_EVENT_NAMES } from '../host/constants.js';
import type { TraceEvent } from '../obs/event-ring.js';
import {
  EVENT_NAMES,
  EV_AGE,
  EV_CHANGE_PTE,
  EV_EMULATED_PT_WRITE,
  EV_FAULT,
  EV_GUP,
  EV_HOST_TASK,
  EV_INV_END,
  EV_INV_START,
  EV_MMIO,
  EV_RELEASE,
  EV_RETRY,
  EV_SPTE_SET,
  EV_SPTE_ZAP,
  EV_STALE,
  EV_UNSEEN,
  EV_TLB_FLUSH,
  EV_WALK,
  EV_GUEST_PF,
  FLUSH_REMOTE,
  GUP_NAMES,
  UNSEEN_NAMES,
  ZAP_FLOOD,
  ZAP_PTE_WRITE,
  GUP_SWAP_CACHE,
  GUP_SWAP_IN,
  HOST,
  HOSTPAGE_NAMES,
  RETRY_NAMES,
  ZAP_NAMES,
} from '../obs/events.js';
import type { ShadowRunStats } from './stats.js';
import { groupEvents, groupUnseen, orderByInterest, orderUnseen, type FaultGroup, type Grouped, type InvGroup, type UnseenGroup } from './trace-chains.js';
import { describe, type SlotLookup } from './trace-format.js';
import type { TranslationView } from './trace-translate.js';
import type { ScheduleView } from './trace-html-schedule.js';

/** Events embedded by default: enough for a long story, small enough for a browser (a few MB). */
export const DEFAULT_HTML_EVENTS = 20_000;
/** End-of-run translations computed and embedded (distinct faulting guest pages, latest first). */
export const MAX_TRANSLATIONS = 64;

/** Kinds printed as `host` when emitted from host context (the rest as '-': done on behalf of). */
export const KINDS_ON_HOST: readonly number[] = [EV_INV_START, EV_INV_END, EV_AGE, EV_RELEASE, EV_HOST_TASK, EV_CHANGE_PTE];

/** One event: seq, time, vcpu, kind, five fields, and describe()'s text. */
export type EventRow = [number, number, number, number, number, number, number, number, number, string];

export interface ChainData {
  n: number;
  cause: string;
  heading: string;
  /** MMU_NOTIFY_* name of the outermost INV_START. */
  event: string;
  /** Indices into `events`. */
  start: number;
  end: number;
  zaps: number[];
  flushes: number[];
  /** Every index in the invalidation (nested starts/ends too). */
  all: number[];
  refaults: { gfn: number; fault: number[] | null; dt: number }[];
  raced: { vcpu: number; gva: number; events: number[] }[];
}

export interface TotalRow {
  label: string;
  value: string;
  note: string;
}

export interface TranslationData {
  gva: number;
  gfn: number;
  lines: string[];
}

export interface HtmlTraceModel {
  /** `trace --schedule STR --html`: the explorer schedule replayed (trace-html-schedule.ts). */
  schedule?: ScheduleView;
  title: string;
  command: string;
  guest: string;
  mode: string;
  exit: string;
  vtime: number;
  totals: TotalRow[];
  ring: { emitted: number; held: number; shown: number; capacity: number; cap: number };
  kinds: readonly string[];
  mmuEvents: readonly string[];
  hostKinds: readonly number[];
  events: EventRow[];
  /** Per FAULT event index: how its fault ended (fixed, swap-in, retry, guest-pf, mmio, failed, open). */
  faultOutcome: Record<number, string>;
  chains: ChainData[];
  /** gfn -> indices of the events the --gfn filter would print for it. */
  pages: Record<number, number[]>;
  translations: TranslationData[];
  /** gfn to open the page history on (from --gfn / --gva), or -1. */
  selectGfn: number;
  /** Chains of invalidations KVM was not told of (UNSEEN -> stale spte -> new owner -> STALE). */
  unseen: UnseenData[];
  /** Per event index: why it looks as it does (a read-only WALK, the cause of a remote flush). */
  notes: Record<number, string>;
  /** Remote TLB flushes on this page by cause (invalidation, aging, page-table write, ...). */
  flushCauses: Record<string, number>;
  /** The same image, flags and seed under the mmu_notifier, for pin and none runs: its chains of
   *  the gfns that went stale here, with just their events. */
  compare: CompareData | null;
  /** Host counts the page's words depend on (the whole run's, not just the events shown). */
  hostCounts: { swapOuts: number; ksmMerges: number };
}

export interface UnseenData {
  n: number;
  gfn: number;
  frame: number;
  what: string;
  cause: string;
  heading: string;
  /** Indices into `events`. */
  unseen: number[];
  /** The GUP that was handed the frame next, or -1. */
  owner: number;
  /** The first STALE access through the spte, or -1. */
  firstStale: number;
  stales: number;
}

export interface CompareData {
  mode: string;
  command: string;
  events: EventRow[];
  chains: ChainData[];
}

/** What a notifier-mode run of the same seed is given to compare against. */
export interface CompareInput {
  command: string;
  events: readonly TraceEvent[];
  slots: SlotLookup;
  heading: (inv: InvGroup) => string;
}

export interface ModelInput {
  command: string;
  image: string;
  guest: string;
  events: readonly TraceEvent[];
  ring: { emitted: number; held: number; capacity: number };
  cap: number;
  stats: ShadowRunStats;
  slots: SlotLookup;
  heading: (inv: InvGroup) => string;
  translations: TranslationData[];
  selectGfn: number;
  compare?: CompareInput;
}

/** The gfn an event names itself, as eventMatches() in trace-chains.ts reads it (-1: none). */
export function eventGfn(e: TraceEvent): number {
  switch (e.kind) {
    case EV_WALK:
    case EV_RETRY:
    case EV_SPTE_SET:
    case EV_MMIO:
    case EV_STALE:
      return e.f[1]!;
    case EV_GUP:
    case EV_EMULATED_PT_WRITE:
    case EV_SPTE_ZAP:
    case EV_UNSEEN:
      return e.f[0]!;
    default:
      return -1;
  }
}

function faultOutcome(g: FaultGroup): string {
  switch (g.outcome) {
    case EV_SPTE_SET: {
      const gup = g.events.find((e) => e.kind === EV_GUP);
      const how = gup === undefined ? -1 : gup.f[4]!;
      return how === GUP_SWAP_IN || how === GUP_SWAP_CACHE ? 'swap-in' : 'fixed';
    }
    case EV_RETRY:
      return 'retry';
    case EV_GUEST_PF:
      return 'guest-pf';
    case EV_MMIO:
      return 'mmio';
    case EV_GUP:
      return 'failed';
    default:
      return 'open';
  }
}

/**
 * gfn -> event indices, the same set filterEvents(events, grouped, { gfn }) keeps, for every gfn
 * at once: the events naming it, the whole faults that walked to it, and the start, flushes and
 * end of invalidations touching it. An INV_START range counts only for gfns seen elsewhere.
 */
export function pageIndex(events: readonly TraceEvent[], grouped: Grouped): Map<number, number[]> {
  const at = new Map<number, number>();
  events.forEach((e, i) => at.set(e.seq, i));
  const sets = new Map<number, Set<number>>();
  const add = (gfn: number, i: number): void => {
    let s = sets.get(gfn);
    if (s === undefined) sets.set(gfn, (s = new Set()));
    s.add(i);
  };
  events.forEach((e, i) => {
    const g = eventGfn(e);
    if (g >= 0) add(g, i);
  });
  for (const f of grouped.faults) if (f.gfn >= 0) for (const e of f.events) add(f.gfn, at.get(e.seq)!);
  const known = [...sets.keys()].sort((a, b) => a - b);
  for (const inv of grouped.invs) {
    const touched = new Set<number>();
    for (const e of inv.events) {
      const g = eventGfn(e);
      if (g >= 0) touched.add(g);
      if (e.kind === EV_INV_START && e.f[3]! >= 0) {
        const lo = e.f[3]!;
        const hi = e.f[4]!;
        if (hi - lo === 1) touched.add(lo);
        else for (const k of known) if (k >= lo && k < hi) touched.add(k);
      }
    }
    for (const g of touched) {
      for (const e of inv.events) {
        if (e.kind === EV_INV_START || e.kind === EV_INV_END || e.kind === EV_TLB_FLUSH) add(g, at.get(e.seq)!);
      }
    }
  }
  const out = new Map<number, number[]>();
  for (const g of [...sets.keys()].sort((a, b) => a - b)) out.set(g, [...sets.get(g)!].sort((a, b) => a - b));
  return out;
}

/** Distinct guest pages that faulted and walked, the latest MAX_TRANSLATIONS, in address order;
 *  each with the latest faulting address in it. */
export function gvasToTranslate(events: readonly TraceEvent[], extra?: number): number[] {
  const latest = new Map<number, number>();
  for (let i = events.length - 1; i >= 0 && latest.size < MAX_TRANSLATIONS; i--) {
    const e = events[i]!;
    if (e.kind !== EV_WALK) continue;
    const page = e.f[0]! >>> 12;
    if (!latest.has(page)) latest.set(page, e.f[0]! >>> 0);
  }
  if (extra !== undefined) latest.set(extra >>> 12, extra >>> 0);
  return [...latest.values()].sort((a, b) => a - b);
}

export function translationData(gva: number, t: TranslationView): TranslationData {
  const gfn = typeof t.json.gfn === 'number' ? t.json.gfn : -1;
  return { gva, gfn, lines: t.lines };
}

const int = (n: number): string => n.toLocaleString('en-US');

function totalsOf(s: ShadowRunStats, events: readonly TraceEvent[]): TotalRow[] {
  const k = s.kvm as Record<string, number>;
  const calls = ((s.kvm as Record<string, unknown>).notifier_calls ?? {}) as Record<string, number>;
  const h = s.host as Record<string, number>;
  const n = (v: number | undefined): number => v ?? 0;
  const byEvent = Object.keys(calls)
    .filter((c) => c.startsWith('invalidate_range_start:'))
    .sort()
    .map((c) => `${c.slice('invalidate_range_start:'.length)} ${int(calls[c]!)}`);
  const retries = (['in_progress', 'seq', 'unsafe', 'gpte_changed'] as const).map((c) => `${c.replace('_', '-')} ${int(n(k[`pf_retry_${c}`]))}`);
  const retryTotal = (['in_progress', 'seq', 'unsafe', 'gpte_changed'] as const).reduce((a, c) => a + n(k[`pf_retry_${c}`]), 0);
  const zapCauses = new Map<number, number>();
  for (const e of events) if (e.kind === EV_SPTE_ZAP) zapCauses.set(e.f[2]!, (zapCauses.get(e.f[2]!) ?? 0) + 1);
  const zapText = [...zapCauses.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, v]) => `${ZAP_NAMES[c] ?? c} ${int(v)}`)
    .join(', ');
  return [
    { label: 'guest instructions', value: int(s.instructions), note: `virtual time ${int(s.vtime)} ticks (${((s.vtime / 1e8) * 1000).toFixed(3)} ms at 100 MHz)` },
    { label: 'faults into KVM', value: int(n(k.pf_taken)), note: `fixed ${int(n(k.pf_fixed))}, guest #PF injected ${int(n(k.pf_guest))}, emulated PT writes ${int(n(k.mmu_pte_write))}` },
    { label: 'invalidations', value: int(n(k.invalidations)), note: byEvent.length === 0 ? 'none' : `by MMU_NOTIFY event: ${byEvent.join(', ')}` },
    { label: 'sptes zapped by invalidations', value: int(n(k.sptes_zapped_by_invalidation)), note: `at most ${int(n(k.max_sptes_zapped_per_invalidation))} per invalidation${zapText === '' ? '' : `; all zaps in the page by cause: ${zapText}`}` },
    { label: 'remote TLB flushes', value: int(n(k.remote_tlb_flush)), note: `own flushes (CR3 writes, paging mode) ${int(n(k.tlb_flush))}, INVLPG ${int(n(k.invlpg))}` },
    { label: 'fault retries', value: int(retryTotal), note: `by cause: ${retries.join(', ')}` },
    { label: 'swap-outs / swap-ins', value: `${int(n(h.swapOuts))} / ${int(n(h.swapIns))}`, note: `host faults ${int(n(h.faults))}, zero-fills ${int(n(h.zeroFills))}, KSM merges ${int(n(h.ksmMerges))}, COW breaks ${int(n(h.cowBreaks))}` },
    { label: 'stale accesses', value: int(n(k.stale_accesses)), note: 'accesses through a freed or replaced frame (the detector; must be 0 in notifier mode)' },
  ];
}

export function buildModel(inp: ModelInput): HtmlTraceModel {
  const events = inp.events.length > inp.cap ? inp.events.slice(inp.events.length - inp.cap) : inp.events;
  const grouped = groupEvents(events);
  const at = new Map<number, number>();
  events.forEach((e, i) => at.set(e.seq, i));
  const idx = (e: TraceEvent): number => at.get(e.seq)!;

  const faultOutcomes: Record<number, string> = {};
  for (const f of grouped.faults) if (f.events[0]!.kind === EV_FAULT) faultOutcomes[idx(f.events[0]!)] = faultOutcome(f);

  const chains: ChainData[] = orderByInterest(grouped.invs).map((inv) => chainData(inv, idx, inp.heading));

  const pages: Record<number, number[]> = {};
  for (const [g, l] of pageIndex(events, grouped)) pages[g] = l;

  const s = inp.stats;
  return {
    title: `shadowvisor trace: ${inp.image}`,
    command: inp.command,
    guest: inp.guest,
    mode: s.mode,
    exit: `${s.exitCode} (${s.reason})`,
    vtime: s.vtime,
    totals: totalsOf(s, events),
    ring: { emitted: inp.ring.emitted, held: inp.ring.held, shown: events.length, capacity: inp.ring.capacity, cap: inp.cap },
    kinds: EVENT_NAMES,
    mmuEvents: MMU_NOTIFY_EVENT_NAMES,
    hostKinds: KINDS_ON_HOST,
    events: events.map((e) => [e.seq, e.time, e.vcpu, e.kind, e.f[0]!, e.f[1]!, e.f[2]!, e.f[3]!, e.f[4]!, describe(e, inp.slots)]),
    faultOutcome: faultOutcomes,
    chains,
    pages,
    translations: inp.translations,
    selectGfn: inp.selectGfn,
    hostCounts: { swapOuts: (s.host as Record<string, number>).swapOuts ?? 0, ksmMerges: (s.host as Record<string, number>).ksmMerges ?? 0 },
    unseen: unseenData(groupUnseen(events), idx),
    notes: eventNotes(events, grouped),
    flushCauses: flushCauses(events, grouped),
    compare: inp.compare === undefined ? null : compareData(inp.compare, groupUnseen(events)),
  };
}

function chainData(inv: InvGroup, idx: (e: TraceEvent) => number, heading: (inv: InvGroup) => string): ChainData {
  const startEv = inv.events[0]!;
  const endEv = inv.events.find((e) => e.seq === inv.end);
  const endTime = inv.events[inv.events.length - 1]!.time;
  return {
    n: inv.n,
    cause: inv.cause,
    heading: heading(inv),
    event: MMU_NOTIFY_EVENT_NAMES[startEv.f[0]!] ?? String(startEv.f[0]),
    start: idx(startEv),
    end: endEv === undefined ? -1 : idx(endEv),
    zaps: inv.zaps.map(idx),
    flushes: inv.events.filter((e) => e.kind === EV_TLB_FLUSH).map(idx),
    all: inv.events.map(idx),
    refaults: inv.refaults.map((r) => ({
      gfn: r.gfn,
      fault: r.fault === null ? null : r.fault.events.map(idx),
      dt: r.fault === null ? 0 : r.fault.events[0]!.time - endTime,
    })),
    raced: inv.raced.map((f) => ({ vcpu: f.vcpu, gva: f.gva >>> 0, events: f.events.map(idx) })),
  };
}

const hx = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** The one-line heading of an UNSEEN chain, as the chain list shows it. */
export function unseenHeading(u: UnseenGroup): string {
  const owner =
    u.owner === null
      ? `frame ${u.frame} not handed to a guest page again in the trace`
      : u.owner.f[0] === u.gfn
        ? `frame ${u.frame} given back to gfn ${hx(u.gfn)} itself (seq ${u.owner.seq})`
        : `frame ${u.frame} now holds gfn ${hx(u.owner.f[0]!)}${u.owner.vcpu >= 0 ? ` (vcpu${u.owner.vcpu}'s fault, seq ${u.owner.seq})` : ''}`;
  const stale = u.firstStale === null ? 'no stale access seen' : `first STALE access at seq ${u.firstStale.seq} (${u.stales} in all)`;
  // In seq order: reclaim may free the frame (a stale access already) before anyone reuses it.
  const tail = u.firstStale !== null && u.owner !== null && u.firstStale.seq < u.owner.seq ? `${stale} -> ${owner}` : `${owner} -> ${stale}`;
  return `unseen ${u.n}: ${u.cause} -> host ${UNSEEN_NAMES[u.what] ?? '?'} gfn ${hx(u.gfn)}, no notifier -> the spte still maps frame ${u.frame} -> ${tail}`;
}

function unseenData(groups: UnseenGroup[], idx: (e: TraceEvent) => number): UnseenData[] {
  return orderUnseen(groups).map((u) => ({
    n: u.n,
    gfn: u.gfn,
    frame: u.frame,
    what: UNSEEN_NAMES[u.what] ?? '?',
    cause: u.cause,
    heading: unseenHeading(u),
    unseen: u.unseen.map(idx),
    owner: u.owner === null ? -1 : idx(u.owner),
    firstStale: u.firstStale === null ? -1 : idx(u.firstStale),
    stales: u.stales,
  }));
}

/** Why a remote flush happened, read from its context: its invalidation, or the event just before it. */
export function flushCause(events: readonly TraceEvent[], i: number, grouped: Grouped): string {
  const e = events[i]!;
  const g = grouped.groupOf.get(e.seq);
  if (g !== undefined && g.kind === 'inv') return 'invalidation';
  for (let j = i - 1; j >= 0 && j >= i - 64; j--) {
    const p = events[j]!;
    switch (p.kind) {
      case EV_AGE:
        return 'aging';
      case EV_EMULATED_PT_WRITE:
        return 'page-table write';
      case EV_SPTE_ZAP:
        if (p.f[2] === ZAP_PTE_WRITE || p.f[2] === ZAP_FLOOD) return 'page-table write';
        continue;
      case EV_CHANGE_PTE:
        return 'change_pte';
      case EV_RELEASE:
        return 'release';
      case EV_FAULT:
      case EV_WALK:
      case EV_GUP:
      case EV_SPTE_SET:
        return 'fault (shadow page write-protected or spte replaced)';
      default:
        return 'other (memslot update)';
    }
  }
  return 'other (memslot update)';
}

function isRemoteFlush(e: TraceEvent): boolean {
  return e.kind === EV_TLB_FLUSH && e.vcpu === HOST && e.f[1] === FLUSH_REMOTE;
}

function flushCauses(events: readonly TraceEvent[], grouped: Grouped): Record<string, number> {
  const out: Record<string, number> = {};
  events.forEach((e, i) => {
    if (!isRemoteFlush(e)) return;
    const c = flushCause(events, i, grouped);
    out[c] = (out[c] ?? 0) + 1;
  });
  return out;
}

function eventNotes(events: readonly TraceEvent[], grouped: Grouped): Record<number, string> {
  const notes: Record<number, string> = {};
  events.forEach((e, i) => {
    if (e.kind === EV_WALK) {
      const gpte = e.f[3]!;
      if (gpte & PTE_RW && !(gpte & PTE_D) && !(e.f[2]! & 1)) {
        notes[i] =
          'read-only although the guest PTE is writable: protect_clean_gpte. The PTE is clean (D=0), so KVM maps it ' +
          'read-only and the first write faults again, letting KVM set D in the guest PTE before making the spte writable.';
      }
    } else if (isRemoteFlush(e)) {
      notes[i] = `remote TLB flush, cause: ${flushCause(events, i, grouped)}`;
    } else if (e.kind === EV_UNSEEN) {
      notes[i] = 'the host changed this page and KVM was not told (no mmu_notifier in this mode): the spte keeps the old frame';
    }
  });
  return notes;
}

/** The notifier-mode chains of the gfns that went unseen here (at most 4), with only their events. */
function compareData(c: CompareInput, unseen: UnseenGroup[]): CompareData {
  const grouped = groupEvents(c.events);
  const wanted: number[] = [];
  for (const u of orderUnseen(unseen)) {
    if (!wanted.includes(u.gfn)) wanted.push(u.gfn);
  }
  const picked: InvGroup[] = [];
  for (const g of wanted) {
    const inv = grouped.invs.find((v) => v.zaps.some((z) => z.f[0] === g) && !picked.includes(v));
    if (inv !== undefined) picked.push(inv);
    if (picked.length === 4) break;
  }
  const seqs = new Set<number>();
  for (const inv of picked) {
    for (const e of inv.events) seqs.add(e.seq);
    for (const r of inv.refaults) if (r.fault !== null) for (const e of r.fault.events) seqs.add(e.seq);
    for (const f of inv.raced) for (const e of f.events) seqs.add(e.seq);
  }
  const kept = c.events.filter((e) => seqs.has(e.seq));
  const at = new Map<number, number>();
  kept.forEach((e, i) => at.set(e.seq, i));
  const idx = (e: TraceEvent): number => at.get(e.seq)!;
  return {
    mode: 'notifier',
    command: c.command,
    events: kept.map((e) => [e.seq, e.time, e.vcpu, e.kind, e.f[0]!, e.f[1]!, e.f[2]!, e.f[3]!, e.f[4]!, describe(e, c.slots)]),
    chains: picked.map((inv) => chainData(inv, idx, c.heading)),
  };
}

/** Who did it, as the text trace prints it. */
export function whoOf(vcpu: number, kind: number): string {
  if (vcpu !== HOST) return `vcpu${vcpu}`;
  return KINDS_ON_HOST.includes(kind) ? 'host' : '-';
}

export { GUP_NAMES, HOSTPAGE_NAMES, RETRY_NAMES };
