// The trace page's history of one guest frame (gfn), in its page script: the guest pages that
// mapped it, the host frames it was given, its chains, its end-of-run translations and its events;
// and the gfn links everywhere on the page that open it.
// Spliced by trace-html-script.ts into the page script's one closure, in order: it uses that
// closure's names (D, EV, K, $, esc, hex, line, chainOf...) and the functions of the other parts.

export const CLIENT_JS_GFN_HISTORY = String.raw`
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

`;
