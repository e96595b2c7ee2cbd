// The trace page's timeline, in its page script: the marks placed by time or by event order, the
// axis, hover tips, drag-to-zoom, and a click that opens the chain or guest page of an event.
// Spliced by trace-html-script.ts into the page script's one closure, in order: it uses that
// closure's names (D, EV, K, $, esc, hex, line, chainOf...) and the functions of the other parts.

export const CLIENT_JS_TIMELINE = String.raw`
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
`;
