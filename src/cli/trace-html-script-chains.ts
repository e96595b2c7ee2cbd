// The trace page's invalidation chains, in its page script: the chain list and its selection (the
// band on the timeline, the rows lit in the tables), and the flow diagram of one chain (cause,
// invalidation, zaps, flushes, end, refaults, raced faults) as SVG boxes and arrows.
// Spliced by trace-html-script.ts into the page script's one closure, in order: it uses that
// closure's names (D, EV, K, $, esc, hex, line, chainOf...) and the functions of the other parts.

export const CLIENT_JS_CHAINS = String.raw`
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
`;
