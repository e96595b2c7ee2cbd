// The page `shadowvisor web` writes: one self-contained HTML file (inline CSS and script, no URL
// fetched, opens from file://) that carries the engine's browser bundle and the memhog image and
// runs swap cells live in a Web Worker. Rendering is pure: the same engine and image, same bytes.

import { SERIES_FIELDS, WEB_DEFAULTS, WEB_MODES } from '../web/web-cell.js';
import { TRACE_PRESET } from '../web/trace-cell.js';
import { WEB_JS } from './web-page-script.js';
import { WEB_CSS } from './web-page-style.js';

export interface WebPageInput {
  /** The browser IIFE bundle of src/web/engine-entry.ts. */
  engine: string;
  /** guest-images/memhog.elf. */
  memhog: Uint8Array;
}

/** Text for a raw-text <script> element: it must not close the element or open an escaped-script state. */
export function scriptSafe(text: string, what: string): string {
  if (/<\/script|<!--/i.test(text)) throw new Error(`${what} contains '</script' or '<!--' and cannot be inlined in a <script> element`);
  return text;
}

/** Base64 in lines of 76 characters (MIME's width), so the page stays diffable. */
function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/.{76}/g, '$&\n');
}

/** The worker's own code after the engine bundle: serve runs on the worker's global scope. */
export const WORKER_GLUE = 'shadowvisorWeb.serveWorker(self, function () { return performance.now(); });\n';

const opt = (values: (number | string)[], selected: number | string, label: (v: number | string) => string = String): string =>
  values.map((v) => `<option value="${v}"${v === selected ? ' selected' : ''}>${label(v)}</option>`).join('');

function controls(): string {
  const d = WEB_DEFAULTS;
  const mode = (m: string, title: string, what: string): string =>
    `<label class="mode"><input type="radio" name="mode" value="${m}"${m === d.mode ? ' checked' : ''}><b>${m}</b> &mdash; ${title}<small>${what}</small></label>`;
  return [
    '<form class="panel" id="form" autocomplete="off">',
    '<fieldset><legend>Memory coherence between KVM and the host</legend>',
    mode('notifier', 'mmu_notifier (Linux &ge; 2.6.27)', 'Before the host frees or replaces a frame, KVM zaps every shadow PTE that maps it and flushes the TLBs.'),
    mode('pin', 'page pins (KVM before 2.6.27)', 'KVM keeps a reference on every page it maps: nothing goes stale, but the host cannot reclaim it.'),
    mode('none', 'neither (broken on purpose)', 'No pin, no notifier: the host frees frames the shadow page tables still point at.'),
    '</fieldset>',
    '<div class="knobs">',
    `<label for="vms">VMs</label><select id="vms">${opt([1, 2, 3, 4], d.vms)}</select>`,
    `<label for="guestMib">guest RAM per VM</label><select id="guestMib">${opt([4, 8, 16, 32, 64], d.guestMib, (v) => `${v} MiB`)}</select>`,
    `<label for="overcommit">overcommit<br><small>guest RAM / host RAM</small></label><select id="overcommit">${opt([0.5, 1, 1.5, 2, 3, 4], d.overcommit)}</select>`,
    `<label for="insns">budget per VM<br><small>guest instructions</small></label><select id="insns">${opt([5e6, 10e6, 20e6, 40e6, 80e6, 160e6], d.insnsPerVm, (v) => `${Number(v) / 1e6} M`)}</select>`,
    `<label for="seed">seed</label><input type="number" id="seed" min="0" max="2147483647" value="${d.seed}">`,
    '<label for="mmu">hypervisor MMU</label><select id="mmu"><option value="shadow" selected>shadow paging (sptes)</option><option value="tdp">TDP, EPT-like (gpa&rarr;hpa table)</option></select>',
    `<label for="ksm">KSM</label><label><input type="checkbox" id="ksm"${d.ksm ? ' checked' : ''}> guest RAM mergeable, ksmd running</label>`,
    '</div>',
    '<p class="derived" id="derived"></p>',
    '<div class="buttons"><button type="submit" class="primary" id="run">Run</button>',
    '<button type="button" id="runall" title="notifier, then pin, then none, with the same settings">Run all three modes</button>',
    '<button type="button" id="stop" disabled>Stop</button></div>',
    `<p class="buttons"><button type="button" id="tracerun" title="one VM, ${TRACE_PRESET.guestMib} MiB on ${TRACE_PRESET.guestMib / TRACE_PRESET.overcommit} MiB of host RAM, ${TRACE_PRESET.insnsPerVm / 1e6} M instructions, the mode, seed and KSM above">Trace one small VM</button>` +
      '<small class="hint">records every fault, zap and flush, then opens the timeline, the chains and the step-through player below</small></p>',
    '<p class="backend"><span id="queue"></span> <span id="backend">Starting the engine&hellip;</span></p>',
    '</form>',
  ].join('\n');
}

function chart(id: string, title: string, what: string): string {
  return `<div class="chart"><h3>${title}</h3><p>${what}</p><div id="${id}"></div></div>`;
}

const EXPLAIN = `<section class="explain">
<h2>What you are seeing</h2>
<p>Each VM runs <b>memhog</b>, a small i386 program built with gcc, executed instruction by instruction by the simulator's
interpreter (the same engine as the <code>shadowvisor</code> command, bundled into this page). memhog fills its memory with
patterns tagged by page number, then keeps re-reading and rewriting pages, checking every page it reads; its progress lines
(<code>verified=V corrupt=C</code>) are its serial console. The guests reach their memory through their own page tables and
KVM's <b>shadow page tables</b> (sptes), which point straight at host frames.</p>
<p>The host has less RAM than the guests were given (<b>overcommit</b> above 1), so its reclaim (kswapd) keeps swapping guest pages
out and back in. Everything hinges on what KVM learns when the host takes a frame away:</p>
<p><span class="sw notifier" style="border-color:#1a7f37"></span> <b>notifier</b>: the host calls <code>invalidate_range_start</code>
first; KVM zaps every spte mapping the frame and flushes every vCPU's TLB; only then is the frame written to swap and freed. The
guest's next access faults, and the host swaps the page back in. You see swap-outs and swap-ins climb, about one spte zapped per
swap-out, and <b>stale accesses stay at zero</b>: the guests verify every page and never notice.</p>
<p><span class="sw pin" style="border-color:#b35900"></span> <b>pin</b>: KVM holds a reference on every page it has mapped, as it
did before 2.6.27. Nothing can go stale, but reclaim finds the guests' pages pinned (<b>pinned reclaim failures</b> climb), free
memory runs out, and the host's OOM killer kills a VM process.</p>
<p><span class="sw none" style="border-color:#c4122f"></span> <b>none</b>: no pins and no notifier. The host frees frames that
sptes still map and reuses them for other pages, of this VM or another. Every access through such a translation is counted by the
<b>stale-access detector</b> (frame generations); reclaim takes the guests' oldest pages first (their kernel text and stack), so the
guests usually crash (triple fault) executing recycled memory before their data checks can even report corrupt pages.</p>
<p>With <b>KSM</b> on, ksmd merges identical guest pages into one write-protected frame and frees the others: every merge is an
invalidation too. The notifier zaps the sptes of the merged pages; without it the guests keep writing to freed frames, so
<code>none</code> goes wrong even on a host that never swaps.</p>
<p>The charts share one x axis, <b>virtual time</b>: guest instructions retired by all VMs. A run that ends early (crash, OOM kill)
ends its line early, marked &times;. Runs are deterministic: the same settings and seed give the same curves and counts (only wall
seconds differ). At overcommit 1 or below, without KSM, nothing is swapped and all three modes behave alike: try it. The same cell from a
terminal: <code>npx shadowvisor demo</code>, <code>npx shadowvisor bench swap --quick</code>; to watch single faults, zaps and
refaults, <code>npx shadowvisor trace guest-images/pagetest.elf --host-mem 256K --html out/</code>.</p>
<p><b>Trace one small VM</b> does that here: one VM of 4 MiB on 2 MiB of host RAM runs 3 M instructions in the chosen mode with
the hypervisor's event ring on, and the worker renders the page <code>trace --html</code> writes. Below the controls you get the
timeline of every fault, zap and flush, the causal chains, and a step-through player that shows one guest page's links (guest
PTE, spte, host PTE, frame, TLB) being made and broken; in <code>pin</code> and <code>none</code> mode, the chains of what KVM
was never told, beside the same page under the notifier.</p>
</section>`;

export function renderWebPage(input: WebPageInput): string {
  const config = JSON.stringify({ fields: SERIES_FIELDS, modes: WEB_MODES, defaults: WEB_DEFAULTS, tracePreset: TRACE_PRESET }).replace(/</g, '\\u003c');
  const p: string[] = [];
  p.push('<!doctype html>');
  p.push('<html lang="en">\n<head>\n<meta charset="utf-8">');
  p.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  p.push('<title>shadowvisor in the browser: guest swapping with and without the mmu_notifier</title>');
  p.push(`<style>${WEB_CSS}</style>\n</head>\n<body data-state="idle">`);
  p.push('<h1>shadowvisor in the browser</h1>');
  p.push(
    '<p class="lede">Real i386 guests under a KVM-like shadow MMU, on a simulated Linux host that swaps their memory. ' +
      'Run the same load with the <b>mmu_notifier</b>, with <b>page pins</b>, or with <b>neither</b>, and watch what breaks.</p>',
  );
  p.push('<p class="meta">Written by <code>shadowvisor web</code>. The simulator runs inside this page; nothing is fetched from anywhere.</p>');
  p.push('<noscript><p class="err">This page runs the simulator in JavaScript: enable it to use the page.</p></noscript>');
  p.push('<div class="grid">');
  p.push(controls());
  p.push('<section><div id="live"></div></section>');
  p.push('</div>');
  p.push(
    '<section id="tracebox" hidden><h2 id="tracetitle">Trace</h2><p class="meta">The page <code>shadowvisor trace --html</code> writes, ' +
      'rendered by the worker from the events it recorded: <a id="traceopen" href="#" target="_blank">open it in its own tab</a>.</p>' +
      '<iframe id="traceframe" title="the trace of the run"></iframe></section>',
  );
  p.push('<h2>Over virtual time: every run on this page</h2>');
  p.push(
    '<p class="meta">Green solid: notifier; orange dashed: pin; red dotted: none. The thick line is the run shown above; ' +
      'click a row below to show another, untick it to hide its lines.</p>',
  );
  p.push('<div class="charts">');
  p.push(chart('chart-swap', 'Swap-outs', 'pages the host wrote to swap: the memory pressure each mode could act on'));
  p.push(chart('chart-stale', 'Stale accesses', 'guest accesses through a freed or replaced host frame: must stay 0'));
  p.push(chart('chart-zap', 'Sptes zapped by invalidations', 'the notifier at work: shadow PTEs torn down before a frame goes'));
  p.push(chart('chart-pin', 'Reclaim attempts refused by pins', 'pin mode: the host cannot take back what KVM holds'));
  p.push('</div>');
  p.push('<h2>Runs so far</h2>');
  p.push('<div id="runs" class="scroll"></div>');
  p.push('<p><button type="button" id="clear">Clear history</button></p>');
  p.push(EXPLAIN);
  p.push(`<script type="application/json" id="sv-config">${config}</script>`);
  p.push(`<script type="text/plain" id="sv-engine">${scriptSafe(input.engine, 'the engine bundle')}</script>`);
  p.push(`<script type="text/plain" id="sv-worker">${WORKER_GLUE}</script>`);
  p.push(`<script type="application/octet-stream" id="sv-memhog" data-bytes="${input.memhog.length}">\n${base64(input.memhog)}\n</script>`);
  p.push(`<script>${scriptSafe(WEB_JS, 'the page script')}</script>`);
  p.push('</body>\n</html>\n');
  return p.join('\n');
}
