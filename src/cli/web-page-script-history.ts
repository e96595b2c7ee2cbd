// The web page's table of runs, in its page script: one row per run, made once and then updated
// cell by cell (a click mid-run still finds its row).
// Spliced by web-page-script.ts into the page script's one closure, in order: it uses that
// closure's names ($, config, runs, current, viewed, esc, fmt...) and the functions of the other parts.

export const WEB_JS_HISTORY = String.raw`
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
`;
