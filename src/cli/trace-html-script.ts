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
.k-ptw{stroke:#0969da;background:#0969da}
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
.k-unseen{stroke:#5a32a3;background:#5a32a3;stroke-dasharray:3 2}.k-stale{stroke:#e0008a;background:#e0008a}
#cursor{stroke:#0969da;stroke-width:1.5px;vector-effect:non-scaling-stroke;stroke-dasharray:4 3}
#plot line.m.cur{stroke-width:5px;stroke:#0969da}
.player{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .7rem;background:#fbfcfd}
.player button{font:inherit;padding:.15rem .7rem;border-radius:5px;border:1px solid #8c959f;background:#fff;cursor:pointer}
.pcur{font-size:13px;margin:.3rem 0;min-height:1.3em}.pnote{font-size:.88rem;color:#3d444d;min-height:1.3em;margin:.3rem 0}
.boxes{display:flex;align-items:stretch;flex-wrap:wrap;gap:.2rem;margin:.4rem 0}
.box{border:2px solid #8c959f;border-radius:6px;padding:.25rem .45rem;min-width:150px;max-width:250px;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#fff;transition:background .25s}
.box b{display:block;font:600 12px system-ui,sans-serif;margin-bottom:.1rem}
.box.s-ok{border-color:#2da44e}.box.s-none{border-color:#d0d7de;border-style:dashed;color:#6e7781}.box.s-warn{border-color:#bf8700}.box.s-bad{border-color:#e0008a;background:#ffeff7}
.box.changed{box-shadow:0 0 0 3px #ffe066}
.link{align-self:center;font-size:20px;font-weight:700;padding:0 .1rem}.link.on{color:#2da44e}.link.off{color:#d0d7de}.link.bad{color:#e0008a}
.node.future{opacity:.12}.arrow.future{opacity:.1}
.node.unseen rect{fill:#f3efff;stroke:#5a32a3}.node.stalespte rect{fill:#fff8c5;stroke:#9a6700}.node.owner rect{fill:#ffeff7;stroke:#e0008a}.node.stale rect{fill:#e0008a;stroke:#a0005f}.node.stale text{fill:#fff}
.arrow.bad{stroke:#e0008a}
ol#unseenlist{margin:0;padding:.3rem .5rem .3rem 3rem;font-size:13px}ol#unseenlist li{cursor:pointer;padding:.05rem .2rem}ol#unseenlist li.quiet{color:#6e7781}
ol#unseenlist li.sel{background:#fff8c5;outline:1px solid #d4a72c}ol#unseenlist a{color:inherit;text-decoration:none}
.bugpair{display:flex;flex-direction:column;gap:.4rem;margin-top:.6rem}.bugpair svg{display:block;max-width:100%;height:auto}
.cmphead{font-size:.9rem;border-top:1px dashed #d0d7de;padding-top:.4rem}
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
  function lineOf(E, i) { var e = E[i]; return e[0] + '  t=' + e[1] + '  ' + who(e) + '  ' + K[e[3]] + '  ' + e[9]; }
  function line(i) { return lineOf(EV, i); }
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
    if (D.notes[i]) text += '\n' + wrapText(D.notes[i], 90).join('\n');
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
    drawChain(c, EV, 'chainview');
    if (typeof playerSync === 'function') playerSync();
    setHash('chain=' + c.n);
    if (fromTimeline) $('chainview').scrollIntoView({ block: 'nearest' });
  }

  // ---- the flow diagram of one chain ---------------------------------------------------------------
  var NW = 200, LH = 14, PAD = 6, COLW = 222;
  function node(x, y, cls, title, lines, gfn, at) {
    var h = PAD * 2 + LH * (lines.length + 1);
    var s = '<g class="node ' + cls + '"' + (gfn >= 0 ? ' data-gfn="' + gfn + '"' : '') + (at >= 0 ? ' data-i="' + at + '"' : '') + '><rect x="' + x + '" y="' + y + '" width="' + NW + '" height="' + h + '" rx="5"/>';
    s += '<text class="h" x="' + (x + PAD) + '" y="' + (y + PAD + 11) + '">' + esc(title) + '</text>';
    lines.forEach(function (l, k) { s += '<text x="' + (x + PAD) + '" y="' + (y + PAD + 11 + LH * (k + 1)) + '">' + esc(l) + '</text>'; });
    return { svg: s + '</g>', h: h, x: x, y: y, at: at === undefined ? -1 : at };
  }
  function arrow(a, b, cls) {
    var x1 = a.x + NW, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
    return '<path class="arrow ' + (cls || '') + '"' + (b.at >= 0 ? ' data-i="' + b.at + '"' : '') + ' d="M' + x1 + ' ' + y1 + ' C' + mx + ' ' + y1 + ' ' + mx + ' ' + y2 + ' ' + x2 + ' ' + y2 + '"/>';
  }
  function wrapText(s, n) {
    var out = [], cur = '';
    s.split(' ').forEach(function (w) { if ((cur + ' ' + w).trim().length > n) { if (cur) out.push(cur); cur = w; } else cur = (cur + ' ' + w).trim(); });
    if (cur) out.push(cur);
    return out;
  }
  function hostPage(e) { return e[7] === 4 ? 'range' : (['unmapped', 'mapped', 'mapped read-only', 'swapped out'][e[7]] || '?'); }
  function drawChain(c, E, target) {
    E = E || EV; target = target || 'chainview';
    var st = E[c.start], en = c.end >= 0 ? E[c.end] : null;
    var parts = [], y0 = 10, cols = [];
    var cause = node(10, y0, 'cause', 'cause', wrapText(c.cause, 27), -1, c.start);
    var g0 = st[7], g1 = st[8];
    var gtext = g0 < 0 ? 'outside guest RAM' : (g1 - g0 === 1 ? 'gfn ' + hex(g0) : 'gfns ' + hex(g0) + '-' + hex(g1 - 1));
    var inv = node(10 + COLW, y0, 'inv', 'INV_START ' + c.event, ['hva ' + hex(st[5], 8), '  .. ' + hex(st[6], 8), gtext, 't=' + st[1] + '  seq ' + st[0]], g0 >= 0 && g1 - g0 === 1 ? g0 : -1, c.start);
    parts.push(cause.svg, inv.svg, arrow(cause, inv));
    var zx = 10 + 2 * COLW, zy = y0, zapNodes = [];
    var shown = c.zaps.slice(0, 6);
    shown.forEach(function (i) {
      var z = E[i];
      var nd = node(zx, zy, 'zap', 'SPTE_ZAP', ['gfn ' + hex(z[4]) + '  frame ' + (z[5] < 0 ? 'mmio' : z[5]), 'hva ' + hex(st[5] + (g0 >= 0 ? (z[4] - g0) * 4096 : 0), 8), z[8] >= 0 ? 'gva ' + hex(z[8], 8) : 'gva ?', 'sp ' + Math.floor(z[7] / 1024) + '[' + hex(z[7] & 1023, 3) + ']'], z[4], i);
      zapNodes.push(nd); parts.push(nd.svg, arrow(inv, nd)); zy += nd.h + 8;
    });
    if (c.zaps.length > shown.length) { var more = node(zx, zy, 'none', '+' + (c.zaps.length - shown.length) + ' more zaps', ['see the event list below'], -1); zapNodes.push(more); parts.push(more.svg); zy += more.h + 8; }
    if (zapNodes.length === 0) { var nz = node(zx, y0, 'none', 'no spte mapped it', ['nothing to zap: the guest', 'had not touched this page', 'since its last fault-in'], -1); zapNodes.push(nz); parts.push(nz.svg, arrow(inv, nz)); zy = y0 + nz.h + 8; }
    var fl = c.flushes.length ? E[c.flushes[0]] : null;
    var flush = node(10 + 3 * COLW, y0, fl ? 'flush' : 'none', fl ? 'TLB_FLUSH (remote)' : 'no TLB flush', fl ? [fl[4] + ' vCPU' + (fl[4] === 1 ? '' : 's') + ' flushed', c.flushes.length > 1 ? c.flushes.length + ' flushes' : 'before the frame goes', 't=' + fl[1] + '  seq ' + fl[0]] : ['no spte was zapped'], -1, fl ? c.flushes[0] : c.start);
    parts.push(flush.svg);
    zapNodes.forEach(function (z) { parts.push(arrow(z, flush)); });
    var end = node(10 + 4 * COLW, y0, en ? 'end' : 'none', en ? 'INV_END' : 'not ended', en ? ['mmu_invalidate_seq ' + en[4], 'host page ' + hostPage(en), en[8] >= 0 ? 'host frame now ' + en[8] : 'no host frame now', 't=' + en[1] + '  seq ' + en[0]] : ['the ring was read first'], -1, c.end >= 0 ? c.end : c.start);
    parts.push(end.svg, arrow(flush, end));
    var ry = y0, rx = 10 + 5 * COLW;
    c.refaults.slice(0, 6).forEach(function (r) {
      var nd;
      if (!r.fault) nd = node(rx, ry, 'none', 'no refault', ['gfn ' + hex(r.gfn) + ' was not', 'faulted in again before', 'the trace ended'], r.gfn);
      else {
        var f = r.fault.map(function (i) { return E[i]; }), fa = f[0], gup = null;
        f.forEach(function (e) { if (e[3] === KGUP) gup = e; });
        var how = gup ? (gup[6] < 0 ? 'failed' : 'frame ' + gup[6] + ' (' + (['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'failed'][gup[8]] || '?') + ')') : '?';
        nd = node(rx, ry, 'refault', 'refault  +' + r.dt + ' ticks', ['vcpu' + fa[2] + ' gva ' + hex(fa[4], 8), 'gfn ' + hex(r.gfn), gup ? 'hva ' + hex(gup[5], 8) : 'hva ?', how], r.gfn, r.fault[0]);
      }
      parts.push(nd.svg, arrow(end, nd)); ry += nd.h + 8;
    });
    var by = Math.max(zy, ry, y0 + end.h + 8, y0 + cause.h + 8) + 6;
    c.raced.forEach(function (r) {
      var last = E[r.events[r.events.length - 1]];
      var nd = node(10, by, 'race', 'raced: vcpu' + r.vcpu + ' fault', ['gva ' + hex(r.gva, 8), 'sampled seq ' + last[7], 'RETRY (' + (['?', 'in-progress', 'seq', 'unsafe', 'gpte-changed'][last[6]] || '?') + ')', 'seq now ' + last[8]], last[5], r.events[r.events.length - 1]);
      parts.push(nd.svg);
      parts.push('<path class="arrow race" d="M' + (10 + NW) + ' ' + (by + nd.h / 2) + ' L' + (inv.x + NW / 2) + ' ' + (by + nd.h / 2) + ' L' + (inv.x + NW / 2) + ' ' + (inv.y + inv.h + 2) + '"/>');
      by += nd.h + 8;
    });
    var H = by + 4, Wd = 10 + 5 * COLW + NW + 10;
    var s = '<svg viewBox="0 0 ' + Wd + ' ' + H + '" width="' + Wd + '" height="' + H + '" role="img"><defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#57606a"/></marker></defs>' + parts.join('') + '</svg>';
    var lines = [];
    if (c.raced.length) {
      // The race in sequence order: the fault's gup got a frame, the invalidation took it away
      // (the frame the fault held is the one being recycled), and the fault retried.
      var merged = c.all.slice();
      c.raced.forEach(function (r) { merged = merged.concat(r.events); });
      merged.sort(function (a, b) { return a - b; });
      lines.push('in sequence order, with the raced fault' + (c.raced.length > 1 ? 's' : '') + ' (>>):');
      merged.forEach(function (i) {
        var mine = c.all.indexOf(i) < 0, e = E[i], extra = '';
        if (mine && e[3] === KGUP && e[6] >= 0) {
          var took = c.zaps.filter(function (z) { return E[z][5] === e[6]; })[0];
          extra = '   <- the fault holds frame ' + e[6] + (took !== undefined ? ': the frame this invalidation just took from gfn ' + hex(E[took][4]) + ', recycled' : '');
        }
        if (mine && e[3] === KRETRY) extra = '   <- sampled seq ' + e[7] + ', now ' + e[8] + ': retried, the recycled frame is not mapped';
        lines.push((mine ? '>> ' : '   ') + lineOf(E, i) + extra);
      });
    } else c.all.forEach(function (i) { lines.push('  ' + lineOf(E, i)); });
    c.refaults.forEach(function (r) {
      if (!r.fault) { lines.push('gfn ' + hex(r.gfn) + ' was not faulted in again before the trace ended'); return; }
      lines.push('refault of gfn ' + hex(r.gfn) + ', ' + r.dt + ' ticks later');
      r.fault.forEach(function (i) { lines.push('  ' + lineOf(E, i)); });
    });
    $(target).innerHTML = '<p><b>' + linkGfns(c.heading) + '</b></p>' + s + '<pre class="lines">' + lines.map(linkGfns).join('\n') + '</pre>';
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
      if (k === 'WALK' || (k === 'TDP_WALK' && e[5] >= 0)) gvas[e[4] >>> 12] = true;
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


  // ---- what KVM was never told (pin, none) ---------------------------------------------------------
  var U = D.unseen || [], unseenSel = -1;
  var unseenOf = {};
  U.forEach(function (u, k) { u.unseen.forEach(function (i) { unseenOf[i] = k; }); if (u.owner >= 0) unseenOf[u.owner] = unseenOf[u.owner] === undefined ? k : unseenOf[u.owner]; if (u.firstStale >= 0) unseenOf[u.firstStale] = k; });
  function unseenNodes(u) {
    var first = EV[u.unseen[0]], list = [];
    list.push({ i: u.unseen[0], cls: 'cause', title: 'cause', lines: wrapText(u.cause, 27) });
    list.push({ i: u.unseen[0], cls: 'unseen', title: 'UNSEEN (KVM not told)', lines: wrapText('host ' + u.what, 27).concat(['gfn ' + hex(u.gfn) + '  hva ' + hex(first[7], 8), first[6] >= 0 ? 'host frame now ' + first[6] : 'no host frame now', 't=' + first[1] + '  seq ' + first[0]]), gfn: u.gfn });
    list.push({ i: u.unseen[0], cls: 'stalespte', title: 'spte still maps frame ' + u.frame, lines: ['gfn ' + hex(u.gfn) + ' -> frame ' + u.frame, 'the old frame: nothing', 'zapped it, no TLB flush', u.unseen.length + ' UNSEEN event' + (u.unseen.length === 1 ? '' : 's')] });
    var tail = [];
    if (u.owner >= 0) {
      var o = EV[u.owner];
      tail.push({ i: u.owner, cls: 'owner', title: o[4] === u.gfn ? 'frame ' + u.frame + ' back to gfn ' + hex(u.gfn) : 'frame ' + u.frame + ' reused', lines: ['now holds gfn ' + hex(o[4]), (o[2] >= 0 ? 'vcpu' + o[2] + ' fault: ' : '') + (['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'failed'][o[8]] || '?'), 'hva ' + hex(o[5], 8), 't=' + o[1] + '  seq ' + o[0]], gfn: o[4] });
    } else tail.push({ i: -1, cls: 'none', title: 'new owner not seen', lines: ['no guest page of this VM', 'was given frame ' + u.frame, 'in the trace (freed, or', 'another process has it)'] });
    if (u.firstStale >= 0) {
      var st = EV[u.firstStale];
      tail.push({ i: u.firstStale, cls: 'stale', title: 'first STALE access', lines: ['vcpu' + st[2] + (st[7] ? ' wrote' : ' read') + ' gva ' + hex(st[4], 8), 'gfn ' + hex(st[5]) + ' through frame ' + st[6], u.stales + ' stale access' + (u.stales === 1 ? '' : 'es') + ' in all', 't=' + st[1] + '  seq ' + st[0]] });
    } else tail.push({ i: -1, cls: 'none', title: 'no stale access', lines: ['the guest did not touch', 'gfn ' + hex(u.gfn) + ' through the', 'old frame in the trace'] });
    tail.sort(function (a, b) { return (a.i < 0 ? Infinity : a.i) - (b.i < 0 ? Infinity : b.i); });
    return list.concat(tail);
  }
  function drawUnseen(k) {
    var u = U[k];
    if (!u) return;
    unseenSel = k;
    var ul = $('unseenlist');
    if (ul) Array.prototype.forEach.call(ul.children, function (li) { li.classList.toggle('sel', +li.getAttribute('data-u') === k); });
    var parts = [], prev = null, x = 10, y0 = 10, hmax = 0;
    unseenNodes(u).forEach(function (n) {
      var nd = node(x, y0, n.cls, n.title, n.lines, n.gfn === undefined ? -1 : n.gfn, n.i);
      parts.push(nd.svg);
      if (prev) parts.push(arrow(prev, nd, n.cls === 'stale' || n.cls === 'owner' ? 'bad' : ''));
      prev = nd; x += COLW; hmax = Math.max(hmax, nd.h);
    });
    var Wd = x, H = y0 + hmax + 12;
    var lines = [];
    u.unseen.concat(u.owner >= 0 ? [u.owner] : []).concat(u.firstStale >= 0 ? [u.firstStale] : []).sort(function (a, b) { return a - b; }).forEach(function (i) { lines.push('  ' + line(i)); });
    $('unseenview').innerHTML = '<p><b>' + linkGfns(u.heading) + '</b></p><svg viewBox="0 0 ' + Wd + ' ' + H + '" width="' + Wd + '" height="' + H + '" role="img"><defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#57606a"/></marker></defs>' + parts.join('') + '</svg><pre class="lines">' + lines.map(linkGfns).join('\n') + '</pre>';
    var cv = $('compareview');
    if (cv) {
      var C = D.compare, hit = -1;
      if (C) C.chains.forEach(function (c, ci) { if (hit < 0 && c.zaps.some(function (z) { return C.events[z][4] === u.gfn; })) hit = ci; });
      if (!C) cv.innerHTML = '';
      else if (hit < 0) cv.innerHTML = '<p class="empty">Under the mmu_notifier (same image, flags and seed) no invalidation zapped gfn ' + hex(u.gfn) + ' in its trace.</p>';
      else { drawChain(C.chains[hit], C.events, 'compareview'); cv.insertAdjacentHTML('afterbegin', '<p class="cmphead">The same page under the <b>mmu_notifier</b>, same seed: <code>' + esc(C.command) + '</code></p>'); }
    }
    if (typeof playerSync === 'function') playerSync();
  }
  if ($('unseenlist')) $('unseenlist').addEventListener('click', function (ev) {
    var li = ev.target.closest('li[data-u]');
    if (!li) return;
    ev.preventDefault();
    drawUnseen(+li.getAttribute('data-u'));
    setHash('unseen=' + U[+li.getAttribute('data-u')].n);
  });
  if ($('unseenview')) $('unseenview').addEventListener('click', function (ev) { var g = ev.target.closest('[data-gfn]'); if (g) selectGfn(+g.getAttribute('data-gfn'), true); });

  // ---- the player: one event at a time, and the links of one guest page -----------------------------
  var cur = -1, playing = null, ppage = -1, cursor = $('cursor');
  var pageGfns = {}, pageOrder = [];
  // Under --mmu tdp the processor's own two-dimensional walk (TDP_WALK) is what links gva -> gfn.
  var KTDPWALK = kindNo.TDP_WALK;
  EV.forEach(function (e) {
    if (e[3] !== KWALK && !(e[3] === KTDPWALK && e[5] >= 0)) return;
    var pg = e[4] >>> 12;
    if (!pageGfns[pg]) { pageGfns[pg] = []; pageOrder.push(pg); }
    if (pageGfns[pg].indexOf(e[5]) < 0) pageGfns[pg].push(e[5]);
  });
  pageOrder.sort(function (a, b) { return a - b; });
  var GVA_KINDS = {}; ['FAULT', 'GUEST_PF', 'WALK', 'TDP_WALK', 'RETRY', 'SPTE_SET', 'MMIO', 'STALE'].forEach(function (k) { GVA_KINDS[kindNo[k]] = true; });
  var relevant = [];
  function relevantFor(pg) {
    var set = {};
    (pageGfns[pg] || []).forEach(function (g) { (D.pages[g] || []).forEach(function (i) { set[i] = true; }); });
    EV.forEach(function (e, i) {
      if (GVA_KINDS[e[3]] && e[4] >>> 12 === pg) set[i] = true;
      if (e[3] === KFLUSH) set[i] = true;
      if (e[3] === KZAP && e[8] >= 0 && e[8] >>> 12 === pg) set[i] = true;
    });
    return Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
  }
  var FLUSH_CAUSE = ['remote', 'cr3-write', 'paging-mode'];
  var HOWS = ['present', 'zero-fill', 'swap-in', 'swap-cache', 'cow-break', 'failed'];
  // The five boxes for page pg after events 0..upto, and what event upto did to them.
  function pageState(pg, upto) {
    var gfns = pageGfns[pg] || [];
    var b = {
      gpte: { s: 'none', t: 'not walked yet' }, spte: { s: 'none', t: 'none' }, hpte: { s: 'none', t: 'not looked up yet' },
      frame: { s: 'none', t: '-' }, tlb: { s: 'none', t: 'empty' }
    };
    var gfn = -1, frame = -1, hva = -1, changed = {}, said = [];
    function set(box, st, text, why) { b[box] = { s: st, t: text }; if (i === upto) { changed[box] = true; if (why) said.push(why); } }
    for (var k = 0; k < relevant.length && relevant[k] <= upto; k++) {
      var i = relevant[k], e = EV[i], kn = K[e[3]];
      if (kn === 'WALK') {
        gfn = e[5];
        var gw = (e[6] & 1) ? 'writable' : 'read-only';
        set('gpte', 'ok', 'gva ' + hex(pg * 4096, 8) + ' -> gfn ' + hex(gfn) + (e[7] === 0 ? ' (guest paging off: gpa = gva)' : ', pte ' + hex(e[7], 8) + ' (' + gw + ((e[7] & 0x40) ? ', dirty' : ', clean') + ')'), 'the guest walk links gva -> gfn');
      } else if (kn === 'TDP_WALK' && e[5] >= 0) {
        gfn = e[5];
        set('gpte', 'ok', 'gva ' + hex(pg * 4096, 8) + ' -> gfn ' + hex(gfn) + ' (the processor walked the guest tables through the gpa->hpa table: ' + (e[6] + e[7]) + ' refs)', 'the hardware walk links gva -> gfn');
      } else if (kn === 'GUEST_PF') {
        set('gpte', 'none', 'not present: #PF injected into the guest', 'the guest PTE does not map this page: the guest handles its own fault');
      } else if (kn === 'GUP' && gfns.indexOf(e[4]) >= 0) {
        if (e[6] < 0) set('hpte', 'bad', 'gup failed (' + e[6] + ')', 'the host could not provide a frame');
        else {
          hva = e[5]; frame = e[6]; gfn = e[4];
          set('hpte', 'ok', 'hva ' + hex(hva, 8) + ' -> frame ' + frame + ' (' + (HOWS[e[8]] || '?') + ')', 'the host links hva -> frame ' + frame + ' (' + (HOWS[e[8]] || '?') + ')');
          set('frame', 'ok', 'frame ' + frame + ' holds gfn ' + hex(gfn), '');
        }
      } else if (kn === 'GUP' && e[6] >= 0 && e[6] === frame) {
        set('frame', 'bad', 'frame ' + frame + ' now holds gfn ' + hex(e[4]) + ' (reused!)', 'the host handed frame ' + frame + ' to gfn ' + hex(e[4]) + ': the old link is now a lie');
      } else if (kn === 'SPTE_SET' && e[4] >>> 12 === pg) {
        frame = e[6];
        set('spte', 'ok', 'gfn ' + hex(e[5]) + ' -> frame ' + e[6] + '  ' + e[9].replace(/^.*frame \d+\s*/, ''), 'KVM links the spte to frame ' + e[6]);
        set('tlb', 'ok', 'filled when the access re-executes: gva ' + hex(pg * 4096, 8) + ' -> frame ' + e[6], '');
      } else if (kn === 'RETRY' && e[4] >>> 12 === pg) {
        set('spte', 'none', 'not installed: the fault retried (' + (['?', 'in-progress', 'seq', 'unsafe', 'gpte-changed'][e[6]] || '?') + ')', 'an invalidation raced this fault: no link is made from a frame that may be recycled');
      } else if (kn === 'SPTE_ZAP' && (gfns.indexOf(e[4]) >= 0 && (e[8] < 0 || e[8] >>> 12 === pg))) {
        set('spte', 'none', 'zapped (' + (D.notes[i] || e[9].replace(/^.*\(/, '(').replace(/\)$/, ')')) + ')', 'KVM breaks the spte -> frame link');
        if (b.tlb.s === 'ok') set('tlb', 'warn', 'may still hold gva -> frame ' + e[5] + ' until a flush', '');
      } else if (kn === 'TLB_FLUSH') {
        if (b.tlb.s !== 'none' && (e[2] < 0 || e[2] === 0)) set('tlb', 'none', 'flushed (' + (FLUSH_CAUSE[e[5]] || '?') + (D.notes[i] ? '; ' + D.notes[i].replace('remote TLB flush, ', '') : '') + ')', 'the TLB entry goes');
      } else if (kn === 'INV_START') {
        if (gfn >= e[7] && gfn < e[8]) set('hpte', 'warn', 'being invalidated (' + D.mmuEvents[e[4]] + ')', 'the host starts taking the page away: the mmu_notifier tells KVM');
      } else if (kn === 'INV_END') {
        if (hva >= e[5] && hva < e[6]) set('hpte', e[8] >= 0 ? 'ok' : 'none', 'hva ' + hex(hva, 8) + ': ' + (e[7] === 4 ? 'range' : (['unmapped', 'mapped', 'mapped read-only', 'swapped out'][e[7]] || '?')) + (e[8] >= 0 ? ', frame ' + e[8] : ''), 'the host finished: hva -> frame link ' + (e[8] >= 0 ? 'now to frame ' + e[8] : 'gone'));
      } else if (kn === 'UNSEEN' && gfns.indexOf(e[4]) >= 0) {
        set('hpte', e[6] >= 0 ? 'warn' : 'none', 'hva ' + hex(e[7], 8) + ': host ' + (['?', 'replaced or dropped', 'write-protected', 'unmapped, in swap cache'][e[8]] || '?') + (e[6] >= 0 ? ', frame now ' + e[6] : ''), 'the host broke hva -> frame ' + e[5] + ' without telling KVM');
        set('spte', 'bad', 'still maps frame ' + e[5] + ' (KVM was not told)', '');
      } else if (kn === 'STALE' && e[4] >>> 12 === pg) {
        set('tlb', 'bad', (e[7] ? 'write' : 'read') + ' through stale frame ' + e[6], 'the guest used the stale link: STALE');
        set('frame', 'bad', 'frame ' + e[6] + ' freed or reused: the access is stale', '');
      }
    }
    return { b: b, changed: changed, said: said };
  }
  var BOXES = [['gpte', 'guest PTE'], ['spte', KTDPWALK !== undefined && EV.some(function (e) { return e[3] === KTDPWALK; }) ? 'TDP entry (gpa -> hpa)' : 'spte (shadow PTE)'], ['hpte', 'host PTE'], ['frame', 'host frame'], ['tlb', 'TLB entry']];
  function drawBoxes() {
    var el = $('boxes');
    if (ppage < 0) { el.innerHTML = '<p class="empty">No guest page was walked in the events shown.</p>'; return; }
    var st = pageState(ppage, cur), h = '';
    BOXES.forEach(function (bx, k) {
      var v = st.b[bx[0]];
      if (k > 0) { var prev = st.b[BOXES[k - 1][0]]; h += '<span class="link ' + (v.s === 'none' || prev.s === 'none' ? 'off' : v.s === 'bad' || prev.s === 'bad' ? 'bad' : 'on') + '">&rarr;</span>'; }
      h += '<div class="box s-' + v.s + (st.changed[bx[0]] ? ' changed' : '') + '" data-box="' + bx[0] + '" data-state="' + v.s + '"><b>' + bx[1] + '</b><span>' + linkGfns(v.t) + '</span></div>';
    });
    el.innerHTML = h;
    var note = st.said.join('; ');
    if (cur >= 0 && D.notes[cur]) note += (note ? '. ' : '') + D.notes[cur];
    $('pnote').innerHTML = cur < 0 ? 'Press Next (or &rarr;) to start.' : linkGfns(note || 'This event does not change the links of this page.');
  }
  var curMark = null;
  function playerSync() {
    if (cur < 0) return;
    Array.prototype.forEach.call(document.querySelectorAll('#chainview [data-i], #unseenview [data-i]'), function (n) { n.classList.toggle('future', +n.getAttribute('data-i') > cur); });
  }
  function show(i) {
    cur = i;
    if (curMark) curMark.classList.remove('cur');
    curMark = i >= 0 ? markAt[i] || null : null;
    if (curMark) curMark.classList.add('cur');
    if (i >= 0) {
      var x = X(i);
      cursor.setAttribute('x1', x); cursor.setAttribute('x2', x); cursor.setAttribute('visibility', 'visible');
      var e = EV[i];
      $('pcur').innerHTML = '<span class="pseq">' + (relevant.indexOf(i) >= 0 ? '' : '(not about this page) ') + '</span><code>' + linkGfns(line(i)) + '</code>';
      $('pcur').setAttribute('data-i', i); $('pcur').setAttribute('data-seq', e[0]); $('pcur').setAttribute('data-kind', K[e[3]]);
      if (chainOf[i] !== undefined && chainOf[i] !== selected) selectChain(chainOf[i], false);
      if (unseenOf[i] !== undefined && unseenOf[i] !== unseenSel) drawUnseen(unseenOf[i]);
    } else {
      cursor.setAttribute('visibility', 'hidden');
      $('pcur').innerHTML = '<span class="meta">before the first event</span>'; $('pcur').setAttribute('data-i', -1);
    }
    var pos = $('ponly').checked ? relevant.filter(function (j) { return j <= i; }).length + ' of ' + relevant.length + ' events of this page' : (i + 1) + ' of ' + N + ' events';
    $('ppos').textContent = pos;
    drawBoxes();
    playerSync();
  }
  function step(dir) {
    var i = cur;
    if ($('ponly').checked) {
      var j;
      if (dir > 0) { for (j = 0; j < relevant.length && relevant[j] <= i; j++); i = j < relevant.length ? relevant[j] : i; }
      else { for (j = relevant.length - 1; j >= 0 && relevant[j] >= i; j--); i = j >= 0 ? relevant[j] : -1; }
    } else i = Math.max(-1, Math.min(N - 1, i + dir));
    if (i === cur && dir > 0) { pause(); return false; }
    show(i);
    return true;
  }
  function pause() { if (playing) { clearInterval(playing); playing = null; } $('pplay').innerHTML = '&#9654; Play'; }
  function play() {
    if (playing) { pause(); return; }
    $('pplay').innerHTML = '&#10074;&#10074; Pause';
    playing = setInterval(function () { if (!step(1)) pause(); }, 350);
  }
  function choosePage(pg) {
    ppage = pg;
    relevant = pg >= 0 ? relevantFor(pg) : [];
    $('pgva').value = String(pg);
    show(cur);
  }
  $('pgva').innerHTML = pageOrder.map(function (pg) { return '<option value="' + pg + '">gva ' + hex(pg * 4096, 8) + ' (gfn ' + pageGfns[pg].map(function (g) { return hex(g); }).join(', ') + ')</option>'; }).join('');
  $('pgva').addEventListener('change', function () { choosePage(+this.value); });
  $('ponly').addEventListener('change', function () { show(cur); });
  $('pprev').addEventListener('click', function () { pause(); step(-1); });
  $('pnext').addEventListener('click', function () { pause(); step(1); });
  $('pplay').addEventListener('click', play);
  document.addEventListener('keydown', function (ev) {
    var t = ev.target.tagName;
    if (t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA' || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === 'ArrowRight') { pause(); step(1); ev.preventDefault(); }
    else if (ev.key === 'ArrowLeft') { pause(); step(-1); ev.preventDefault(); }
    else if (ev.key === ' ') { play(); ev.preventDefault(); }
  });
  function firstPage() {
    var want = -1;
    if (U.length) want = U[0].gfn;
    else for (var k = 0; k < D.chains.length && want < 0; k++) if (D.chains[k].zaps.length) want = EV[D.chains[k].zaps[0]][4];
    for (var q = 0; q < pageOrder.length; q++) if (pageGfns[pageOrder[q]].indexOf(want) >= 0) return pageOrder[q];
    return pageOrder.length ? pageOrder[0] : -1;
  }

  // ---- start -----------------------------------------------------------------------------------
  function setHash(h) { try { history.replaceState(null, '', '#' + h); } catch (e) { /* file:// in some browsers */ } }
  ['tlcontrols', 'chaincontrols', 'pagecontrols', 'player'].forEach(function (id) { $(id).hidden = false; });
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
  if (U.length) { var su = 0; if ((m = /unseen=(\d+)/.exec(hash))) U.forEach(function (u, k) { if (u.n === +m[1]) su = k; }); drawUnseen(su); }
  choosePage(startGfn >= 0 && !U.length ? (function () { for (var q = 0; q < pageOrder.length; q++) if (pageGfns[pageOrder[q]].indexOf(startGfn) >= 0) return pageOrder[q]; return firstPage(); })() : firstPage());
  if (m || /chain=|unseen=/.test(hash)) setHash(hash);
})();
`;
