// The style sheet and the script inlined into `trace --html`'s page. The script reads the trace
// from <script id="trace-data"> and adds what a static page cannot: hover and zoom on the timeline,
// the flow diagram of a selected causal chain, and the history of one guest frame (gfn). It is
// plain ES2017 in a string (no template literals inside, so nothing here is interpolated).

export const CLIENT_CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1320px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px;font-size:.9em;word-break:break-all}
.meta{color:#57606a;font-size:.9rem;margin:.2rem 0}.meta.capped{color:#6b4700;font-weight:600}
.howto{color:#3d444d;font-size:.92rem;background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem}
.empty{color:#57606a;font-style:italic}.note{color:#57606a;font-size:.85rem}
table{border-collapse:collapse;font-size:13px}
table.totals th{text-align:left;font-weight:600;padding:.15rem .8rem .15rem 0;white-space:nowrap}
table.totals td{padding:.15rem .8rem .15rem 0}table.totals td.num{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
table.events{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
table.events th,table.events td{border-bottom:1px solid #eaeef2;padding:.1rem .5rem;text-align:left}
table.events th{background:#f6f8fa;position:sticky;top:0}table.events td.num{text-align:right}
table.events td.kind{font-weight:600}table.events tr.inchain td{background:#fff8c5}table.events tr:hover td{background:#eef4ff}
.scroll{overflow:auto}.tall{max-height:420px;border:1px solid #d0d7de}.listbox{max-height:260px;border:1px solid #d0d7de;position:relative}
.controls{font-size:.9rem;margin:.3rem 0}.controls label{margin-right:1rem}
.legend{font-size:.8rem;margin:.2rem 0;line-height:1.9}.lg{margin-right:.9rem;white-space:nowrap}
.sw{display:inline-block;width:.75em;height:.95em;margin-right:.3em;vertical-align:-.12em;border-radius:1px}
.tlwrap{position:relative}
#timeline{display:block;max-width:100%;height:auto;user-select:none;cursor:crosshair}
#timeline text{font-family:system-ui,sans-serif}
.rowlabel{font-size:11px;fill:#3d444d}.tick{font-size:10px;fill:#57606a}.axisline{stroke:#8c959f;stroke-width:1}
.band{fill:#fafbfc}.band.g-kvm{fill:#f3f6fa}.band.g-host{fill:#faf6f1}
#plot line.m{stroke-width:1.6px;vector-effect:non-scaling-stroke}
#plot line.m.hl{stroke-width:3.5px}
#plot rect.span{opacity:.35}#plot rect.span.hl{opacity:.75}
#selband{fill:#ffe066;opacity:.45}
#brush{fill:#0969da;opacity:.12}
.o-fixed{stroke:#2da44e;background:#2da44e}.o-swap-in{stroke:#8250df;background:#8250df}.o-retry,.k-retry{stroke:#fb8500;background:#fb8500}
.o-guest-pf,.k-gpf{stroke:#bf3989;background:#bf3989}.o-mmio,.k-mmio,.o-open,.o-failed{stroke:#6e7781;background:#6e7781}
.k-ptw{stroke:#0969da;background:#0969da}.k-stale{stroke:#cf222e;background:#cf222e}
.k-set{stroke:#2da44e;background:#2da44e}.k-zap{stroke:#cf222e;background:#cf222e}.k-zap.z-other{stroke:#ff8182}
.k-flush{stroke:#24292f;background:#24292f}.k-ownflush{stroke:#8c959f}
.k-task,.t-kswapd{stroke:#953800;background:#953800}.t-ksmd{stroke:#1b7c83;background:#1b7c83}.k-age{stroke:#c4c9cf;background:#c4c9cf}.k-other{stroke:#8c959f}
.ev-UNMAP{stroke:#cf222e;fill:#cf222e;background:#cf222e}.ev-CLEAR{stroke:#0969da;fill:#0969da;background:#0969da}
.ev-PROTECTION_VMA{stroke:#9a6700;fill:#9a6700;background:#9a6700}.ev-PROTECTION_PAGE{stroke:#bf8700;fill:#bf8700;background:#bf8700}
.ev-SOFT_DIRTY{stroke:#6e7781;fill:#6e7781;background:#6e7781}.ev-RELEASE{stroke:#24292f;fill:#24292f;background:#24292f}
.ev-MIGRATE{stroke:#8250df;fill:#8250df;background:#8250df}.ev-EXCLUSIVE{stroke:#1b7c83;fill:#1b7c83;background:#1b7c83}
#tip{position:absolute;pointer-events:none;background:#1f2328;color:#fff;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;padding:.3rem .5rem;border-radius:4px;white-space:pre;z-index:2;max-width:none}
ol#chainlist{margin:0;padding:.3rem .5rem .3rem 3rem;font-size:13px}
ol#chainlist li{padding:.05rem .2rem;cursor:pointer}ol#chainlist li.nozap{color:#6e7781}
ol#chainlist li.sel{background:#fff8c5;outline:1px solid #d4a72c}ol#chainlist a{color:inherit;text-decoration:none}
ol#chainlist li.refault a::after{content:"  \\21bb";color:#8250df}
.raced{color:#bc4c00;font-weight:600}
#chainview{margin-top:.6rem}#chainview svg{display:block;max-width:100%;height:auto}
.node rect{fill:#fff;stroke:#8c959f;stroke-width:1.2}.node text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#1f2328}
.node text.h{font:600 12px system-ui,sans-serif}.node.cause rect{fill:#fff1e5;stroke:#bc4c00}.node.inv rect{fill:#ddf4ff;stroke:#0969da}
.node.zap rect{fill:#ffebe9;stroke:#cf222e}.node.flush rect{fill:#f6f8fa;stroke:#24292f}.node.end rect{fill:#ddf4ff;stroke:#0969da}
.node.refault rect{fill:#fbefff;stroke:#8250df}.node.none rect{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:3 3}.node.race rect{fill:#fff8c5;stroke:#d4a72c}
.node[data-gfn]{cursor:pointer}.node[data-gfn]:hover rect{stroke-width:2.4}
.arrow{stroke:#57606a;stroke-width:1.4;fill:none;marker-end:url(#ah)}.arrow.race{stroke:#bc4c00;stroke-dasharray:4 3}
pre.lines,pre.xlate{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f6f8fa;border:1px solid #eaeef2;padding:.4rem .6rem;overflow-x:auto}
details#xlates{margin:.8rem 0}details#xlates summary{cursor:pointer;font-size:.92rem}
a.gfn{color:#0969da;cursor:pointer;text-decoration:underline dotted}
.pagesum{font-size:.92rem}.pagesum li{margin:.1rem 0}
`;

export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('trace-data').textContent);
  var EV = D.events, N = EV.length, K = D.kinds;
  var kindNo = {}; K.forEach(function (k, i) { kindNo[k] = i; });
  var KF = kindNo.FAULT, KWALK = kindNo.WALK, KGUP = kindNo.GUP, KSET = kindNo.SPTE_SET, KZAP = kindNo.SPTE_ZAP,
      KFLUSH = kindNo.TLB_FLUSH, KSTART = kindNo.INV_START, KEND = kindNo.INV_END, KRETRY = kindNo.RETRY;
  var $ = function (id) { return document.getElementById(id); };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
  function hex(v, w) { var s = (v >>> 0).toString(16); while (w && s.length < w) s = '0' + s; return '0x' + s; }
  function who(e) { return e[2] >= 0 ? 'vcpu' + e[2] : (D.hostKinds.indexOf(e[3]) >= 0 ? 'host' : '-'); }
  function line(i) { var e = EV[i]; return e[0] + '  t=' + e[1] + '  ' + who(e) + '  ' + K[e[3]] + '  ' + e[9]; }
  function linkGfns(s) { return esc(s).replace(/gfns? (0x[0-9a-f]+)(?![-0-9a-f])/g, function (m, g) { return m.slice(0, m.length - g.length) + '<a class="gfn" data-gfn="' + parseInt(g, 16) + '">' + g + '</a>'; }); }

  // ---- event -> chain --------------------------------------------------------------------------
  var chainOf = {};
  D.chains.forEach(function (c, ci) { c.all.forEach(function (i) { chainOf[i] = ci; }); });
  function chainEvents(c) {
    var s = c.all.slice();
    c.refaults.forEach(function (r) { if (r.fault) s = s.concat(r.fault); });
    c.raced.forEach(function (r) { s = s.concat(r.events); });
    return s;
  }

  // ---- the timeline ----------------------------------------------------------------------------
  var svg = $('timeline'), plot = $('plot'), brush = $('brush'), tip = $('tip'), axis = $('axis'), selband = $('selband');
  var W = svg.viewBox.baseVal.width, LABEL = plot.x.baseVal.value, PW = plot.width.baseVal.value, PH = plot.height.baseVal.value;
  var marks = Array.prototype.slice.call(plot.querySelectorAll('line[data-i]'));
  var spans = Array.prototype.slice.call(plot.querySelectorAll('rect.span'));
  var bands = Array.prototype.slice.call(svg.querySelectorAll('rect.band'));
  var markAt = {};
  marks.forEach(function (m) { markAt[m.getAttribute('data-i')] = m; });
  var t0 = N ? EV[0][1] : 0, t1 = N ? Math.max(EV[N - 1][1], t0 + 1) : 1;
  var mode = 'time', view = [0, PW];
  function X(i) { return mode === 'time' ? (EV[i][1] - t0) / (t1 - t0) * PW : (i + 0.5) / N * PW; }
  var rows = [];
  function place() {
    rows = [];
    marks.forEach(function (m) {
      var i = +m.getAttribute('data-i'), r = +m.getAttribute('data-r'), x = X(i);
      m.setAttribute('x1', x); m.setAttribute('x2', x);
      (rows[r] = rows[r] || []).push({ i: i, x: x });
    });
    rows.forEach(function (l) { if (l) l.sort(function (a, b) { return a.x - b.x || a.i - b.i; }); });
    spans.forEach(function (s) {
      var c = D.chains[+s.getAttribute('data-c')], a = X(c.start), b = X(c.end);
      s.setAttribute('x', a); s.setAttribute('width', Math.max(0, b - a));
    });
    if (selected >= 0) band(D.chains[selected]);
  }
  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var st = [1, 2, 2.5, 5, 10];
    for (var k = 0; k < st.length; k++) if (st[k] * p >= raw) return st[k] * p;
    return 10 * p;
  }
  function drawAxis() {
    var lo, hi, unit;
    if (mode === 'time') { lo = t0 + view[0] / PW * (t1 - t0); hi = t0 + view[1] / PW * (t1 - t0); unit = 'virtual time (guest instructions on vCPU 0)'; }
    else { lo = view[0] / PW * N - 0.5; hi = view[1] / PW * N - 0.5; unit = 'event order (index among the events on this page)'; }
    var s = '<line class="axisline" x1="0" x2="' + PW + '" y1="0" y2="0"/>';
    var step = Math.max(mode === 'time' ? 1 : 1, niceStep(hi - lo, 8));
    for (var v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      var x = (v - lo) / (hi - lo) * PW;
      var lab = mode === 'time' ? Math.round(v).toLocaleString('en-US') : (Math.round(v) < N ? 'seq ' + EV[Math.max(0, Math.round(v))][0] : '');
      s += '<line class="axisline" x1="' + x + '" x2="' + x + '" y1="0" y2="5"/><text class="tick" x="' + x + '" y="18" text-anchor="middle">' + lab + '</text>';
    }
    s += '<text class="tick" x="' + PW + '" y="31" text-anchor="end">' + unit + '</text>';
    axis.innerHTML = s;
    plot.setAttribute('viewBox', view[0] + ' 0 ' + (view[1] - view[0]) + ' ' + PH);
    var zoomed = view[0] > 0.001 || view[1] < PW - 0.001;
    $('zoomnote').textContent = zoomed ? 'zoomed x' + (PW / (view[1] - view[0])).toFixed(1) + '; drag again to zoom further' : 'drag across the timeline to zoom';
  }
  function svgPoint(ev) {
    var r = svg.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * W / r.width, y: (ev.clientY - r.top) * W / r.width, k: W / r.width };
  }
  function toPlot(sx) { return view[0] + (sx - LABEL) / PW * (view[1] - view[0]); }
  function rowAt(y) {
    for (var r = 0; r < bands.length; r++) { var b = bands[r]; var by = +b.getAttribute('y'), bh = +b.getAttribute('height'); if (y >= by && y < by + bh) return r; }
    return -1;
  }
  function nearest(p) {
    var r = rowAt(p.y);
    if (r < 0 || !rows[r] || p.x < LABEL) return -1;
    var x = toPlot(p.x), tol = 7 * p.k * (view[1] - view[0]) / PW, l = rows[r];
    var lo = 0, hi = l.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (l[mid].x < x) lo = mid + 1; else hi = mid; }
    var best = -1, bd = Infinity;
    for (var k = Math.max(0, lo - 2); k < Math.min(l.length, lo + 2); k++) { var d = Math.abs(l[k].x - x); if (d < bd) { bd = d; best = l[k].i; } }
    if (bd <= tol) return best;
    if (r === invRow) {
      for (var s = 0; s < spans.length; s++) { var c = D.chains[+spans[s].getAttribute('data-c')]; if (X(c.start) <= x && x <= X(c.end)) return c.start; }
    }
    return -1;
  }
  var invRow = -2;
  for (var mi = 0; mi < marks.length; mi++) if (EV[+marks[mi].getAttribute('data-i')][3] === KSTART) { invRow = +marks[mi].getAttribute('data-r'); break; }
  var drag = null;
  svg.addEventListener('mousemove', function (ev) {
    var p = svgPoint(ev);
    if (drag) {
      var a = Math.min(drag, p.x), b = Math.max(drag, p.x);
      brush.setAttribute('x', Math.max(LABEL, a)); brush.setAttribute('width', Math.max(0, b - Math.max(LABEL, a)));
      tip.hidden = true; return;
    }
    var i = nearest(p);
    if (i < 0) { tip.hidden = true; return; }
    var text = line(i);
    var c = chainOf[i];
    if (c !== undefined && EV[i][3] === KSTART) text += '\n' + D.chains[c].heading + '\n(click: open this chain)';
    else if (EV[i][3] === KF) text += '\n(fault ' + (D.faultOutcome[i] || 'open') + ')';
    tip.textContent = text; tip.hidden = false;
    var wrap = svg.parentNode.getBoundingClientRect();
    var left = ev.clientX - wrap.left + 14;
    if (left + tip.offsetWidth > wrap.width) left = Math.max(0, ev.clientX - wrap.left - tip.offsetWidth - 14);
    tip.style.left = left + 'px'; tip.style.top = (ev.clientY - wrap.top + 16) + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.hidden = true; });
  svg.addEventListener('mousedown', function (ev) { var p = svgPoint(ev); if (p.x >= LABEL) { drag = p.x; ev.preventDefault(); } });
  window.addEventListener('mouseup', function (ev) {
    if (drag === null) return;
    var p = svgPoint(ev), a = Math.min(drag, p.x), b = Math.max(drag, p.x);
    drag = null; brush.setAttribute('width', 0);
    if (b - a > 6 / p.k) {
      var va = toPlot(Math.max(LABEL, a)), vb = toPlot(Math.min(LABEL + PW, b));
      if (vb - va > 1e-3) { view = [va, vb]; drawAxis(); }
      return;
    }
    var i = nearest(p);
    if (i < 0) return;
    if (chainOf[i] !== undefined) { selectChain(chainOf[i], true); return; }
    var g = gfnOf(i);
    if (g >= 0) selectGfn(g, true);
  });
  $('zoomreset').addEventListener('click', function () { view = [0, PW]; drawAxis(); });
  Array.prototype.forEach.call(document.querySelectorAll('input[name=xmode]'), function (r) {
    r.addEventListener('change', function () { if (r.checked) { mode = r.value; view = [0, PW]; place(); drawAxis(); } });
  });
  function gfnOf(i) {
    var e = EV[i], k = K[e[3]];
    if (k === 'WALK' || k === 'RETRY' || k === 'SPTE_SET' || k === 'MMIO' || k === 'STALE') return e[5];
    if (k === 'GUP' || k === 'EMULATED_PT_WRITE' || k === 'SPTE_ZAP') return e[4];
    if (k === 'INV_START' && e[7] >= 0) return e[7];
    if (k === 'FAULT') { for (var j = i + 1; j < Math.min(N, i + 4); j++) if (EV[j][3] === KWALK && EV[j][2] === e[2]) return EV[j][5]; }
    return -1;
  }

  // ---- chains ----------------------------------------------------------------------------------
  var selected = -1, lit = [];
  var list = $('chainlist');
  if (list) {
    for (var ci = list.children.length; ci < D.chains.length; ci++) {
      var c0 = D.chains[ci], li = document.createElement('li');
      li.className = c0.zaps.length === 0 ? 'nozap' : 'zap';
      li.setAttribute('data-c', ci);
      li.innerHTML = '<a href="#chain=' + c0.n + '">' + esc(c0.heading) + '</a>';
      list.appendChild(li);
    }
    list.addEventListener('click', function (ev) {
      var li = ev.target.closest('li[data-c]');
      if (!li) return;
      ev.preventDefault();
      selectChain(+li.getAttribute('data-c'), false);
    });
  }
  $('onlyzaps').addEventListener('change', function () {
    var on = this.checked;
    Array.prototype.forEach.call(list ? list.children : [], function (li) { li.hidden = on && li.classList.contains('nozap'); });
  });
  function band(c) {
    var a = X(c.start), b = c.end >= 0 ? X(c.end) : a;
    c.refaults.forEach(function (r) { if (r.fault) b = Math.max(b, X(r.fault[r.fault.length - 1])); });
    var minW = 4 * (view[1] - view[0]) / PW;
    selband.setAttribute('x', a - minW / 2); selband.setAttribute('width', Math.max(minW, b - a + minW));
  }
  function selectChain(ci, fromTimeline) {
    var c = D.chains[ci];
    if (!c) return;
    selected = ci;
    Array.prototype.forEach.call(list.querySelectorAll('li.sel'), function (li) { li.classList.remove('sel'); });
    var li = list.querySelector('li[data-c="' + ci + '"]');
    if (li) { li.classList.add('sel'); var box = list.parentNode; box.scrollTop = li.offsetTop - box.clientHeight / 2; }
    lit.forEach(function (m) { m.classList.remove('hl'); });
    lit = [];
    chainEvents(c).forEach(function (i) { var m = markAt[i]; if (m) { m.classList.add('hl'); lit.push(m); } });
    spans.forEach(function (s) { s.classList.toggle('hl', +s.getAttribute('data-c') === ci); });
    band(c);
    drawChain(c);
    setHash('chain=' + c.n);
    if (fromTimeline) $('chainview').scrollIntoView({ block: 'nearest' });
  }

  // ---- the flow diagram of one chain ---------------------------------------------------------------
  var NW = 200, LH = 14, PAD = 6, COLW = 222;
  function node(x, y, cls, title, lines, gfn) {
    var h = PAD * 2 + LH * (lines.length + 1);
    var s = '<g class="node ' + cls + '"' + (gfn >= 0 ? ' data-gfn="' + gfn + '"' : '') + '><rect x="' + x + '" y="' + y + '" width="' + NW + '" height="' + h + '" rx="5"/>';
    s += '<text class="h" x="' + (x + PAD) + '" y="' + (y + PAD + 11) + '">' + esc(title) + '</text>';
    lines.forEach(function (l, k) { s += '<text x="' + (x + PAD) + '" y="' + (y + PAD + 11 + LH * (k + 1)) + '">' + esc(l) + '</text>'; });
    return { svg: s + '</g>', h: h, x: x, y: y };
  }
  function arrow(a, b, cls) {
    var x1 = a.x + NW, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
    return '<path class="arrow ' + (cls || '') + '" d="M' + x1 + ' ' + y1 + ' C' + mx + ' ' + y1 + ' ' + mx + ' ' + y2 + ' ' + x2 + ' ' + y2 + '"/>';
  }
  function wrapText(s, n) {
    var out = [], cur = '';
    s.split(' ').forEach(function (w) { if ((cur + ' ' + w).trim().length > n) { if (cur) out.push(cur); cur = w; } else cur = (cur + ' ' + w).trim(); });
    if (cur) out.push(cur);
    return out;
  }
  function hostPage(e) { return e[7] === 4 ? 'range' : (['unmapped', 'mapped', 'mapped read-only', 'swapped out'][e[7]] || '?'); }
  function drawChain(c) {
    var st = EV[c.start], en = c.end >= 0 ? EV[c.end] : null;
    var parts = [], y0 = 10, cols = [];
    var cause = node(10, y0, 'cause', 'cause', wrapText(c.cause, 27), -1);
    var g0 = st[7], g1 = st[8];
    var gtext = g0 < 0 ? 'outside guest RAM' : (g1 - g0 === 1 ? 'gfn ' + hex(g0) : 'gfns ' + hex(g0) + '-' + hex(g1 - 1));
    var inv = node(10 + COLW, y0, 'inv', 'INV_START ' + c.event, ['hva ' + hex(st[5], 8), '  .. ' + hex(st[6], 8), gtext, 't=' + st[1] + '  seq ' + st[0]], g0 >= 0 && g1 - g0 === 1 ? g0 : -1);
    parts.push(cause.svg, inv.svg, arrow(cause, inv));
    var zx = 10 + 2 * COLW, zy = y0, zapNodes = [];
    var shown = c.zaps.slice(0, 6);
    shown.forEach(function (i) {
      var z = EV[i];
      var nd = node(zx, zy, 'zap', 'SPTE_ZAP', ['gfn ' + hex(z[4]) + '  frame ' + (z[5] < 0 ? 'mmio' : z[5]), 'hva ' + hex(st[5] + (g0 >= 0 ? (z[4] - g0) * 4096 : 0), 8), z[8] >= 0 ? 'gva ' + hex(z[8], 8) : 'gva ?', 'sp ' + Math.floor(z[7] / 1024) + '[' + hex(z[7] & 1023, 3) + ']'], z[4]);
      zapNodes.push(nd); parts.push(nd.svg, arrow(inv, nd)); zy += nd.h + 8;
    });
    if (c.zaps.length > shown.length) { var more = node(zx, zy, 'none', '+' + (c.zaps.length - shown.length) + ' more zaps', ['see the event list below'], -1); zapNodes.push(more); parts.push(more.svg); zy += more.h + 8; }
    if (zapNodes.length === 0) { var nz = node(zx, y0, 'none', 'no spte mapped it', ['nothing to zap: the guest', 'had not touched this page', 'since its last fault-in'], -1); zapNodes.push(nz); parts.push(nz.svg, arrow(inv, nz)); zy = y0 + nz.h + 8; }
    var fl = c.flushes.length ? EV[c.flushes[0]] : null;
    var flush = node(10 + 3 * COLW, y0, fl ? 'flush' : 'none', fl ? 'TLB_FLUSH (remote)' : 'no TLB flush', fl ? [fl[4] + ' vCPU' + (fl[4] === 1 ? '' : 's') + ' flushed', c.flushes.length > 1 ? c.flushes.length + ' flushes' : 'before the frame goes', 't=' + fl[1] + '  seq ' + fl[0]] : ['no spte was zapped'], -1);
    parts.push(flush.svg);
    zapNodes.forEach(function (z) { parts.push(arrow(z, flush)); });
    var end = node(10 + 4 * COLW, y0, en ? 'end' : 'none', en ? 'INV_END' : 'not ended', en ? ['mmu_invalidate_seq ' + en[4], 'host page ' + hostPage(en), en[8] >= 0 ? 'host frame now ' + en[8] : 'no host frame now', 't=' + en[1] + '  seq ' + en[0]] : ['the ring was read first'], -1);
    parts.push(end.svg, arrow(flush, end));
    var ry = y0, rx = 10 + 5 * COLW;
    c.refaults.slice(0, 6).forEach(function (r) {
      var nd;
      if (!r.fault) nd = node(rx, ry, 'none', 'no refault', ['gfn ' + hex(r.gfn) + ' was not', 'faulted in again before', 'the trace ended'], r.gfn);
      else {
        var f = r.fault.map(function (i) { return EV[i]; }), fa = f[0], gup = null;
        f.forEach(function (e) { if (e[3] === KGUP) gup = e; });
        var how = gup ? (gup[6] < 0 ? 'failed' : 'frame ' + gup[6] + ' (' + (['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'failed'][gup[8]] || '?') + ')') : '?';
        nd = node(rx, ry, 'refault', 'refault  +' + r.dt + ' ticks', ['vcpu' + fa[2] + ' gva ' + hex(fa[4], 8), 'gfn ' + hex(r.gfn), gup ? 'hva ' + hex(gup[5], 8) : 'hva ?', how], r.gfn);
      }
      parts.push(nd.svg, arrow(end, nd)); ry += nd.h + 8;
    });
    var by = Math.max(zy, ry, y0 + end.h + 8, y0 + cause.h + 8) + 6;
    c.raced.forEach(function (r) {
      var last = EV[r.events[r.events.length - 1]];
      var nd = node(10, by, 'race', 'raced: vcpu' + r.vcpu + ' fault', ['gva ' + hex(r.gva, 8), 'sampled seq ' + last[7], 'RETRY (' + (['?', 'in-progress', 'seq', 'unsafe', 'gpte-changed'][last[6]] || '?') + ')', 'seq now ' + last[8]], last[5]);
      parts.push(nd.svg);
      parts.push('<path class="arrow race" d="M' + (10 + NW) + ' ' + (by + nd.h / 2) + ' L' + (inv.x + NW / 2) + ' ' + (by + nd.h / 2) + ' L' + (inv.x + NW / 2) + ' ' + (inv.y + inv.h + 2) + '"/>');
      by += nd.h + 8;
    });
    var H = by + 4, Wd = 10 + 5 * COLW + NW + 10;
    var s = '<svg viewBox="0 0 ' + Wd + ' ' + H + '" width="' + Wd + '" height="' + H + '" role="img"><defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#57606a"/></marker></defs>' + parts.join('') + '</svg>';
    var lines = [];
    c.raced.forEach(function (r) { lines.push('raced: vcpu' + r.vcpu + ' fault at gva ' + hex(r.gva, 8) + ', retried'); r.events.forEach(function (i) { lines.push('  ' + line(i)); }); });
    c.all.forEach(function (i) { lines.push('  ' + line(i)); });
    c.refaults.forEach(function (r) {
      if (!r.fault) { lines.push('gfn ' + hex(r.gfn) + ' was not faulted in again before the trace ended'); return; }
      lines.push('refault of gfn ' + hex(r.gfn) + ', ' + r.dt + ' ticks later');
      r.fault.forEach(function (i) { lines.push('  ' + line(i)); });
    });
    $('chainview').innerHTML = '<p><b>' + linkGfns(c.heading) + '</b></p>' + s + '<pre class="lines">' + lines.map(linkGfns).join('\n') + '</pre>';
  }
  $('chainview').addEventListener('click', function (ev) {
    var g = ev.target.closest('[data-gfn]');
    if (g) selectGfn(+g.getAttribute('data-gfn'), true);
  });

  // ---- page history ----------------------------------------------------------------------------
  var gfns = Object.keys(D.pages).map(Number).sort(function (a, b) { return a - b; });
  var sel = $('gfnsel');
  sel.innerHTML = '<option value="-1">(choose)</option>' + gfns.map(function (g) { return '<option value="' + g + '">' + hex(g) + ' (' + D.pages[g].length + ' events)</option>'; }).join('');
  sel.addEventListener('change', function () { selectGfn(+sel.value, false); });
  $('gfnin').addEventListener('change', function () { var v = this.value.trim(); var g = /^0x/i.test(v) ? parseInt(v, 16) : parseInt(v, 10); if (g >= 0) selectGfn(g, false); });
  function selectGfn(g, scroll) {
    var idx = D.pages[g] || [];
    sel.value = D.pages[g] ? String(g) : '-1';
    var gvas = {}, frames = [], zaps = 0, swapins = 0, chains = {};
    idx.forEach(function (i) {
      var e = EV[i], k = K[e[3]];
      if (k === 'WALK') gvas[e[4] >>> 12] = true;
      if (k === 'GUP' && e[6] >= 0 && frames[frames.length - 1] !== e[6]) frames.push(e[6]);
      if (k === 'GUP' && (e[8] === 2 || e[8] === 3)) swapins++;
      if (k === 'SPTE_ZAP') zaps++;
      if (chainOf[i] !== undefined) chains[chainOf[i]] = true;
    });
    var xl = D.translations.filter(function (t) { return t.gfn === g || gvas[t.gva >>> 12]; });
    var h = '<h3>gfn ' + hex(g) + '</h3>';
    if (!idx.length) h += '<p class="empty">No event on this page touches gfn ' + hex(g) + '.</p>';
    h += '<ul class="pagesum"><li>guest virtual pages that mapped it: ' + (Object.keys(gvas).map(function (p) { return hex(p * 4096, 8); }).join(', ') || 'none seen') + '</li>';
    h += '<li>host frames it was given, in order: ' + (frames.join(' &rarr; ') || 'none seen') + '; swap-ins ' + swapins + '; sptes zapped ' + zaps + '</li>';
    h += '<li>invalidation chains: ' + (Object.keys(chains).map(function (ci) { return '<a href="#chain=' + D.chains[ci].n + '" data-chain="' + ci + '">' + D.chains[ci].n + '</a>'; }).join(', ') || 'none') + '</li></ul>';
    if (xl.length) h += '<p class="meta">At the end of the run (GVA &rarr; GPA &rarr; HVA &rarr; HPA):</p>' + xl.map(function (t) { return '<pre class="xlate">' + linkGfns(t.lines.join('\n')) + '</pre>'; }).join('');
    else h += '<p class="meta">No end-of-run translation was computed for an address mapping it (only the latest ' + D.translations.length + ' faulting pages are followed).</p>';
    h += '<div class="scroll tall"><table class="events"><thead><tr><th>seq</th><th>t</th><th>who</th><th>event</th><th>fields</th><th>chain</th></tr></thead><tbody>';
    idx.forEach(function (i) {
      var e = EV[i], c = chainOf[i];
      h += '<tr data-i="' + i + '"' + (c !== undefined ? ' class="inchain"' : '') + '><td class="num">' + e[0] + '</td><td class="num">' + e[1] + '</td><td>' + who(e) + '</td><td class="kind">' + K[e[3]] + '</td><td class="desc">' + linkGfns(e[9]) + '</td><td>' + (c !== undefined ? '<a href="#chain=' + D.chains[c].n + '" data-chain="' + c + '">' + D.chains[c].n + '</a>' : '') + '</td></tr>';
    });
    h += '</tbody></table></div>';
    $('pageview').innerHTML = h;
    setHash('gfn=' + hex(g));
    if (scroll) $('pageview').scrollIntoView({ block: 'start' });
  }
  document.addEventListener('click', function (ev) {
    var a = ev.target.closest('a.gfn');
    if (a) { ev.preventDefault(); selectGfn(+a.getAttribute('data-gfn'), true); return; }
    var ch = ev.target.closest('a[data-chain]');
    if (ch) { ev.preventDefault(); selectChain(+ch.getAttribute('data-chain'), false); $('chainview').scrollIntoView({ block: 'start' }); }
  });
  Array.prototype.forEach.call(document.querySelectorAll('table.events td.desc'), function (td) { td.innerHTML = linkGfns(td.textContent); });

  // ---- start -----------------------------------------------------------------------------------
  function setHash(h) { try { history.replaceState(null, '', '#' + h); } catch (e) { /* file:// in some browsers */ } }
  ['tlcontrols', 'chaincontrols', 'pagecontrols'].forEach(function (id) { $(id).hidden = false; });
  place(); drawAxis();
  var hash = location.hash.slice(1), m;
  var firstZap = -1;
  for (var k = 0; k < D.chains.length; k++) if (D.chains[k].zaps.length && D.chains[k].refaults.some(function (r) { return r.fault; })) { firstZap = k; break; }
  if (firstZap < 0) for (k = 0; k < D.chains.length; k++) if (D.chains[k].zaps.length) { firstZap = k; break; }
  var startChain = firstZap, startGfn = D.selectGfn;
  if ((m = /chain=(\d+)/.exec(hash))) D.chains.forEach(function (c, ci) { if (c.n === +m[1]) startChain = ci; });
  if ((m = /gfn=(0x[0-9a-f]+|\d+)/i.exec(hash))) startGfn = /^0x/i.test(m[1]) ? parseInt(m[1], 16) : +m[1];
  if (startGfn >= 0 && !/chain=/.test(hash)) (D.pages[startGfn] || []).some(function (i) { if (chainOf[i] !== undefined && D.chains[chainOf[i]].zaps.length) { startChain = chainOf[i]; return true; } return false; });
  if (startGfn < 0 && startChain >= 0 && D.chains[startChain].zaps.length) startGfn = EV[D.chains[startChain].zaps[0]][4];
  if (startChain >= 0) selectChain(startChain, false);
  if (startGfn >= 0) selectGfn(startGfn, false);
  if (m || /chain=/.test(hash)) setHash(hash);
})();
`;
