// The script inlined into `shadowvisor web`'s page. It starts the engine (the embedded browser
// bundle) in a Web Worker made from a Blob URL, or in the page itself when no worker can start,
// sends it runs, and draws what comes back: counters, a per-VM table, charts over virtual time and
// the history of runs. It is one closure of plain ES2017, assembled here from its parts in order
// (each a String.raw with no backticks or dollar-brace inside, so nothing is interpolated or
// unescaped): this file holds the shared beginning (the page's config, state and small helpers),
// the whole-page render, and the wiring of the controls and the start-up at the end.

import { WEB_JS_CHARTS } from './web-page-script-charts.js';
import { WEB_JS_HISTORY } from './web-page-script-history.js';
import { WEB_JS_LIVE } from './web-page-script-live.js';
import { WEB_JS_RUNS } from './web-page-script-runs.js';

const WEB_JS_HEAD = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var config = JSON.parse($('sv-config').textContent);
  var FIELDS = config.fields;
  var MODES = config.modes;
  var STYLE = { notifier: { color: '#1a7f37', dash: '' }, pin: { color: '#b35900', dash: '8 4' }, none: { color: '#c4122f', dash: '2 3' } };
  var MIB = 1048576;
  var engineText = $('sv-engine').textContent;
  var glueText = $('sv-worker').textContent;
  var memhog = (function () {
    var s = atob($('sv-memhog').textContent.replace(/\s+/g, ''));
    var b = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b;
  })();

  var runs = [];
  var queue = [];
  var current = null;
  var viewed = null;
  var nextId = 1;
  var renderPending = false;
  var viewPicked = false;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;';
    });
  }
  function fmt(n) { return Math.round(n).toLocaleString('en-US'); }
  function compact(v) {
    var a = Math.abs(v);
    if (a < 10000) return String(Math.round(v * 100) / 100);
    var d = a < 1e6 ? 1e3 : a < 1e9 ? 1e6 : 1e9, u = a < 1e6 ? 'k' : a < 1e9 ? 'M' : 'G';
    var x = v / d;
    return (Math.abs(x) < 100 ? Number(x.toPrecision(3)) : Math.round(x)) + u;
  }
  function mib(bytes) { return String(Math.round(bytes / MIB * 100) / 100); }
  function hostBytes(p) { return Math.floor(p.vms * p.guestMib * MIB / p.overcommit / 4096) * 4096; }
`;

const WEB_JS_RENDER_AND_START = String.raw`
  // Charts are redrawn whole (their scales move), so while a run goes at most every CHART_MS.
  var CHART_MS = 400, chartAt = 0, chartPending = null;
  // The slowest redraw so far, for anyone checking that progress messages stay cheap (the browser
  // tests do): window.shadowvisorRedraws = { count, maxMs, charts }.
  var redraws = window.shadowvisorRedraws = { count: 0, maxMs: 0, charts: 0 };
  function drawCharts() {
    var t0 = chartAt = performance.now();
    redraws.charts++;
    drawChart('chart-swap', 'swapOuts');
    drawChart('chart-stale', 'staleAccesses');
    drawChart('chart-zap', 'sptesZapped');
    drawChart('chart-pin', 'pinnedReclaimFailures');
    redraws.maxMs = Math.max(redraws.maxMs, performance.now() - t0);
  }
  function render(forceCharts) {
    var t0 = performance.now();
    renderLive();
    var wait = CHART_MS - (performance.now() - chartAt);
    if (forceCharts === true || !current || wait <= 0) { if (chartPending) { clearTimeout(chartPending); chartPending = null; } drawCharts(); }
    else if (!chartPending) chartPending = setTimeout(function () { chartPending = null; drawCharts(); }, wait);
    renderHistory();
    renderTrace();
    $('stop').disabled = !current;
    $('queue').textContent = queue.length > 0 ? queue.length + ' more queued' : '';
    document.body.setAttribute('data-state', current ? 'running' : runs.length > 0 ? 'idle-with-runs' : 'idle');
    redraws.count++;
    redraws.maxMs = Math.max(redraws.maxMs, performance.now() - t0);
  }

  // ---- wiring ----
  $('form').addEventListener('change', updateDerived);
  $('form').addEventListener('input', updateDerived);
  $('form').addEventListener('submit', function (e) { e.preventDefault(); enqueue([readParams()]); });
  $('runall').addEventListener('click', function () { enqueue(MODES.map(function (m) { return readParams(m); })); });
  $('tracerun').addEventListener('click', function () { enqueue([tracePresetParams()]); });
  $('live').addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-jump]');
    if (a) { e.preventDefault(); $('tracebox').scrollIntoView({ block: 'start' }); }
  });
  $('stop').addEventListener('click', function () {
    queue.length = 0;
    if (current) backend.send({ type: 'stop', id: current.id });
    render();
  });
  $('clear').addEventListener('click', function () {
    runs.forEach(function (r) { if (r !== current && r.trace && r.trace.url) URL.revokeObjectURL(r.trace.url); });
    runs = runs.filter(function (r) { return r === current; });
    viewed = current;
    render();
  });
  $('runs').addEventListener('click', function (e) {
    var t = e.target;
    if (t.getAttribute && t.getAttribute('data-show')) {
      var id = Number(t.getAttribute('data-show'));
      runs.forEach(function (r) { if (r.id === id) r.show = t.checked; });
      render(true);
      return;
    }
    if (t.closest && t.closest('a')) return; // the trace links of a run
    while (t && t.tagName !== 'TR') t = t.parentNode;
    if (t && t.getAttribute('data-id')) {
      var rid = Number(t.getAttribute('data-id'));
      runs.forEach(function (r) { if (r.id === rid) viewed = r; });
      viewPicked = true;
      render(true);
    }
  });

  // #autorun=notifier|pin|none|all&vms=3&mib=16&ratio=2&ksm=1&seed=1&insns=40000000&mmu=tdp (&engine=main: no worker)
  function fromHash() {
    var h = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) h[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    if (h.vms) setControl('vms', h.vms);
    if (h.mib) setControl('guestMib', h.mib);
    if (h.ratio) setControl('overcommit', h.ratio);
    if (h.insns) setControl('insns', h.insns);
    if (h.seed) $('seed').value = h.seed;
    if (h.ksm) $('ksm').checked = h.ksm === '1' || h.ksm === 'on';
    if (h.mmu === 'tdp' || h.mmu === 'shadow') $('mmu').value = h.mmu;
    if (h.mode && MODES.indexOf(h.mode) >= 0) document.querySelector('input[name=mode][value=' + h.mode + ']').checked = true;
    updateDerived();
    if (h.autorun === 'trace') enqueue([tracePresetParams()]);
    else if (h.autorun === 'all') enqueue(MODES.map(function (m) { return readParams(m); }));
    else if (MODES.indexOf(h.autorun) >= 0) enqueue([readParams(h.autorun)]);
  }

  startBackend();
  updateDerived();
  render();
  fromHash();
})();
`;

export const WEB_JS = WEB_JS_HEAD + WEB_JS_RUNS + WEB_JS_LIVE + WEB_JS_CHARTS + WEB_JS_HISTORY + WEB_JS_RENDER_AND_START;
