// One `trace --html` page from a finished traced run: the model of trace-html-model.ts, the
// end-of-run translations and the page of trace-html.ts. Shared by `shadowvisor trace --html` and
// the web page's traced preset (its worker renders the same page in the browser), so it touches
// no file and imports no node: module.

import type { EventRing, TraceEvent } from '../obs/event-ring.js';
import { EV_WALK } from '../obs/events.js';
import type { GuestRun } from '../sim/run-guest.js';
import { collectShadowStats } from './stats.js';
import { chainHeading } from './trace-chains.js';
import type { SlotLookup } from './trace-format.js';
import { renderTraceHtml } from './trace-html.js';
import { buildModel, gvasToTranslate, translationData, type CompareInput } from './trace-html-model.js';
import { translateGva } from './trace-translate.js';

/** A guest run with the event ring on, once it ended. */
export interface TracedRun {
  g: GuestRun;
  events: TraceEvent[];
  ring: EventRing;
  seconds: number;
}

export interface TracePageOptions {
  command: string;
  image: string;
  /** One line: image, sizes, vCPUs, seed. */
  guest: string;
  vcpus: number;
  run: TracedRun;
  /** Events embedded (the latest). */
  cap: number;
  /** An address to translate too (--translate). */
  translate?: number;
  /** The page history to open on (--gfn, --gva). */
  gfn?: number;
  gva?: number;
  /** pin and none: the same run under the notifier. */
  compare?: { command: string; run: TracedRun };
}

export function slotsOf(g: GuestRun): SlotLookup {
  return (gfn) => {
    const s = g.vm.memslots.find(gfn);
    return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
  };
}

export function traceHtmlPage(o: TracePageOptions): string {
  const { g, events, ring, seconds } = o.run;
  const kept = events.length > o.cap ? events.slice(events.length - o.cap) : events;
  const translations = gvasToTranslate(kept, o.translate).map((gva) => translationData(gva, translateGva(g.vm, gva)));
  let selectGfn = o.gfn ?? -1;
  if (o.gva !== undefined) {
    const walk = [...kept].reverse().find((e) => e.kind === EV_WALK && e.f[0]! >>> 12 === o.gva! >>> 12);
    if (walk !== undefined) selectGfn = walk.f[1]!;
  }
  const heading = chainHeading;
  const compare: CompareInput | undefined =
    o.compare === undefined ? undefined : { command: o.compare.command, events: o.compare.run.events, slots: slotsOf(o.compare.run.g), heading: (inv) => heading(inv.n, inv) };
  const model = buildModel({
    compare,
    command: o.command,
    image: o.image,
    guest: o.guest,
    events,
    ring: { emitted: ring.emitted, held: ring.size, capacity: ring.capacity },
    cap: o.cap,
    stats: collectShadowStats(g, seconds),
    slots: slotsOf(g),
    heading: (inv) => heading(inv.n, inv),
    translations,
    selectGfn,
  });
  return renderTraceHtml(model, o.vcpus);
}
