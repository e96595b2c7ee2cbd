// How `shadowvisor trace` prints one event: an aligned human line (hex addresses, names for every
// code) or a JSON object with named fields. The event table itself is src/obs/events.ts; this is
// the teaching text around it (what ftrace's print formats are to the kernel's tracepoints).

import { ACC_FETCH, ACC_USER, ACC_WRITE } from '../cpu/ports.js';
import { MMU_NOTIFY_EVENT_NAMES } from '../host/constants.js';
import type { TraceEvent } from '../obs/event-ring.js';
import {
  AGE_NAMES,
  EVENT_FIELDS,
  EVENT_NAMES,
  EV_AGE,
  EV_CHANGE_PTE,
  EV_EMULATED_PT_WRITE,
  EV_FAULT,
  EV_GUEST_PF,
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
  UNSEEN_UNMAPPED,
  UNSEEN_WRITE_PROTECTED,
  EV_TLB_FLUSH,
  EV_WALK,
  EV_TDP_WALK,
  FLUSH_NAMES,
  FLUSH_REMOTE,
  GUP_NAMES,
  HOST,
  HOSTPAGE_MULTI,
  HOSTPAGE_NAMES,
  RETRY_NAMES,
  TASK_NAMES,
  ZAP_NAMES,
} from '../obs/events.js';
import { GUEST_ACC_U, GUEST_ACC_W } from '../hv/shadow/role.js';
import { refIndex, refPage } from '../hv/shadow/rmap.js';
import { SPTE_A, SPTE_D, SPTE_HOST_WRITABLE, SPTE_MMU_WRITABLE, SPTE_PINNED, SPTE_U, SPTE_W } from '../hv/shadow/spte.js';

/** gfn -> host virtual address base of its memslot (for `hva BASE+OFFSET`), or null. */
export type SlotLookup = (gfn: number) => { baseGfn: number; hva: number } | null;

export const hex = (v: number, width = 0): string => `0x${(v >>> 0).toString(16).padStart(width, '0')}`;
const hex8 = (v: number): string => hex(v, 8);
const name = (table: readonly string[], v: number): string => table[v] ?? String(v);

function accessText(acc: number): string {
  const parts = [acc & ACC_WRITE ? 'write' : acc & ACC_FETCH ? 'fetch' : 'read'];
  parts.push(acc & ACC_USER ? 'user' : 'kernel');
  return parts.join(', ');
}

function guestAccessText(acc: number): string {
  return `${acc & GUEST_ACC_U ? 'user' : 'kernel'}, ${acc & GUEST_ACC_W ? 'write' : 'read-only'}`;
}

export function spteFlagsText(flags: number): string {
  const f: string[] = ['P'];
  if (flags & SPTE_W) f.push('W');
  if (flags & SPTE_U) f.push('U');
  if (flags & SPTE_A) f.push('A');
  if (flags & SPTE_D) f.push('D');
  if (flags & SPTE_MMU_WRITABLE) f.push('mmu-w');
  if (flags & SPTE_HOST_WRITABLE) f.push('host-w');
  if (flags & SPTE_PINNED) f.push('pinned');
  return f.join(' ');
}

function pfErrorText(code: number): string {
  return [code & 1 ? 'protection' : 'not-present', code & 2 ? 'write' : 'read', code & 4 ? 'user' : 'kernel'].join(', ');
}

function hvaText(gfn: number, hva: number, slots: SlotLookup): string {
  const s = slots(gfn);
  if (s === null) return `hva ${hex8(hva)}`;
  return `hva ${hex8(s.hva)}+${hex((gfn - s.baseGfn) * 4096)}`;
}

function sptePlace(ref: number): string {
  // A negative ref is a TDP leaf (--mmu tdp): it lives in the gpa->hpa table, indexed by gfn.
  if (ref < 0) return 'tdp leaf';
  return `sp ${refPage(ref)}[${hex(refIndex(ref), 3)}]`;
}

/** The text after the kind name. */
export function describe(e: TraceEvent, slots: SlotLookup): string {
  const [a, b, c, d, x] = e.f as [number, number, number, number, number];
  switch (e.kind) {
    case EV_FAULT:
      return `gva ${hex8(a)} ${accessText(b)}  eip ${hex8(c)}`;
    case EV_GUEST_PF:
      return `gva ${hex8(a)} -> #PF error ${hex(b)} (${pfErrorText(b)}) injected`;
    case EV_WALK: {
      const leaf = x === 0 ? 'paging off' : x === 2 ? `4M pde ${hex8(d)}` : `pte ${hex8(d)}`;
      return `gva ${hex8(a)} -> gfn ${hex(b)} (${guestAccessText(c)}) ${leaf}`;
    }
    case EV_GUP:
      if (c < 0) return `gfn ${hex(a)} -> ${hvaText(a, b, slots)} -> failed (errno ${-c})`;
      return `gfn ${hex(a)} -> ${hvaText(a, b, slots)} -> frame ${c} (${d ? 'write, ' : ''}${name(GUP_NAMES, x)})`;
    case EV_RETRY:
      return `gva ${hex8(a)} gfn ${hex(b)}: ${name(RETRY_NAMES, c)} (seq sampled ${d}, now ${x})`;
    case EV_SPTE_SET:
      return `gva ${hex8(a)} -> gfn ${hex(b)} -> frame ${c}  ${sptePlace(d)} ${spteFlagsText(x)}`;
    case EV_MMIO:
      return `gva ${hex8(a)} -> gfn ${hex(b)}: no memslot, MMIO spte (reads all ones)`;
    case EV_EMULATED_PT_WRITE: {
      const what = d > 0 ? `${d} shadow page${d === 1 ? '' : 's'} zapped whole` : `${x} spte${x === 1 ? '' : 's'} dropped`;
      return `gfn ${hex(a)}+${hex(b, 3)} ${c} byte${c === 1 ? '' : 's'}: ${what}`;
    }
    case EV_INV_START: {
      const gfns = d < 0 ? 'no memslot' : x - d === 1 ? `gfn ${hex(d)}` : `gfn ${hex(d)}-${hex(x - 1)}`;
      return `${name(MMU_NOTIFY_EVENT_NAMES, a)} hva ${hex8(b)}-${hex8(c)} (${gfns})`;
    }
    case EV_SPTE_ZAP:
      return `gfn ${hex(a)} frame ${b < 0 ? 'mmio' : b} (${name(ZAP_NAMES, c)})  ${sptePlace(d)}${x >= 0 ? ` gva ${hex8(x)}` : ''}`;
    case EV_TLB_FLUSH:
      return b === FLUSH_REMOTE ? `${a} vCPU${a === 1 ? '' : 's'} (remote)` : `own TLB (${name(FLUSH_NAMES, b)})`;
    case EV_INV_END: {
      const page = d === HOSTPAGE_MULTI ? '' : `, host page ${name(HOSTPAGE_NAMES, d)}${x >= 0 ? ` (frame ${x})` : ''}`;
      return `hva ${hex8(b)}-${hex8(c)} mmu_invalidate_seq ${a}${page}`;
    }
    case EV_AGE:
      return `${name(AGE_NAMES, d)} hva ${hex8(a)}-${hex8(b)}: ${c ? 'young' : 'old'}`;
    case EV_RELEASE:
      return 'the VM process mm is exiting: every spte goes';
    case EV_STALE:
      return `gva ${hex8(a)} gfn ${b < 0 ? '?' : hex(b)} frame ${c} ${d ? 'write' : 'read'} through a freed or replaced frame`;
    case EV_HOST_TASK:
      return name(TASK_NAMES, a);
    case EV_CHANGE_PTE:
      return `hva ${hex8(a)} -> frame ${b}${c ? ' (writable)' : ''}`;
    case EV_TDP_WALK: {
      // Both dimensions of the walk: guest PDE/PTE reads, and gpa->hpa entries for each of them
      // and for the page itself; an EPT violation ends it early (the vCPU exits to KVM).
      const refs = `guest PDE/PTE ${c} + gpa->hpa ${d} = ${c + d} refs`;
      if (x >= 0) return `gva ${hex8(a)}: ${refs}, EPT violation on gfn ${hex(x)} (exit to KVM)`;
      return b < 0 ? `gva ${hex8(a)}: ${refs}, no page (guest #PF or unbacked)` : `gva ${hex8(a)} -> gfn ${hex(b)}: ${refs}`;
    }
    case EV_UNSEEN:
      return x === UNSEEN_WRITE_PROTECTED
        ? `gfn ${hex(a)} hva ${hex8(d)}: the host write-protected frame ${b}, an spte still maps it writable (KVM was not told)`
        : x === UNSEEN_UNMAPPED
          ? `gfn ${hex(a)} hva ${hex8(d)}: the host unmapped frame ${b} (swap cache), an spte still maps it (KVM was not told)`
          : `gfn ${hex(a)} hva ${hex8(d)}: the host now has ${c < 0 ? 'no frame' : `frame ${c}`} there, an spte still maps frame ${b} (KVM was not told)`;
    default:
      return e.f.join(' ');
  }
}

const KINDS_ON_HOST = new Set([EV_INV_START, EV_INV_END, EV_AGE, EV_RELEASE, EV_HOST_TASK, EV_CHANGE_PTE, EV_UNSEEN]);

/** Formats events as aligned lines; time and vCPU are shown only when they change. */
export class LineFormatter {
  private lastTime = -1;
  private lastVcpu = -2;

  constructor(
    private readonly seqWidth: number,
    private readonly timeWidth: number,
    private readonly slots: SlotLookup,
  ) {}

  /** Force the next line to show time and vCPU (after a heading). */
  reset(): void {
    this.lastTime = -1;
    this.lastVcpu = -2;
  }

  line(e: TraceEvent, indent = '  '): string {
    const who = e.vcpu === HOST ? (KINDS_ON_HOST.has(e.kind) ? 'host' : '-') : `vcpu${e.vcpu}`;
    const show = e.time !== this.lastTime || e.vcpu !== this.lastVcpu;
    this.lastTime = e.time;
    this.lastVcpu = e.vcpu;
    const t = show ? `t=${e.time}`.padEnd(this.timeWidth + 2) : ' '.repeat(this.timeWidth + 2);
    const w = show ? who.padEnd(6) : ' '.repeat(6);
    return `${indent}${String(e.seq).padStart(this.seqWidth)}  ${t}  ${w}  ${name(EVENT_NAMES, e.kind).padEnd(17)}  ${describe(e, this.slots)}`.trimEnd();
  }
}

export function lineFormatterFor(events: readonly TraceEvent[], slots: SlotLookup): LineFormatter {
  let maxSeq = 0;
  let maxTime = 0;
  for (const e of events) {
    if (e.seq > maxSeq) maxSeq = e.seq;
    if (e.time > maxTime) maxTime = e.time;
  }
  return new LineFormatter(Math.max(4, String(maxSeq).length), String(maxTime).length, slots);
}

const ENUM_FIELDS: Record<string, readonly string[]> = {
  how: GUP_NAMES,
  task: TASK_NAMES,
  host_page: HOSTPAGE_NAMES,
};

/** One event as a plain object: named fields, codes as names, vcpu -1 for host context. */
export function eventJson(e: TraceEvent): Record<string, number | string> {
  const o: Record<string, number | string> = { seq: e.seq, t: e.time, vcpu: e.vcpu, event: name(EVENT_NAMES, e.kind) };
  const names = EVENT_FIELDS[e.kind] ?? [];
  for (let k = 0; k < names.length; k++) {
    const n = names[k]!;
    const v = e.f[k]!;
    let table = ENUM_FIELDS[n];
    if (n === 'cause') table = e.kind === EV_RETRY ? RETRY_NAMES : e.kind === EV_SPTE_ZAP ? ZAP_NAMES : FLUSH_NAMES;
    if (n === 'mmu_event') table = MMU_NOTIFY_EVENT_NAMES;
    if (n === 'op') table = AGE_NAMES;
    o[n] = table !== undefined ? name(table, v) : v;
  }
  return o;
}
