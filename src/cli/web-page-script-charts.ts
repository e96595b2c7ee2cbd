// The web page's charts, in its page script: one SVG line chart per field against the guest
// instructions run so far, a line per shown run in its memory mode's colour and dash.
// Spliced by web-page-script.ts into the page script's one closure, in order: it uses that
// closure's names ($, config, runs, current, viewed, esc, fmt...) and the functions of the other parts.

export const WEB_JS_CHARTS = String.raw`
  function niceTicks(max, n) {
    if (!(max > 0)) return [0, 1];
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10], step = p * 10;
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) { step = steps[i] * p; break; }
    var t = [];
    for (var k = 0; ; k++) { var v = Math.round(k * step * 1e9) / 1e9; t.push(v); if (v >= max) break; }
    return t;
  }
  function drawChart(id, field) {
    var W = 640, H = 250, L = 56, R = 34, T = 12, B = 34;
    var f = FIELDS.indexOf(field), stride = FIELDS.length, xi = FIELDS.indexOf('instructions');
    var shown = runs.filter(function (r) { return r.show && r.series.length > 0; });
    var xmax = 0, ymax = 0;
    shown.forEach(function (r) {
      xmax = Math.max(xmax, r.params.vms * r.params.insnsPerVm);
      for (var i = f; i < r.series.length; i += stride) if (r.series[i] > ymax) ymax = r.series[i];
    });
    if (xmax === 0) { var q = readParams(); xmax = q.vms * q.insnsPerVm; }
    var xt = niceTicks(xmax / 1e6, 6), yt = niceTicks(ymax, 4);
    var xs = function (v) { return L + (v / 1e6) / xt[xt.length - 1] * (W - L - R); };
    var ys = function (v) { return H - B - v / yt[yt.length - 1] * (H - T - B); };
    var s = '<svg class="plot" viewBox="0 0 ' + W + ' ' + H + '" xmlns="http://www.w3.org/2000/svg" role="img">';
    yt.forEach(function (t) {
      var y = ys(t).toFixed(1);
      s += '<line class="gridline" x1="' + L + '" x2="' + (W - R) + '" y1="' + y + '" y2="' + y + '"/>';
      s += '<text class="tick" x="' + (L - 6) + '" y="' + y + '" dy="4" text-anchor="end">' + compact(t) + '</text>';
    });
    xt.forEach(function (t) {
      var x = xs(t * 1e6).toFixed(1);
      s += '<line class="axis" x1="' + x + '" x2="' + x + '" y1="' + (H - B) + '" y2="' + (H - B + 4) + '"/>';
      s += '<text class="tick" x="' + x + '" y="' + (H - B + 16) + '" text-anchor="middle">' + compact(t) + '</text>';
    });
    s += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>';
    s += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
    s += '<text class="tick" x="' + ((L + W - R) / 2) + '" y="' + (H - 3) + '" text-anchor="middle">guest instructions retired, all VMs (millions) = virtual time</text>';
    if (shown.length === 0) s += '<text class="tick" x="' + ((L + W - R) / 2) + '" y="' + (H / 2) + '" text-anchor="middle">no runs yet</text>';
    shown.forEach(function (r) {
      var n = r.series.length / stride, every = Math.max(1, Math.ceil(n / 700)), pts = [];
      for (var k = 0; k < n; k += every) pts.push(xs(r.series[k * stride + xi]).toFixed(1) + ',' + ys(r.series[k * stride + f]).toFixed(1));
      if ((n - 1) % every !== 0) pts.push(xs(r.series[(n - 1) * stride + xi]).toFixed(1) + ',' + ys(r.series[(n - 1) * stride + f]).toFixed(1));
      var st = STYLE[r.params.mode], wide = r === viewed ? 3 : 1.8;
      s += '<polyline fill="none" stroke="' + st.color + '" stroke-width="' + wide + '" stroke-linejoin="round"' + (st.dash ? ' stroke-dasharray="' + st.dash + '"' : '') + ' points="' + pts.join(' ') + '"/>';
      var last = pts[pts.length - 1].split(',');
      var ended = r.status !== 'running' && r.snap && r.snap.outcome !== 'ok';
      if (ended) s += '<text x="' + last[0] + '" y="' + last[1] + '" dy="4" text-anchor="middle" fill="' + st.color + '" font-size="13" font-weight="700">\u00d7</text>';
      s += '<text class="endlabel" x="' + (Number(last[0]) + 6) + '" y="' + (Number(last[1]) - 4) + '" fill="' + st.color + '">#' + r.id + '</text>';
    });
    s += '</svg>';
    $(id).innerHTML = s;
  }
`;
