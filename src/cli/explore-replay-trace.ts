// The text trace of a replayed schedule (`trace --schedule STR`, `explore --replay STR --trace`):
// the hypervisor's events with each scheduling step marked, then the failure's causal story (the
// invalidation, the fault that raced it, the stale use) and what became of the host frame.

import { writeStdout } from './output.js';
import type { RunOutcome } from '../sim/explore/engine.js';
import { readEvents, type EventRing, type TraceEvent } from '../obs/event-ring.js';
import { EV_GUP, EV_INV_END, EV_INV_START, EV_RELEASE, EV_SPTE_SET, EV_SPTE_ZAP, EV_STALE } from '../obs/events.js';
import { lineFormatterFor, type LineFormatter, type SlotLookup } from './trace-format.js';
import { PAGE_SIZE } from '../host/constants.js';

/** The run's events with each step marked, then the failure's story: which frame, and what the host did with it. */
export function printTrace(o: RunOutcome, ring: EventRing, marks: { seq: number; text: string }[], json: boolean): void {
  const events = readEvents(ring);
  const vm = o.vm;
  const slots: SlotLookup = (gfn) => {
    const s = vm.memslots.find(gfn);
    return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
  };
  const fmt = lineFormatterFor(events, slots);
  let m = 0;
  for (const e of events) {
    while (m < marks.length && marks[m]!.seq <= e.seq) {
      if (!json) writeStdout(marks[m]!.text + '\n');
      fmt.reset();
      m++;
    }
    writeStdout((json ? JSON.stringify({ seq: e.seq, kind: e.kind, vcpu: e.vcpu, f: Array.from(e.f) }) : fmt.line(e)) + '\n');
  }
  if (json || o.failure === null) return;
  writeStdout(`== failure: ${o.failure.checker}: ${o.failure.message}\n`);
  // The gfn and frame the failure is about: the detector's record, else the checker's message.
  const st = vm.staleRecords[0];
  const gfn = st?.gfn ?? Number(/gfn (\d+)/.exec(o.failure.message)?.[1] ?? -1);
  const frame = st?.frame ?? Number(/frame (\d+)/.exec(o.failure.message)?.[1] ?? -1);
  if (gfn < 0) return;
  for (const line of failureStory(events, gfn, frame, fmt)) writeStdout(line + '\n');
  if (frame < 0) return;
  const h = o.host;
  const owners: string[] = [];
  for (let e = h.rmap.first(frame); e !== -1; e = h.rmap.entryNext(e)) owners.push(`mm ${h.rmap.entryMm(e)} at 0x${(h.rmap.entryVpn(e) * PAGE_SIZE).toString(16)}`);
  const now = h.ft.refcount[frame] === 0 ? 'free (on the allocator\'s free list, the next allocation may hand it to anyone)'
    : owners.length > 0 ? `mapped by ${owners.join(', ')}${owners.some((x) => x.startsWith(`mm ${vm.mm.id} `)) ? '' : ' (not the VM process)'}`
    : 'held only by references (swap cache or a pin), mapped by no process';
  writeStdout(`== the frame's owner now: host frame ${frame} is ${now}\n`);
}

/** The causal chain of a failure on gfn: the invalidation that should have kept the translation
 *  away, the fault that raced it (gup before, spte after), and the stale use. */
function failureStory(events: readonly TraceEvent[], gfn: number, frame: number, fmt: LineFormatter): string[] {
  const out: string[] = [];
  const invs = events.filter((e) => e.kind === EV_INV_START && e.f[3]! <= gfn && gfn < e.f[4]!);
  const sets = events.filter((e) => e.kind === EV_SPTE_SET && e.f[1] === gfn && (frame < 0 || e.f[2] === frame));
  const set = sets[sets.length - 1];
  fmt.reset();
  const gup = set === undefined ? undefined : [...events].reverse().find((e) => e.kind === EV_GUP && e.seq < set.seq && e.f[0] === gfn);
  const raced = set === undefined || gup === undefined ? [] : invs.filter((e) => e.seq > gup.seq && e.seq < set.seq);
  if (set !== undefined && raced.length > 0) {
    out.push(`== the racing fault: it got frame ${set.f[2]} from the host before the invalidation and mapped it after:`);
    if (gup !== undefined) out.push(fmt.line(gup, '     '));
    for (const inv of raced) {
      out.push(fmt.line(inv, '     '));
      const end = events.find((e) => e.kind === EV_INV_END && e.seq > inv.seq && e.f[1] === inv.f[1] && e.f[2] === inv.f[2]);
      if (end !== undefined && end.seq < set.seq) out.push(fmt.line(end, '     '));
    }
    out.push(fmt.line(set, '     '));
    out.push('== the retry check under mmu_lock should have turned that SPTE_SET into a RETRY (seq moved, or an invalidation in progress)');
    return [...out, ...staleLines(events, gfn, fmt)];
  }
  if (set !== undefined) {
    out.push(`== the translation: gfn ${gfn} -> frame ${set.f[2]}, mapped before the host changed the page:`);
    out.push(fmt.line(set, '     '));
  }
  const after = invs.filter((e) => set === undefined || e.seq > set.seq);
  const release = events.find((e) => e.kind === EV_RELEASE && (set === undefined || e.seq > set.seq));
  if (after.length > 0) {
    const inv = after[after.length - 1]!;
    const zapped = events.some((e) => e.kind === EV_SPTE_ZAP && e.seq > inv.seq && e.f[0] === gfn);
    out.push(`== the invalidation that should have zapped it${zapped ? '' : ' (no SPTE_ZAP for this gfn follows it)'}:`);
    out.push(fmt.line(inv, '     '));
  } else if (release !== undefined) {
    out.push('== the release (exit_mmap) that should have zapped every spte:');
    out.push(fmt.line(release, '     '));
  }
  return [...out, ...staleLines(events, gfn, fmt)];
}

function staleLines(events: readonly TraceEvent[], gfn: number, fmt: LineFormatter): string[] {
  const out: string[] = [];
  const stale = events.find((e) => e.kind === EV_STALE && e.f[1] === gfn);
  if (stale !== undefined) {
    out.push('== the stale access:');
    out.push(fmt.line(stale, '     '));
  }
  return out;
}
