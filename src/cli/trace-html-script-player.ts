// The trace page's player, in its page script: one event at a time (step, play, pause) over the
// events that concern one guest virtual page, with the boxes of its gva -> gfn -> frame links and
// the timeline cursor kept in step.
// Spliced by trace-html-script.ts into the page script's one closure, in order: it uses that
// closure's names (D, EV, K, $, esc, hex, line, chainOf...) and the functions of the other parts.

export const CLIENT_JS_PLAYER = String.raw`
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
`;
