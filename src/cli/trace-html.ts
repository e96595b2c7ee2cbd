// `shadowvisor trace --html DIR`: one self-contained page (inline CSS, SVG and script, the trace as
// JSON in a <script type="application/json">, no external URL) to explore a run. Rendered on the
// server so it reads without JavaScript (header, timeline, chain list, last events); the script
// (trace-html-script.ts) adds hover, zoom, the chain flow diagram and the per-gfn page history.

import {
  EV_AGE,
  EV_CHANGE_PTE,
  EV_EMULATED_PT_WRITE,
  EV_FAULT,
  EV_GUEST_PF,
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
  FLUSH_REMOTE,
  TASK_NAMES,
} from '../obs/events.js';
import { whoOf, type HtmlTraceModel } from './trace-html-model.js';
import { CLIENT_JS } from './trace-html-script.js';
import { CLIENT_CSS } from './trace-html-style.js';
import { scheduleSectionHtml } from './trace-html-schedule.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Coordinates with at most two decimals: short, and identical on every run. */
const px = (v: number): string => String(Math.round(v * 100) / 100);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
const int = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`): string => `${int(n)} ${n === 1 ? one : many}`;

/** Events in the plain table at the bottom of the page. */
export const LAST_EVENTS_TABLE = 200;
/** Chains listed server-side (the script lists them all). */
const MAX_CHAINS_LISTED = 2000;

// ---- the timeline -------------------------------------------------------------------------------

export const TL = { W: 1300, LABEL: 170, ROW: 18, GAP: 10, TOP: 8, AXIS: 34 } as const;
const PW = TL.W - TL.LABEL - 10;

interface Row {
  label: string;
  group: string;
}

/** The rows of the timeline and, for each event kind and vCPU, the row it is drawn in (-1: not drawn). */
export function timelineRows(vcpus: number): { rows: Row[]; rowOf: (vcpu: number, kind: number) => number } {
  const rows: Row[] = [];
  for (let v = 0; v < vcpus; v++) {
    rows.push({ label: `vcpu${v} faults`, group: `vcpu${v}` });
    rows.push({ label: `vcpu${v} retry, #PF, PT write`, group: `vcpu${v}` });
  }
  const kvm = rows.length;
  rows.push({ label: 'KVM spte set', group: 'kvm' }, { label: 'KVM spte zap', group: 'kvm' }, { label: 'KVM TLB flush', group: 'kvm' });
  const host = rows.length;
  rows.push({ label: 'host invalidations', group: 'host' }, { label: 'host kswapd, ksmd, aging', group: 'host' });
  const rowOf = (vcpu: number, kind: number): number => {
    switch (kind) {
      case EV_FAULT:
        return vcpu >= 0 && vcpu < vcpus ? 2 * vcpu : -1;
      case EV_RETRY:
      case EV_GUEST_PF:
      case EV_EMULATED_PT_WRITE:
      case EV_STALE:
      case EV_MMIO:
        return vcpu >= 0 && vcpu < vcpus ? 2 * vcpu + 1 : -1;
      case EV_SPTE_SET:
        return kvm;
      case EV_SPTE_ZAP:
        return kvm + 1;
      case EV_TLB_FLUSH:
        return kvm + 2;
      case EV_INV_START:
        return host;
      case EV_UNSEEN:
        return host;
      case EV_HOST_TASK:
      case EV_AGE:
      case EV_RELEASE:
      case EV_CHANGE_PTE:
        return host + 1;
      default:
        return -1;
    }
  };
  return { rows, rowOf };
}

function rowY(rows: Row[], r: number): number {
  let y = TL.TOP;
  for (let i = 0; i < r; i++) y += TL.ROW + (rows[i + 1] !== undefined && rows[i + 1]!.group !== rows[i]!.group ? TL.GAP : 0);
  return y;
}

/** "1, 2, 2.5, 5 x 10^k" steps for about n ticks over [lo, hi]. */
export function niceStep(span: number, n: number): number {
  if (!(span > 0)) return 1;
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

function markClass(m: HtmlTraceModel, i: number): string {
  const [, , vcpu, kind, a, b, c] = m.events[i]!;
  switch (kind) {
    case EV_FAULT:
      return `m o-${m.faultOutcome[i] ?? 'open'}`;
    case EV_RETRY:
      return 'm k-retry';
    case EV_GUEST_PF:
      return 'm k-gpf';
    case EV_EMULATED_PT_WRITE:
      return 'm k-ptw';
    case EV_STALE:
      return 'm k-stale';
    case EV_MMIO:
      return 'm k-mmio';
    case EV_SPTE_SET:
      return 'm k-set';
    case EV_SPTE_ZAP:
      return `m k-zap${c === 1 ? '' : ' z-other'}`;
    case EV_TLB_FLUSH:
      return vcpu < 0 && b === FLUSH_REMOTE ? 'm k-flush' : 'm k-ownflush';
    case EV_INV_START:
      return `m inv ev-${m.mmuEvents[a] ?? 'other'}`;
    case EV_HOST_TASK:
      return `m k-task t-${TASK_NAMES[a] ?? 'task'}`;
    case EV_AGE:
      return 'm k-age';
    case EV_UNSEEN:
      return 'm k-unseen';
    default:
      return 'm k-other';
  }
}

function timelineSvg(m: HtmlTraceModel, vcpus: number): string {
  const { rows, rowOf } = timelineRows(vcpus);
  const plotH = rowY(rows, rows.length - 1) + TL.ROW + 4;
  const H = plotH + TL.AXIS;
  const ev = m.events;
  const t0 = ev.length === 0 ? 0 : ev[0]![1];
  const t1 = ev.length === 0 ? 1 : Math.max(ev[ev.length - 1]![1], t0 + 1);
  const X = (t: number): number => ((t - t0) / (t1 - t0)) * PW;
  const out: string[] = [];
  out.push(`<svg id="timeline" viewBox="0 0 ${TL.W} ${H}" width="${TL.W}" height="${H}" role="img" aria-labelledby="tl-title">`);
  out.push(`<title id="tl-title">Timeline of ${plural(ev.length, 'event')} by virtual time, one row per vCPU activity, KVM and the host</title>`);
  rows.forEach((r, i) => {
    const y = rowY(rows, i);
    out.push(`<rect class="band g-${r.group.startsWith('vcpu') ? 'vcpu' : r.group}" x="0" y="${y - 1}" width="${TL.W}" height="${TL.ROW + 2}"/>`);
    out.push(`<text class="rowlabel" x="${TL.LABEL - 8}" y="${y + 13}" text-anchor="end">${escapeHtml(r.label)}</text>`);
  });
  out.push(`<svg id="plot" x="${TL.LABEL}" y="0" width="${PW}" height="${plotH}" viewBox="0 0 ${PW} ${plotH}" preserveAspectRatio="none">`);
  out.push(`<rect id="selband" x="0" y="0" width="0" height="${plotH}"/>`);
  out.push(`<line id="cursor" x1="0" x2="0" y1="0" y2="${plotH}" visibility="hidden"/>`);
  // Invalidation spans first, so instant marks draw over them.
  const invRow = rowOf(-1, EV_INV_START);
  const yi = rowY(rows, invRow);
  m.chains.forEach((c, ci) => {
    if (c.end < 0) return;
    const xa = X(ev[c.start]![1]);
    const xb = X(ev[c.end]![1]);
    out.push(`<rect class="span ev-${escapeHtml(c.event)}" data-c="${ci}" x="${px(xa)}" y="${yi + 2}" width="${px(xb - xa)}" height="${TL.ROW - 4}"/>`);
  });
  for (let i = 0; i < ev.length; i++) {
    const [, t, vcpu, kind] = ev[i]!;
    if (kind === EV_INV_END) continue;
    const r = rowOf(vcpu, kind);
    if (r < 0) continue;
    const y = rowY(rows, r);
    const x = px(X(t));
    const short = kind === EV_AGE ? 6 : 0;
    out.push(`<line class="${markClass(m, i)}" data-i="${i}" data-r="${r}" x1="${x}" x2="${x}" y1="${y + 1 + short}" y2="${y + TL.ROW - 1}"/>`);
  }
  out.push('</svg>');
  // Axis (the script redraws it on zoom).
  out.push(`<g id="axis" transform="translate(${TL.LABEL} ${plotH})">`);
  out.push(`<line class="axisline" x1="0" x2="${PW}" y1="0" y2="0"/>`);
  const step = niceStep(t1 - t0, 8);
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = px(X(t));
    out.push(`<line class="axisline" x1="${x}" x2="${x}" y1="0" y2="5"/><text class="tick" x="${x}" y="18" text-anchor="middle">${int(t)}</text>`);
  }
  out.push(`<text class="tick" x="${PW}" y="31" text-anchor="end">virtual time (guest instructions on vCPU 0)</text>`);
  out.push('</g>');
  out.push(`<rect id="brush" x="0" y="0" width="0" height="${plotH}"/>`);
  out.push('</svg>');
  return out.join('\n');
}

function legend(m: HtmlTraceModel): string {
  const used = new Set(m.chains.map((c) => c.event));
  const evs = m.mmuEvents.filter((e) => used.has(e));
  const sw = (cls: string, text: string): string => `<span class="lg"><span class="sw ${cls}"></span>${escapeHtml(text)}</span>`;
  return (
    '<p class="legend">' +
    [
      sw('o-fixed', 'fault fixed'),
      sw('o-swap-in', 'fault needing a swap-in'),
      sw('k-retry', 'retry'),
      sw('k-gpf', 'guest #PF'),
      sw('k-ptw', 'emulated PT write'),
      sw('k-set', 'spte set'),
      sw('k-zap', 'spte zap'),
      sw('k-flush', 'remote TLB flush'),
      ...evs.map((e) => sw(`ev-${e}`, `invalidation (${e})`)),
      sw('k-unseen', 'UNSEEN: host changed a page, KVM not told'),
      sw('k-stale', 'STALE: guest access through a freed or replaced frame'),
      sw('t-kswapd', 'kswapd'),
      sw('t-ksmd', 'ksmd'),
      sw('k-age', 'aging'),
    ].join(' ') +
    '</p>'
  );
}

// ---- chains, translations, events -----------------------------------------------------------------

function noChainsText(m: HtmlTraceModel): string {
  const swapped = m.hostCounts.swapOuts;
  const capped = m.ring.shown < m.ring.emitted;
  const unseen = m.unseen.length;
  if (m.mode !== 'notifier') {
    const why =
      `No invalidation reached KVM: in ${m.mode} mode KVM is not registered as an mmu_notifier, so the host's ` +
      `${plural(swapped, 'swap-out')}, merges and unmaps arrive as no event at all.`;
    if (unseen > 0) return `${why} The stale detector saw ${plural(unseen, 'of them', 'of them')} leave an spte behind: see <a href="#unseen">What KVM was never told</a>.`;
    if (m.mode === 'pin') return `${why} With every mapped page pinned, reclaim could not take a page KVM maps, so none went stale.`;
    return `${why}${capped ? ' None of them is among the events this page holds (capped): raise --last.' : ''}`;
  }
  if (swapped > 0) {
    return `No host invalidation among the events this page holds, although the host swapped out ${plural(swapped, 'page')}${capped ? ': the cap dropped them (raise --last or --events)' : ''}.`;
  }
  return 'No host invalidation in the events shown: nothing was swapped, merged or unmapped under the guest.';
}

function chainList(m: HtmlTraceModel): string {
  if (m.chains.length === 0) return `<p class="empty" id="nochains">${noChainsText(m)}</p>`;
  const shown = m.chains.slice(0, MAX_CHAINS_LISTED);
  const items = shown.map((c, i) => {
    const cls = c.zaps.length === 0 ? 'nozap' : c.refaults.some((r) => r.fault !== null) ? 'refault' : 'zap';
    const raced = c.raced.length === 0 ? '' : ` <span class="raced">(${plural(c.raced.length, 'raced fault')} retried)</span>`;
    return `<li class="${cls}" data-c="${i}"><a href="#chain=${c.n}">${escapeHtml(c.heading)}</a>${raced}</li>`;
  });
  const more = m.chains.length > shown.length ? `\n<p class="note">... and ${int(m.chains.length - shown.length)} more (the script lists them all).</p>` : '';
  return `<ol id="chainlist">\n${items.join('\n')}\n</ol>${more}`;
}

function eventRowHtml(m: HtmlTraceModel, i: number): string {
  const [seq, t, vcpu, kind, , , , , , text] = m.events[i]!;
  return `<tr data-i="${i}"><td class="num">${seq}</td><td class="num">${t}</td><td>${whoOf(vcpu, kind)}</td><td class="kind">${escapeHtml(m.kinds[kind] ?? String(kind))}</td><td class="desc">${escapeHtml(text)}</td></tr>`;
}

function lastEvents(m: HtmlTraceModel): string {
  const n = m.events.length;
  const from = Math.max(0, n - LAST_EVENTS_TABLE);
  const rows: string[] = [];
  for (let i = from; i < n; i++) rows.push(eventRowHtml(m, i));
  return (
    `<p class="meta">The last ${plural(n - from, 'event')} of the run (${from === 0 ? 'all of them' : `of ${int(n)} on this page`}).</p>\n` +
    '<div class="scroll tall"><table class="events">\n<thead><tr><th>seq</th><th>t</th><th>who</th><th>event</th><th>fields</th></tr></thead>\n<tbody>\n' +
    rows.join('\n') +
    '\n</tbody>\n</table></div>'
  );
}

function unseenList(m: HtmlTraceModel): string {
  if (m.unseen.length === 0) {
    return `<p class="empty">The stale detector saw no invalidation leave an spte behind${m.mode === 'notifier' ? ' (as it must be with the notifier)' : ''}.</p>`;
  }
  const items = m.unseen.map((u, i) => `<li class="${u.firstStale >= 0 ? 'stale' : 'quiet'}" data-u="${i}"><a href="#unseen=${u.n}">${escapeHtml(u.heading)}</a></li>`);
  return `<ol id="unseenlist">\n${items.join('\n')}\n</ol>`;
}

const HOWTO_PATH =
  'The guest touches memory through its own page tables (GVA &rarr; GPA); KVM maps each guest frame (gfn) to a host virtual ' +
  'address (HVA) in the VM process, and the host maps that to a physical frame (HPA). A <b>fault</b> is a vCPU exit when no ' +
  'shadow PTE (spte) covers an access: KVM walks the guest tables, asks the host for the frame (gup: zero-fill, swap-in, COW ' +
  'break) and installs an spte. ';

const HOWTO_UI =
  'Hover over the timeline to read an event, drag across it to zoom, click an invalidation to open its chain; click any gfn ' +
  "to see that page's whole history. <b>Step through</b> plays the events one by one (keys: &larr; &rarr;, space) and shows " +
  'the links of one guest page being made and broken.';

function howTo(mode: string): string {
  if (mode === 'notifier') {
    return (
      HOWTO_PATH +
      "When the host wants a frame back (kswapd or a fault's own reclaim swaps it out, KSM merges it, a fork write-protects " +
      'it) it calls the <b>mmu_notifier</b>: <code>INV_START</code>, KVM zaps every spte mapping the frame (<code>SPTE_ZAP</code>), ' +
      "flushes the vCPUs' TLBs (<code>TLB_FLUSH</code>), and only then, after <code>INV_END</code>, may the host reuse the frame. " +
      'The next guest access faults again: the <b>refault</b>, usually a swap-in. A fault that sampled <code>mmu_invalidate_seq</code> ' +
      'before an invalidation finished is <b>retried</b> rather than installing a stale frame. ' +
      HOWTO_UI
    );
  }
  const what =
    mode === 'pin'
      ? 'In <b>pin</b> mode (KVM before 2.6.27) KVM is <b>not</b> an mmu_notifier: it keeps a reference on every page it maps, ' +
        'so reclaim cannot free those frames (pinned reclaim failures; under pressure the OOM killer). A page the host ' +
        'write-protects or replaces anyway (fork, KSM) is changed behind KVM\'s back. '
      : 'In <b>none</b> mode KVM neither pins pages nor listens to the mmu_notifier: the host unmaps, swaps out and frees ' +
        'frames that sptes still map, and hands them to other pages. ';
  return (
    HOWTO_PATH +
    what +
    'There are no <code>INV_START</code>/<code>SPTE_ZAP</code> chains from KVM. The stale detector (a second notifier ' +
    'subscriber that is not KVM and changes nothing) records <code>UNSEEN</code> when an invalidation leaves an spte behind, ' +
    'and <code>STALE</code> for every guest access through a frame that was freed or replaced. <b>What KVM was never told</b> ' +
    'draws each one above the notifier chain of the same page in a run of the same seed. ' +
    HOWTO_UI
  );
}

function translationsHtml(m: HtmlTraceModel): string {
  if (m.translations.length === 0) return '<p class="empty">No guest page faulted in the events shown.</p>';
  const blocks = m.translations.map((t) => `<pre class="xlate" data-gfn="${t.gfn}">${escapeHtml(t.lines.join('\n'))}</pre>`);
  return `<details id="xlates"><summary>${plural(m.translations.length, 'address', 'addresses')} followed GVA &rarr; GPA &rarr; HVA &rarr; HPA at the end of the run (the latest distinct guest pages that faulted)</summary>\n${blocks.join('\n')}\n</details>`;
}

function totalsHtml(m: HtmlTraceModel): string {
  const causes = Object.keys(m.flushCauses).sort();
  const flushRow =
    causes.length === 0
      ? []
      : [{ label: 'remote TLB flushes on this page', value: int(causes.reduce((a, c) => a + m.flushCauses[c]!, 0)), note: `by cause: ${causes.map((c) => `${c} ${int(m.flushCauses[c]!)}`).join(', ')}` }];
  const unseenRow = m.unseen.length === 0 && m.mode === 'notifier' ? [] : [{ label: 'UNSEEN (KVM not told)', value: int(m.unseen.length), note: `pages left mapped by a stale spte on this page; ${int(m.unseen.filter((u) => u.firstStale >= 0).length)} led to a STALE access` }];
  const rows = [...m.totals, ...flushRow, ...unseenRow].map((r) => `<tr><th>${escapeHtml(r.label)}</th><td class="num">${escapeHtml(r.value)}</td><td class="note">${escapeHtml(r.note)}</td></tr>`);
  return `<table class="totals">\n${rows.join('\n')}\n</table>`;
}

/** JSON that cannot end its <script> element early. */
function embedJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function renderTraceHtml(m: HtmlTraceModel, vcpus: number): string {
  const r = m.ring;
  const p: string[] = [];
  p.push('<!doctype html>');
  p.push('<html lang="en">\n<head>\n<meta charset="utf-8">');
  p.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  p.push(`<title>${escapeHtml(m.title)}</title>`);
  p.push(`<style>${CLIENT_CSS}</style>\n</head>\n<body>`);
  p.push(`<h1>${escapeHtml(m.title)}</h1>`);
  p.push(`<p class="meta">Command: <code>${escapeHtml(m.command)}</code></p>`);
  p.push(`<p class="meta">Guest: ${escapeHtml(m.guest)}; mode <b>${escapeHtml(m.mode)}</b>; exit status ${escapeHtml(m.exit)}.</p>`);
  let ringNote = `${plural(r.emitted, 'event')} recorded`;
  if (r.held < r.emitted) ringNote += `; the ring (--events ${r.capacity}) kept the last ${int(r.held)}`;
  if (r.shown < r.held) ringNote += `; this page holds the last ${int(r.shown)} (capped at ${int(r.cap)}; --last N changes the cap)`;
  else ringNote += `; this page holds ${r.shown === r.emitted ? 'all of them' : `those ${int(r.shown)}`}`;
  p.push(`<p class="meta${r.shown < r.emitted ? ' capped' : ''}" id="ringnote">${escapeHtml(ringNote)}.</p>`);
  if (m.schedule !== undefined) p.push(scheduleSectionHtml(m.schedule));
  p.push('<h2>Totals</h2>');
  p.push(totalsHtml(m));
  p.push(`<p class="howto" id="howto"><b>How to read this.</b> ${howTo(m.mode)}</p>`);
  p.push('<h2>Timeline</h2>');
  p.push(
    '<div class="controls" id="tlcontrols" hidden><label><input type="radio" name="xmode" value="time" checked> x = virtual time</label> ' +
      '<label><input type="radio" name="xmode" value="order"> x = event order (spreads bursts)</label> ' +
      '<button type="button" id="zoomreset">reset zoom</button> <span id="zoomnote" class="meta"></span></div>',
  );
  p.push(legend(m));
  p.push(`<div class="tlwrap">${timelineSvg(m, vcpus)}<div id="tip" hidden></div></div>`);
  p.push('<h2 id="player-h">Step through</h2>');
  p.push(
    '<div class="player" id="player" hidden><div class="controls"><button type="button" id="pprev" title="previous event (&larr;)">&#9664; Prev</button> ' +
      '<button type="button" id="pplay" title="play / pause (space)">&#9654; Play</button> ' +
      '<button type="button" id="pnext" title="next event (&rarr;)">Next &#9654;</button> ' +
      '<label>guest page <select id="pgva"></select></label> ' +
      '<label><input type="checkbox" id="ponly" checked> only events of this page</label> ' +
      '<span class="meta" id="ppos"></span></div>' +
      '<div id="pcur" class="pcur"></div><div id="boxes" class="boxes"></div><div id="pnote" class="pnote"></div></div>',
  );
  p.push('<noscript><p class="empty">The player needs JavaScript.</p></noscript>');
  p.push('<h2>Causal chains</h2>');
  p.push(
    '<p class="meta">One per host invalidation, as <code>trace --chains</code> groups them: what started it &rarr; ' +
      '<code>INV_START</code> &rarr; the sptes zapped &rarr; the remote TLB flush &rarr; <code>INV_END</code> &rarr; the refault of each ' +
      'zapped gfn, and any fault that raced it and retried.</p>',
  );
  p.push('<div class="controls" id="chaincontrols" hidden><label><input type="checkbox" id="onlyzaps"> only chains that zapped sptes</label></div>');
  p.push('<div class="chains"><div class="scroll listbox">');
  p.push(chainList(m));
  p.push('</div><div id="chainview"><p class="empty">Select a chain to draw it.</p></div></div>');
  if (m.mode !== 'notifier' || m.unseen.length > 0) {
    p.push('<h2 id="unseen">What KVM was never told</h2>');
    p.push(
      '<p class="meta">One per page the host unmapped, replaced or write-protected while an spte still mapped it, as the stale ' +
        'detector saw it (<code>UNSEEN</code>): what set the host off &rarr; the spte still maps the old frame &rarr; who was handed ' +
        'that frame next &rarr; the first <code>STALE</code> guest access through it. Below it, the same page under the ' +
        'mmu_notifier in a run of the same image, flags and seed.</p>',
    );
    p.push(`<div class="chains"><div class="scroll listbox">${unseenList(m)}</div><div class="bugpair"><div id="unseenview"></div><div id="compareview"></div></div></div>`);
  }
  p.push('<h2>Page history</h2>');
  p.push(
    '<noscript><p class="empty">The page history needs JavaScript; without it, <code>trace --gfn N</code> prints the same ' +
      'events.</p></noscript>',
  );
  p.push(
    '<div class="controls" id="pagecontrols" hidden><label>gfn <select id="gfnsel"></select></label> ' +
      '<label>or type one <input id="gfnin" size="8" placeholder="0x122"></label></div>',
  );
  p.push('<div id="pageview"></div>');
  p.push(translationsHtml(m));
  p.push('<h2>Last events</h2>');
  p.push(lastEvents(m));
  p.push(`<script type="application/json" id="trace-data">${embedJson(m)}</script>`);
  p.push(`<script>${CLIENT_JS}</script>`);
  p.push('</body>\n</html>\n');
  return p.join('\n');
}
