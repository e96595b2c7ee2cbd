// The style sheet and the script inlined into `shadowvisor web`'s page. The script starts the
// engine (the embedded browser bundle) in a Web Worker made from a Blob URL, or in the page itself
// when no worker can start, sends it runs, and draws what comes back: counters, a per-VM table,
// charts over virtual time and the history of runs. Plain ES2017 in String.raw (no backticks or
// dollar-brace inside), so nothing here is interpolated or unescaped.

export const WEB_CSS = String.raw`
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2rem auto;max-width:1360px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.55rem;margin:0 0 .2rem}h2{font-size:1.12rem;margin:1.4rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
code{background:#f2f4f7;padding:.05rem .3rem;border-radius:4px}
.lede{margin:.2rem 0 .3rem;max-width:70rem}.meta{color:#57606a;font-size:.86rem;margin:.15rem 0}
.grid{display:grid;grid-template-columns:minmax(330px,400px) 1fr;gap:1.2rem;align-items:start}
.panel{border:1px solid #d0d7de;border-radius:8px;padding:.8rem 1rem;background:#f6f8fa}
fieldset{border:0;margin:0 0 .6rem;padding:0}legend{font-weight:600;padding:0;margin-bottom:.2rem}
.mode{display:block;padding:.3rem .4rem;border-radius:6px;cursor:pointer;margin:.1rem 0;border:1px solid transparent}
.mode:hover{background:#eef1f4}.mode input{margin-right:.35rem}.mode small{display:block;color:#57606a;margin-left:1.45rem;line-height:1.3}
.mode.sel{background:#fff;border-color:#d0d7de}
.knobs{display:grid;grid-template-columns:auto 1fr;gap:.35rem .7rem;align-items:center;margin:.4rem 0 .6rem}
.knobs label{font-size:.92rem;line-height:1.2}.knobs label small{color:#57606a;font-size:.78rem}.knobs select,.knobs input[type=number]{font:inherit;padding:.1rem .3rem;width:8rem}
.derived{font-size:.85rem;color:#3d444d;margin:.3rem 0 .7rem}
.buttons{display:flex;gap:.5rem;flex-wrap:wrap}
button{font:inherit;padding:.35rem .9rem;border-radius:6px;border:1px solid #8c959f;background:#fff;cursor:pointer}
button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff;font-weight:600}button:disabled{opacity:.45;cursor:default}
.backend{font-size:.8rem;color:#57606a;margin-top:.6rem}
.runhead{font-weight:600;margin:0 0 .3rem}.runhead .sw{margin-right:.35rem}
.verdict{font-size:1.12rem;font-weight:600;padding:.45rem .7rem;border-radius:6px;margin:.3rem 0 .6rem;background:#f6f8fa;border-left:5px solid #8c959f}
.verdict.ok{background:#dafbe1;border-color:#1a7f37;color:#0f5323}.verdict.bad{background:#ffebe9;border-color:#c4122f;color:#82071e}
.verdict.oom{background:#fff1e5;border-color:#b35900;color:#6b3100}.verdict.running{background:#ddf4ff;border-color:#1f6feb;color:#0a3069}
.bar{height:6px;background:#eaeef2;border-radius:3px;overflow:hidden;margin:.2rem 0 .5rem}.bar>i{display:block;height:100%;background:#1f6feb}
.counters{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.35rem;margin:.4rem 0 .7rem}
.counter{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.25rem .55rem}
.counter b{display:block;font-size:1.15rem;font-variant-numeric:tabular-nums}.counter span{font-size:.78rem;color:#57606a}
.counter.alert b{color:#c4122f}.counter.warn b{color:#b35900}.counter.good b{color:#1a7f37}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #eaeef2;padding:.22rem .5rem;text-align:left;white-space:nowrap}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.line{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:normal;color:#3d444d}
.badge{display:inline-block;padding:0 .45rem;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#8c959f}
.b-running{background:#1f6feb}.b-ok{background:#1a7f37}.b-crash{background:#c4122f}.b-oom{background:#b35900}.b-other{background:#6e7781}
.vbar{display:inline-block;width:70px;height:6px;background:#eaeef2;border-radius:3px;vertical-align:middle;margin-left:.4rem;overflow:hidden}.vbar>i{display:block;height:100%;background:#1f6feb}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:.8rem 1.2rem}
.chart h3{font-size:.95rem;margin:.2rem 0 0}.chart p{font-size:.8rem;color:#57606a;margin:0 0 .2rem}
svg.plot{display:block;width:100%;height:auto;background:#fff;border:1px solid #d0d7de;border-radius:6px}
svg.plot text{font-family:system-ui,sans-serif}.tick{font-size:11px;fill:#57606a}.gridline{stroke:#eaeef2}.axis{stroke:#8c959f}
.endlabel{font-size:11px;font-weight:600}
.sw{display:inline-block;width:1.6em;height:0;border-top:3px solid;vertical-align:middle}
.sw.pin{border-top-style:dashed}.sw.none{border-top-style:dotted}
#runs tr{cursor:pointer}#runs tr.viewed td{background:#fff8c5}#runs tr:hover td{background:#eef4ff}
#runs td.verdictcell{white-space:normal;min-width:14rem;font-weight:600}#runs td.setup{white-space:normal;min-width:10rem;color:#3d444d}.v-ok{color:#1a7f37}.v-bad{color:#c4122f}.v-oom{color:#b35900}.v-running{color:#1f6feb}#runs table{font-size:12.5px}#runs th,#runs td{padding:.2rem .4rem}.scroll{overflow-x:auto}
.empty{color:#57606a;font-style:italic}
.hint{display:block;color:#57606a;font-size:.8rem;margin-top:.2rem}#tracebox iframe{width:100%;height:1100px;border:1px solid #d0d7de;border-radius:6px}.tracelinks{margin:.5rem 0}
.explain{max-width:75rem}.explain p{margin:.45rem 0}
.err{color:#82071e;background:#ffebe9;padding:.4rem .7rem;border-radius:6px}
@media (max-width:1000px){.grid{grid-template-columns:1fr}.charts{grid-template-columns:1fr}}
`;

export const WEB_JS = String.raw`
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

  // ---- the engine: a worker from a Blob URL, or this page's own thread ----
  var backend = null;
  function mainThreadBackend(why) {
    if (!window.shadowvisorWeb) (new Function(engineText))();
    var scope = {
      onmessage: null,
      postMessage: function (m) { onReply(m); },
      setTimeout: function (f, ms) { return setTimeout(f, ms); }
    };
    window.shadowvisorWeb.serveWorker(scope, function () { return performance.now(); });
    return { kind: 'this page\'s main thread (' + why + ')', send: function (m) { setTimeout(function () { scope.onmessage({ data: m }); }, 0); }, heard: true };
  }
  function workerBackend() {
    var url = URL.createObjectURL(new Blob([engineText, '\n;', glueText], { type: 'text/javascript' }));
    var w = new Worker(url);
    var b = { kind: 'a Web Worker', heard: false, send: function (m) { b.last = m; w.postMessage(m); }, last: null };
    w.onmessage = function (e) { b.heard = true; onReply(e.data); };
    w.onerror = function (e) {
      if (e && e.preventDefault) e.preventDefault();
      if (!b.heard) {
        // The worker never answered (a browser that refuses Blob workers on file://): run here.
        backend = mainThreadBackend('no worker: ' + ((e && e.message) || 'refused'));
        showBackend();
        if (b.last) backend.send(b.last);
        return;
      }
      if (current) onReply({ type: 'error', id: current.id, message: (e && e.message) || 'the worker failed' });
    };
    return b;
  }
  function startBackend() {
    if (/(^#|&)engine=main(&|$)/.test(location.hash)) backend = mainThreadBackend('#engine=main');
    else try { backend = workerBackend(); } catch (err) { backend = mainThreadBackend('no worker: ' + err.message); }
    showBackend();
  }
  function showBackend() {
    var jit = false;
    try { jit = new Function('return 1')() === 1; } catch (err) { jit = false; }
    $('backend').textContent = 'The engine runs in ' + backend.kind + '; guest code runs ' + (jit ? 'compiled to JavaScript (new Function is allowed)' : 'in the interpreter (this page forbids new Function)') + '; this page fetches nothing.';
  }

  // ---- controls ----
  function readParams(mode) {
    var p = {
      mode: mode || document.querySelector('input[name=mode]:checked').value,
      vms: Number($('vms').value),
      guestMib: Number($('guestMib').value),
      overcommit: Number($('overcommit').value),
      ksm: $('ksm').checked,
      seed: Math.max(0, Math.floor(Number($('seed').value) || 0)),
      insnsPerVm: Number($('insns').value)
    };
    if ($('mmu').value === 'tdp') p.mmu = 'tdp';
    return p;
  }
  function setControl(id, v) {
    var el = $(id);
    if (el.tagName === 'SELECT' && !Array.prototype.some.call(el.options, function (o) { return o.value === String(v); })) {
      var o = document.createElement('option'); o.value = String(v); o.textContent = String(v); el.appendChild(o);
    }
    el.value = String(v);
  }
  function updateDerived() {
    var p = readParams();
    var guests = p.vms * p.guestMib;
    $('derived').innerHTML = 'Host RAM <b>' + mib(hostBytes(p)) + ' MiB</b> for ' + guests + ' MiB of guest RAM; swap ' + guests +
      ' MiB. Each guest\'s memhog works on ' + Math.max(1, p.guestMib - 2) + ' MiB (' + fmt(Math.max(1, p.guestMib - 2) * 256) + ' pages); ' +
      fmt(p.vms * p.insnsPerVm / 1e6) + ' M guest instructions in all.';
    var modes = document.querySelectorAll('.mode');
    for (var i = 0; i < modes.length; i++) modes[i].classList.toggle('sel', modes[i].querySelector('input').checked);
  }

  function enqueue(list) {
    viewPicked = false;
    for (var i = 0; i < list.length; i++) queue.push(list[i]);
    if (!current) startNext();
    render();
  }
  function startNext() {
    if (queue.length === 0) return;
    var params = queue.shift(), trace = params.trace === true;
    var run = { id: nextId++, params: params, series: [], snap: null, status: 'running', seconds: 0, hostBytes: hostBytes(params), show: true, error: null, trace: trace ? { html: null, url: null, events: 0 } : null };
    runs.push(run);
    current = run;
    // A run the user picked from the table stays shown while the queue moves on.
    if (!viewPicked) viewed = run;
    backend.send({ type: trace ? 'trace' : 'run', id: run.id, params: params, image: memhog });
  }
  // The traced preset: one small VM whose events the worker records and renders as a trace page.
  function tracePresetParams() {
    var p = readParams(), t = config.tracePreset;
    p.vms = t.vms; p.guestMib = t.guestMib; p.overcommit = t.overcommit; p.insnsPerVm = t.insnsPerVm; p.trace = true;
    return p;
  }
  function traceUrl(run) {
    if (!run.trace.url) run.trace.url = URL.createObjectURL(new Blob([run.trace.html], { type: 'text/html' }));
    return run.trace.url;
  }
  function traceLinks(run) {
    if (!run.trace || !run.trace.html) return '<p class="tracelinks meta">Recording the event ring&hellip;</p>';
    return '<p class="tracelinks"><b>' + fmt(run.trace.events) + ' events recorded.</b> Their timeline, chains and step-through player are <a href="#tracebox" data-jump="1">below</a>.</p>';
  }
  var traceShown = null;
  function renderTrace() {
    var run = viewed && viewed.trace && viewed.trace.html ? viewed : null;
    if (run === traceShown) return;
    traceShown = run;
    $('tracebox').hidden = !run;
    if (!run) { $('traceframe').removeAttribute('src'); return; }
    var url = traceUrl(run);
    $('tracetitle').textContent = 'Trace of run #' + run.id + ' (' + run.params.mode + ')';
    $('traceopen').href = url;
    $('traceframe').src = url;
  }
  function onReply(m) {
    var run = null;
    for (var i = 0; i < runs.length; i++) if (runs[i].id === m.id) run = runs[i];
    if (!run) return;
    if (m.type === 'error') {
      run.status = 'error';
      run.error = m.message;
    } else if (m.type === 'trace') {
      run.snap = m.snap;
      run.seconds = m.seconds;
      run.hostBytes = m.hostBytes;
      run.trace.html = m.html;
      run.trace.events = m.events;
      run.status = 'done';
      // Straight into the timeline, unless the user is looking at another run.
      if (viewed === run) setTimeout(function () { render(); $('tracebox').scrollIntoView({ block: 'start' }); }, 0);
    } else {
      for (var k = 0; k < m.samples.length; k++) run.series.push(m.samples[k]);
      run.snap = m.snap;
      run.seconds = m.seconds;
      run.hostBytes = m.hostBytes;
      if (m.type === 'done') run.status = m.snap.outcome === 'interrupted' ? 'stopped' : 'done';
    }
    if (run.status !== 'running' && current === run) {
      current = null;
      startNext();
    }
    scheduleRender();
  }

  // ---- drawing ----
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(function () { renderPending = false; render(); });
  }
  function modeSwatch(mode) { return '<span class="sw ' + mode + '" style="border-color:' + STYLE[mode].color + '"></span>'; }
  function describe(p) {
    return p.mode + ', ' + p.vms + ' VM' + (p.vms > 1 ? 's' : '') + ' x ' + p.guestMib + ' MiB, overcommit ' + p.overcommit +
      (p.ksm ? ', KSM' : '') + (p.mmu === 'tdp' ? ', TDP MMU' : '') + ', seed ' + p.seed + ', ' + compact(p.insnsPerVm) + ' insns/VM';
  }
  function verdictClass(run) {
    if (run.status === 'error') return 'bad';
    if (run.status === 'running') return 'running';
    var o = run.snap && run.snap.outcome;
    if (o === 'ok') return 'ok';
    if (o === 'oom-killed' || o === 'stalled' || o === 'interrupted') return 'oom';
    return 'bad';
  }
  function verdictText(run) {
    if (run.status === 'error') return 'error: ' + run.error;
    if (run.status === 'running') return run.snap ? 'running... ' + fmt(run.snap.staleAccesses) + ' stale accesses so far' : 'starting...';
    return run.snap.verdict;
  }
  function stateBadge(s) {
    var cls = s === 'running' ? 'b-running' : s === 'budget' || s === 'exit' ? 'b-ok' : s === 'triple-fault' || s === 'guest-error' ? 'b-crash' : s === 'oom-killed' ? 'b-oom' : 'b-other';
    var label = s === 'budget' ? 'done' : s === 'triple-fault' ? 'crashed (triple fault)' : s === 'oom-killed' ? 'OOM-killed' : s === 'interrupted' ? 'stopped' : s;
    return '<span class="badge ' + cls + '">' + esc(label) + '</span>';
  }
  function counter(label, value, cls, title) {
    return '<div class="counter ' + (cls || '') + '" title="' + esc(title) + '"><b>' + value + '</b><span>' + esc(label) + '</span></div>';
  }

  // The live panel is built once per viewed run (and when its shape changes: first snapshot, end
  // of the run) and otherwise updated in place, so a progress message costs a few text writes, not
  // a re-parse of the panel (which stalled the page and swallowed clicks mid-run).
  var liveKey = '';
  function liveCounters(run) {
    var s = run.snap, p = run.params, mips = run.seconds > 0 ? s.instructions / run.seconds / 1e6 : 0;
    var c = [
      ['insns', 'guest instructions', compact(s.instructions), '', 'guest instructions retired by all VMs (virtual time)'],
      ['swapOuts', 'swap-outs', fmt(s.swapOuts), '', 'pages the host wrote to its swap device'],
      ['swapIns', 'swap-ins', fmt(s.swapIns), '', 'pages the host read back from swap'],
      ['stale', 'stale accesses', fmt(s.staleAccesses), s.staleAccesses > 0 ? 'alert' : 'good', 'guest accesses through a translation whose host frame was freed or replaced'],
      ['inv', 'invalidations', fmt(s.invalidations), '', 'mmu_notifier invalidate_range_start calls KVM received'],
      ['zapped', 'sptes zapped', fmt(s.sptesZapped), '', 'shadow PTEs torn down by invalidate_range_start'],
      ['pinfail', 'pinned reclaim failures', fmt(s.pinnedReclaimFailures), s.pinnedReclaimFailures > 0 ? 'warn' : '', 'reclaim attempts refused because KVM held a reference (pin mode)'],
      ['oom', 'OOM kills', fmt(s.oomKills), s.oomKills > 0 ? 'warn' : '', 'VM processes the host OOM killer killed'],
      ['verified', 'pages verified', fmt(s.verified), '', 'pages the guests re-read and found as they left them'],
      ['corrupt', 'corrupt pages', fmt(s.corrupt), s.corrupt > 0 ? 'alert' : '', 'pages the guests found wrong (their own checks)']
    ];
    if (p.ksm) c.push(['ksm', 'KSM merges', fmt(s.ksmMerges), '', 'identical pages ksmd merged (each one an invalidation)']);
    c.push(['wall', 'wall seconds', run.seconds.toFixed(1), '', 'real time in this browser, ' + mips.toFixed(0) + ' MIPS']);
    return c;
  }
  function vmCells(run, v) {
    return [stateBadge(v.state), compact(v.instructions) + '<span class="vbar"><i style="width:' + Math.min(100, v.instructions / run.params.insnsPerVm * 100).toFixed(1) + '%"></i></span>',
      fmt(v.verified), fmt(v.corrupt), fmt(v.staleAccesses), esc(v.lastLine)];
  }
  function setHtml(el, h) { if (el.__h !== h) { el.__h = h; el.innerHTML = h; } }
  function setText(el, t) { if (el.textContent !== t) el.textContent = t; }
  function setClass(el, c) { if (el.className !== c) el.className = c; }
  function renderLive() {
    var run = viewed, live = $('live');
    if (!run) {
      liveKey = '';
      setHtml(live, '<p class="empty">Pick a mode and press Run (or "Run all three modes" to compare them on the same load).</p>');
      return;
    }
    var s = run.snap, p = run.params;
    var key = run.id + '/' + (s ? s.vms.length : -1) + '/' + run.status + '/' + (run.trace ? 1 : 0);
    if (key !== liveKey) {
      liveKey = key;
      var h = '<p class="runhead">' + modeSwatch(p.mode) + 'Run #' + run.id + ': ' + esc(describe(p)) + '; host RAM <span data-k="host">' + mib(run.hostBytes) + '</span> MiB</p>';
      h += '<div class="verdict" id="verdict"></div>';
      if (s) {
        h += '<div class="bar" title="guest instructions retired / budget"><i id="livebar"></i></div><div class="counters">';
        liveCounters(run).forEach(function (c) { h += '<div class="counter" data-k="' + c[0] + '" title=""><b></b><span>' + esc(c[1]) + '</span></div>'; });
        h += '</div><table><thead><tr><th>VM</th><th>state</th><th class="num">instructions</th><th class="num">verified</th><th class="num">corrupt</th><th class="num">stale</th><th>memhog\'s last line</th></tr></thead><tbody id="vmrows">';
        for (var i = 0; i < s.vms.length; i++) h += '<tr><td>' + esc(s.vms[i].name) + '</td><td></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="line"></td></tr>';
        h += '</tbody></table>';
      }
      if (run.trace) h += traceLinks(run);
      live.__h = null;
      live.innerHTML = h;
    }
    var vd = $('verdict');
    setClass(vd, 'verdict ' + verdictClass(run));
    setText(vd, p.mode + ': ' + verdictText(run));
    if (!s) return;
    $('livebar').style.width = Math.min(100, s.instructions / (p.vms * p.insnsPerVm) * 100).toFixed(1) + '%';
    var boxes = live.querySelectorAll('.counter');
    liveCounters(run).forEach(function (c, k) {
      var el = boxes[k];
      if (!el) return;
      setClass(el, 'counter ' + c[3]);
      if (el.title !== c[4]) el.title = c[4];
      setText(el.firstChild, c[2]);
    });
    var rows = $('vmrows').children;
    for (var r = 0; r < s.vms.length && r < rows.length; r++) {
      var cells = vmCells(run, s.vms[r]);
      for (var q = 0; q < cells.length; q++) setHtml(rows[r].children[q + 1], cells[q]);
    }
  }

  function niceTicks(max, n) {
    if (!(max > 0)) return [0, 1];
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10], step = p * 10;
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) { step = steps[i] * p; break; }
    var t = [];
    for (var k = 0; ; k++) { var v = Math.round(k * step * 1e9) / 1e9; t.push(v); if (v >= max) break; }
    return t;
  }
  function drawChart(id, field) {
    var W = 640, H = 250, L = 56, R = 34, T = 12, B = 34;
    var f = FIELDS.indexOf(field), stride = FIELDS.length, xi = FIELDS.indexOf('instructions');
    var shown = runs.filter(function (r) { return r.show && r.series.length > 0; });
    var xmax = 0, ymax = 0;
    shown.forEach(function (r) {
      xmax = Math.max(xmax, r.params.vms * r.params.insnsPerVm);
      for (var i = f; i < r.series.length; i += stride) if (r.series[i] > ymax) ymax = r.series[i];
    });
    if (xmax === 0) { var q = readParams(); xmax = q.vms * q.insnsPerVm; }
    var xt = niceTicks(xmax / 1e6, 6), yt = niceTicks(ymax, 4);
    var xs = function (v) { return L + (v / 1e6) / xt[xt.length - 1] * (W - L - R); };
    var ys = function (v) { return H - B - v / yt[yt.length - 1] * (H - T - B); };
    var s = '<svg class="plot" viewBox="0 0 ' + W + ' ' + H + '" xmlns="http://www.w3.org/2000/svg" role="img">';
    yt.forEach(function (t) {
      var y = ys(t).toFixed(1);
      s += '<line class="gridline" x1="' + L + '" x2="' + (W - R) + '" y1="' + y + '" y2="' + y + '"/>';
      s += '<text class="tick" x="' + (L - 6) + '" y="' + y + '" dy="4" text-anchor="end">' + compact(t) + '</text>';
    });
    xt.forEach(function (t) {
      var x = xs(t * 1e6).toFixed(1);
      s += '<line class="axis" x1="' + x + '" x2="' + x + '" y1="' + (H - B) + '" y2="' + (H - B + 4) + '"/>';
      s += '<text class="tick" x="' + x + '" y="' + (H - B + 16) + '" text-anchor="middle">' + compact(t) + '</text>';
    });
    s += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>';
    s += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
    s += '<text class="tick" x="' + ((L + W - R) / 2) + '" y="' + (H - 3) + '" text-anchor="middle">guest instructions retired, all VMs (millions) = virtual time</text>';
    if (shown.length === 0) s += '<text class="tick" x="' + ((L + W - R) / 2) + '" y="' + (H / 2) + '" text-anchor="middle">no runs yet</text>';
    shown.forEach(function (r) {
      var n = r.series.length / stride, every = Math.max(1, Math.ceil(n / 700)), pts = [];
      for (var k = 0; k < n; k += every) pts.push(xs(r.series[k * stride + xi]).toFixed(1) + ',' + ys(r.series[k * stride + f]).toFixed(1));
      if ((n - 1) % every !== 0) pts.push(xs(r.series[(n - 1) * stride + xi]).toFixed(1) + ',' + ys(r.series[(n - 1) * stride + f]).toFixed(1));
      var st = STYLE[r.params.mode], wide = r === viewed ? 3 : 1.8;
      s += '<polyline fill="none" stroke="' + st.color + '" stroke-width="' + wide + '" stroke-linejoin="round"' + (st.dash ? ' stroke-dasharray="' + st.dash + '"' : '') + ' points="' + pts.join(' ') + '"/>';
      var last = pts[pts.length - 1].split(',');
      var ended = r.status !== 'running' && r.snap && r.snap.outcome !== 'ok';
      if (ended) s += '<text x="' + last[0] + '" y="' + last[1] + '" dy="4" text-anchor="middle" fill="' + st.color + '" font-size="13" font-weight="700">\u00d7</text>';
      s += '<text class="endlabel" x="' + (Number(last[0]) + 6) + '" y="' + (Number(last[1]) - 4) + '" fill="' + st.color + '">#' + r.id + '</text>';
    });
    s += '</svg>';
    $(id).innerHTML = s;
  }

  // The run table: one <tr> per run, made once and then updated cell by cell, so a click that
  // lands between mousedown and mouseup while a run is going still finds the same row (and rows
  // are appended, so a starting run does not shift them either).
  function historyCells(r) {
    var s = r.snap || {}, p = r.params;
    var o = r.status === 'running' ? 'running' : r.status === 'error' ? 'error' : s.outcome;
    var setup = p.vms + ' x ' + p.guestMib + ' MiB, ratio ' + p.overcommit + ' (host ' + mib(r.hostBytes) + ' MiB)' + (p.ksm ? ', KSM' : '') + (p.mmu === 'tdp' ? ', TDP MMU' : '') +
      ', seed ' + p.seed + ', ' + compact(p.insnsPerVm) + ' insns/VM' + (r.trace ? ', event ring' : '');
    return [String(r.id), modeSwatch(p.mode) + ' ' + esc(p.mode), esc(setup), esc(o), fmt(s.swapOuts || 0), fmt(s.swapIns || 0), fmt(s.staleAccesses || 0),
      fmt(s.sptesZapped || 0), fmt(s.pinnedReclaimFailures || 0), fmt(s.oomKills || 0), fmt(s.verified || 0), fmt(s.corrupt || 0), r.seconds.toFixed(1), esc(verdictText(r))];
  }
  var CELL_CLASS = ['', '', 'setup', '', 'num', 'num', 'num', 'num', 'num', 'num', 'num', 'num', 'num', 'verdictcell'];
  function renderHistory() {
    var box = $('runs');
    if (runs.length === 0) { box.__rows = null; setHtml(box, '<p class="empty">No runs yet.</p>'); return; }
    if (!box.__rows) {
      box.__h = null;
      box.innerHTML = '<table><thead><tr><th>show</th><th>#</th><th>mode</th><th>setup</th><th>outcome</th><th class="num">swap-outs</th><th class="num">swap-ins</th>' +
        '<th class="num">stale</th><th class="num">sptes zapped</th><th class="num">pin-fail</th><th class="num">OOM</th><th class="num">verified</th>' +
        '<th class="num">corrupt</th><th class="num">seconds</th><th>verdict</th></tr></thead><tbody></tbody></table>';
      box.__rows = {};
    }
    var tbody = box.querySelector('tbody'), rows = box.__rows, keep = {};
    for (var i = 0; i < runs.length; i++) {
      var r = runs[i], tr = rows[r.id];
      keep[r.id] = true;
      if (!tr) {
        tr = document.createElement('tr');
        tr.setAttribute('data-id', r.id);
        var h = '<td><input type="checkbox" data-show="' + r.id + '" title="draw this run in the charts"></td>';
        for (var k = 0; k < CELL_CLASS.length; k++) h += '<td' + (CELL_CLASS[k] ? ' class="' + CELL_CLASS[k] + '"' : '') + '></td>';
        tr.innerHTML = h;
        rows[r.id] = tr;
        tbody.appendChild(tr); // in run order: a new run never moves the rows under the mouse
      }
      setClass(tr, r === viewed ? 'viewed' : '');
      var cb = tr.firstChild.firstChild;
      if (cb.checked !== r.show) cb.checked = r.show;
      var cells = historyCells(r);
      for (var c = 0; c < cells.length; c++) setHtml(tr.children[c + 1], cells[c]);
      setClass(tr.lastChild, 'verdictcell v-' + verdictClass(r));
    }
    Object.keys(rows).forEach(function (id) { if (!keep[id]) { tbody.removeChild(rows[id]); delete rows[id]; } });
  }

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
