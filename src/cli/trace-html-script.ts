// The script inlined into `trace --html`'s page. It reads the trace from <script id="trace-data">
// and adds what a static page cannot: hover and zoom on the timeline, the flow diagram of a
// selected causal chain, the history of one guest frame (gfn), the UNSEEN chains and the player.
// It is one closure of plain ES2017, assembled here from its parts in order (each part a String.raw
// with no template literals inside, so nothing is interpolated): this file holds the shared
// beginning (the trace data, small helpers, event -> chain) and the start-up at the end.

import { CLIENT_JS_CHAINS } from './trace-html-script-chains.js';
import { CLIENT_JS_GFN_HISTORY } from './trace-html-script-gfn-history.js';
import { CLIENT_JS_PLAYER } from './trace-html-script-player.js';
import { CLIENT_JS_TIMELINE } from './trace-html-script-timeline.js';
import { CLIENT_JS_UNSEEN } from './trace-html-script-unseen.js';

const CLIENT_JS_HEAD = String.raw`
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
`;

const CLIENT_JS_START = String.raw`
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

export const CLIENT_JS =
  CLIENT_JS_HEAD + CLIENT_JS_TIMELINE + CLIENT_JS_CHAINS + CLIENT_JS_GFN_HISTORY + CLIENT_JS_UNSEEN + CLIENT_JS_PLAYER + CLIENT_JS_START;
