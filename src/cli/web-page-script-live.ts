// The web page's live panel, in its page script: the verdict and counters of the viewed run and its
// per-VM table, built once per run and then updated in place.
// Spliced by web-page-script.ts into the page script's one closure, in order: it uses that
// closure's names ($, config, runs, current, viewed, esc, fmt...) and the functions of the other parts.

export const WEB_JS_LIVE = String.raw`
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
`;
