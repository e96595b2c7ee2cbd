// The trace page's UNSEEN chains (--mode pin or none: what KVM was never told), in its page
// script: the flow of one (cause, the host change, the stale spte, the frame's new owner, the first
// stale access) and, when the page has one, the same gfn's chain under the mmu_notifier beside it.
// Spliced by trace-html-script.ts into the page script's one closure, in order: it uses that
// closure's names (D, EV, K, $, esc, hex, line, chainOf...) and the functions of the other parts.

export const CLIENT_JS_UNSEEN = String.raw`
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
`;
