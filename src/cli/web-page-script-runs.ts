// How the web page's runs reach the engine and come back, in its page script: the engine in a Web
// Worker made from a Blob URL (or in the page's own thread when no worker starts), the form's
// parameters, the queue of runs, the traced preset and its trace page, and the engine's replies.
// Spliced by web-page-script.ts into the page script's one closure, in order: it uses that
// closure's names ($, config, runs, current, viewed, esc, fmt...) and the functions of the other parts.

export const WEB_JS_RUNS = String.raw`
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
    var wasm = false;
    try { wasm = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])) !== null; } catch (err) { wasm = false; }
    $('backend').textContent = 'The engine runs in ' + backend.kind + '; guest code runs ' + (jit ? (wasm ? 'compiled to WebAssembly where it can be, else to JavaScript (this page allows both)' : 'compiled to JavaScript (new Function is allowed; WebAssembly is not)') : 'in the interpreter (this page forbids new Function)') + '; this page fetches nothing.';
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
`;
