// The swap benchmark's HTML report: one self-contained page (inline CSS and SVG, no scripts, no
// external URLs) with a summary per mode, guest speed vs overcommit, corruption and failure
// counts per mode, and every row. Rendering is pure: the same rows and meta give the same bytes.

import { renameSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../src/cli/html-file.js';
import { join } from 'node:path';
import { MEMORY_MODES, SWAP_ROW_FIELDS, describeSweep, type MemoryMode, type SwapRow } from './swap-rows.js';

export interface ReportMeta {
  title: string;
  /** The command line that produced the rows, shown verbatim. */
  command: string;
  /** The run was interrupted (Ctrl-C) or cells are missing: a banner says so. */
  partial: boolean;
  generatedBy: string;
}

/** Colour and dash per mode, so the lines still differ in grey print or for colour-blind readers. */
const STYLE: Record<MemoryMode, { color: string; dash: string }> = {
  notifier: { color: '#1a7f37', dash: '' },
  pin: { color: '#b35900', dash: '8 4' },
  none: { color: '#c4122f', dash: '2 3' },
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Coordinates with at most two decimals: short, and identical on every run. */
const px = (v: number): string => String(Math.round(v * 100) / 100);

/** 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.23M": bar labels that fit above a bar. */
export function compactNumber(v: number): string {
  const a = Math.abs(v);
  if (a < 10000) return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
  const [div, unit] = a < 1e6 ? [1e3, 'k'] : a < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  const x = v / div;
  return `${Math.abs(x) < 100 ? Number(x.toPrecision(3)) : Math.round(x)}${unit}`;
}

/** A cell value for the table: integers as they are, fractions to at most 3 decimals. */
function tableValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** Round steps (1, 2, 2.5, 5 x 10^k) giving about `n` ticks from 0 to at least `max`. */
function niceTicks(max: number, n: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const t = Math.round(i * step * 1e9) / 1e9;
    ticks.push(t);
    if (t >= max) break;
  }
  return ticks;
}

function modesIn(rows: SwapRow[]): MemoryMode[] {
  const present = new Set(rows.map((r) => r.mode));
  return MEMORY_MODES.filter((m) => present.has(m));
}

function ratiosIn(rows: SwapRow[]): number[] {
  return [...new Set(rows.map((r) => r.overcommit))].sort((a, b) => a - b);
}

const sum = (rows: SwapRow[], f: (r: SwapRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "notifier: 5/5 ratios completed, 0 stale accesses, 0 corrupt pages, ..." */
export function modeSummary(mode: MemoryMode, rows: SwapRow[]): string {
  const mine = rows.filter((r) => r.mode === mode);
  const done = mine.filter((r) => r.completed).length;
  let s =
    `${mode}: ${done}/${mine.length} ratio${mine.length === 1 ? '' : 's'} completed, ` +
    `${plural(sum(mine, (r) => r.stale_accesses), 'stale access', 'stale accesses')}, ` +
    `${plural(sum(mine, (r) => r.corrupt_pages), 'corrupt page')}, ` +
    `${plural(sum(mine, (r) => r.pinned_reclaim_failures), 'pinned reclaim failure')}, ` +
    `${plural(sum(mine, (r) => r.oom_kills), 'OOM kill')}`;
  const failed = mine.filter((r) => !r.completed).sort((a, b) => a.overcommit - b.overcommit);
  if (failed.length > 0) s += ` (not completed: ${failed.map((r) => `ratio ${r.overcommit} ${r.outcome}`).join(', ')})`;
  return `${s}.`;
}

// ---- guest speed vs overcommit ----

function speedPlot(rows: SwapRow[]): string {
  const W = 700;
  const H = 360;
  const L = 64;
  const R = 170;
  const T = 24;
  const B = 56;
  const pw = W - L - R;
  const ph = H - T - B;
  const ratios = ratiosIn(rows);
  let x0 = ratios[0]!;
  let x1 = ratios[ratios.length - 1]!;
  if (x0 === x1) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  const pad = (x1 - x0) * 0.05;
  x0 -= pad;
  x1 += pad;
  const yTicks = niceTicks(Math.max(1, ...rows.map((r) => r.guest_speed_ratio)), 5);
  const yMax = yTicks[yTicks.length - 1]!;
  const X = (v: number): number => L + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number): number => T + ph - (v / yMax) * ph;

  const out: string[] = [];
  out.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="speed-title">`);
  out.push(`<title id="speed-title">Guest speed vs overcommit, one line per mode</title>`);
  for (const t of yTicks) {
    out.push(`<line class="grid" x1="${L}" x2="${L + pw}" y1="${px(Y(t))}" y2="${px(Y(t))}"/>`);
    out.push(`<text class="tick" x="${L - 6}" y="${px(Y(t) + 4)}" text-anchor="end">${escapeHtml(String(t))}</text>`);
  }
  for (const r of ratios) {
    out.push(`<line class="axis" x1="${px(X(r))}" x2="${px(X(r))}" y1="${T + ph}" y2="${T + ph + 5}"/>`);
    out.push(`<text class="tick" x="${px(X(r))}" y="${T + ph + 18}" text-anchor="middle">${escapeHtml(String(r))}</text>`);
  }
  if (yMax >= 1) out.push(`<line class="ref" x1="${L}" x2="${L + pw}" y1="${px(Y(1))}" y2="${px(Y(1))}"/>`);
  out.push(`<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}"/>`);
  out.push(`<line class="axis" x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}"/>`);
  out.push(`<text class="label" x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">overcommit (total guest memory / host RAM)</text>`);
  out.push(`<text class="label" transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">guest speed (1 = unpressured)</text>`);

  const modes = modesIn(rows);
  for (const mode of modes) {
    const st = STYLE[mode];
    const pts = rows.filter((r) => r.mode === mode).sort((a, b) => a.overcommit - b.overcommit || a.cell - b.cell);
    const coords = pts.map((r) => `${px(X(r.overcommit))},${px(Y(r.guest_speed_ratio))}`).join(' ');
    out.push(
      `<polyline class="line mode-${mode}" fill="none" stroke="${st.color}" stroke-width="2.5"${st.dash === '' ? '' : ` stroke-dasharray="${st.dash}"`} points="${coords}"/>`,
    );
    for (const r of pts) {
      const cx = X(r.overcommit);
      const cy = Y(r.guest_speed_ratio);
      const tip = `<title>${escapeHtml(`${mode}, overcommit ${r.overcommit}: speed ${tableValue(r.guest_speed_ratio)}, ${r.outcome}`)}</title>`;
      if (r.completed) {
        out.push(`<circle cx="${px(cx)}" cy="${px(cy)}" r="4" fill="${st.color}">${tip}</circle>`);
      } else {
        const d = 5;
        out.push(
          `<path d="M${px(cx - d)} ${px(cy - d)}L${px(cx + d)} ${px(cy + d)}M${px(cx - d)} ${px(cy + d)}L${px(cx + d)} ${px(cy - d)}" stroke="${st.color}" stroke-width="2.5">${tip}</path>`,
        );
      }
    }
  }
  // Legend, right of the plot.
  const lx = L + pw + 18;
  modes.forEach((mode, i) => {
    const st = STYLE[mode];
    const y = T + 10 + i * 22;
    out.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${y}" y2="${y}" stroke="${st.color}" stroke-width="2.5"${st.dash === '' ? '' : ` stroke-dasharray="${st.dash}"`}/>`,
    );
    out.push(`<text class="legend" x="${lx + 36}" y="${y + 4}">${mode}</text>`);
  });
  const ly = T + 10 + modes.length * 22 + 8;
  out.push(`<circle cx="${lx + 14}" cy="${ly}" r="4" fill="#555"/><text class="legend" x="${lx + 36}" y="${ly + 4}">completed</text>`);
  out.push(
    `<path d="M${lx + 9} ${ly + 17}L${lx + 19} ${ly + 27}M${lx + 9} ${ly + 27}L${lx + 19} ${ly + 17}" stroke="#555" stroke-width="2.5"/><text class="legend" x="${lx + 36}" y="${ly + 26}">not completed</text>`,
  );
  out.push('</svg>');
  return out.join('\n');
}

// ---- corruption and failures: one panel per metric ----

const FAILURE_METRICS: readonly { key: keyof SwapRow; title: string; why: string }[] = [
  { key: 'stale_accesses', title: 'stale accesses', why: 'guest accesses to a freed or replaced host frame, caught by the detector' },
  { key: 'corrupt_pages', title: 'corrupt pages', why: 'pages the guests found holding something other than what they wrote' },
  { key: 'pinned_reclaim_failures', title: 'pinned reclaim failures', why: 'reclaim attempts refused because the hypervisor held a pin' },
  { key: 'oom_kills', title: 'OOM kills', why: 'VMs killed because the host ran out of memory and swap could not help' },
];

/**
 * Bars on a log(1 + v) scale, per panel: a single stale access must be visible next to a
 * million, and a zero must read as a zero (a labelled baseline mark, never a missing bar).
 */
function failurePanel(rows: SwapRow[], key: keyof SwapRow, title: string, why: string): string {
  const modes = modesIn(rows);
  const ratios = ratiosIn(rows);
  const W = 680;
  const H = 210;
  const L = 64;
  const R = 16;
  const T = 40;
  const B = 40;
  const pw = W - L - R;
  const ph = H - T - B;
  const value = (r: SwapRow): number => r[key] as number;
  const max = Math.max(0, ...rows.map(value));
  const top = Math.log10(1 + Math.max(max, 1));
  const Y = (v: number): number => T + ph - (Math.log10(1 + Math.max(0, v)) / top) * ph;
  const groupW = pw / ratios.length;
  const barW = Math.min(40, (groupW * 0.8) / modes.length);
  const totals = modes.map((m) => `${m} ${compactNumber(sum(rows.filter((r) => r.mode === m), value))}`).join(', ');

  const out: string[] = [];
  const id = `panel-${key}`;
  out.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="${id}">`);
  out.push(`<title id="${id}">${escapeHtml(`${title} per mode and overcommit (totals: ${totals})`)}</title>`);
  out.push(`<text class="panel-title" x="${L}" y="16">${escapeHtml(title)} <tspan class="why">${escapeHtml(`(${why})`)}</tspan></text>`);
  out.push(`<text class="why" x="${L}" y="31">${escapeHtml(`totals: ${totals}; log scale`)}</text>`);
  const ticks = [0];
  for (let t = 1; t <= Math.max(max, 1); t *= 10) ticks.push(t);
  for (const t of ticks) {
    out.push(`<line class="grid" x1="${L}" x2="${L + pw}" y1="${px(Y(t))}" y2="${px(Y(t))}"/>`);
    out.push(`<text class="tick" x="${L - 6}" y="${px(Y(t) + 4)}" text-anchor="end">${compactNumber(t)}</text>`);
  }
  out.push(`<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}"/>`);
  out.push(`<line class="axis" x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}"/>`);
  ratios.forEach((ratio, gi) => {
    const gx = L + gi * groupW + (groupW - barW * modes.length) / 2;
    out.push(`<text class="tick" x="${px(L + (gi + 0.5) * groupW)}" y="${T + ph + 16}" text-anchor="middle">${escapeHtml(`x${ratio}`)}</text>`);
    modes.forEach((mode, mi) => {
      const cell = rows.filter((r) => r.mode === mode && r.overcommit === ratio);
      if (cell.length === 0) return;
      const v = sum(cell, value);
      const x = gx + mi * barW;
      const y = Y(v);
      const st = STYLE[mode];
      const tip = `<title>${escapeHtml(`${mode}, overcommit ${ratio}: ${title} ${v}`)}</title>`;
      if (v > 0) {
        out.push(`<rect x="${px(x + 1)}" y="${px(y)}" width="${px(barW - 2)}" height="${px(T + ph - y)}" fill="${st.color}">${tip}</rect>`);
      } else {
        out.push(`<rect class="zero" x="${px(x + 1)}" y="${T + ph - 2}" width="${px(barW - 2)}" height="2" fill="${st.color}">${tip}</rect>`);
      }
      const lx = x + barW / 2;
      const label = compactNumber(v);
      if (barW >= 7 * label.length) {
        out.push(`<text class="value" x="${px(lx)}" y="${px(y - 4)}" text-anchor="middle">${label}</text>`);
      } else {
        out.push(`<text class="value" transform="translate(${px(lx + 3)} ${px(y - 4)}) rotate(-90)">${label}</text>`);
      }
    });
  });
  out.push(`<text class="label" x="${L + pw / 2}" y="${H - 6}" text-anchor="middle">overcommit</text>`);
  out.push('</svg>');
  return out.join('\n');
}

function legendHtml(modes: MemoryMode[]): string {
  return `<p class="legend-row">${modes
    .map((m) => `<span class="swatch" style="background:${STYLE[m].color}"></span>${m}`)
    .join(' &nbsp; ')}</p>`;
}

function rowsTable(rows: SwapRow[]): string {
  const keys = SWAP_ROW_FIELDS.map((f) => f.key).filter((k) => k !== 'bench');
  const head = keys.map((k) => `<th>${escapeHtml(k.replace(/_/g, ' '))}</th>`).join('');
  const body = rows
    .map((r) => {
      const tds = keys
        .map((k) => {
          const v = r[k];
          return `<td${typeof v === 'number' ? ' class="num"' : ''}>${escapeHtml(tableValue(v))}</td>`;
        })
        .join('');
      return `<tr class="${r.completed ? 'ok' : 'fail'} mode-${escapeHtml(r.mode)}">${tds}</tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px;font-size:.9em;word-break:break-all}
.meta{color:#57606a;font-size:.9rem;margin:.2rem 0}
.banner{background:#fff3cd;border:2px solid #d29922;color:#6b4700;padding:.7rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
ul.summary{padding-left:1.2rem}ul.summary li{margin:.25rem 0}
.howto{color:#3d444d;font-size:.92rem;background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem}
svg{max-width:100%;height:auto;display:block;margin:.5rem 0 1rem}
svg text{font-family:system-ui,sans-serif;fill:#1f2328}
.grid{stroke:#e6e8eb;stroke-width:1}.axis{stroke:#57606a;stroke-width:1}.ref{stroke:#8c959f;stroke-width:1;stroke-dasharray:3 3}
.tick{font-size:11px;fill:#57606a}.label{font-size:12px}.legend{font-size:12px}
.panel-title{font-size:13px;font-weight:600}.why{font-size:11px;font-weight:400;fill:#57606a}.value{font-size:10px}
.legend-row{font-size:.9rem}.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.3em;vertical-align:-.1em}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px;white-space:nowrap}
th,td{border:1px solid #d0d7de;padding:.2rem .4rem}th{background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.fail td{background:#fff0f0}
.empty{color:#57606a;font-style:italic}
`;

export function renderReport(rows: SwapRow[], meta: ReportMeta): string {
  const sorted = rows.slice().sort((a, b) => a.cell - b.cell || MEMORY_MODES.indexOf(a.mode) - MEMORY_MODES.indexOf(b.mode) || a.overcommit - b.overcommit);
  const modes = modesIn(sorted);
  const sweep = describeSweep(sorted);
  const parts: string[] = [];
  parts.push('<!doctype html>');
  parts.push('<html lang="en">\n<head>\n<meta charset="utf-8">');
  parts.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  parts.push(`<title>${escapeHtml(meta.title)}</title>`);
  parts.push(`<style>${CSS}</style>\n</head>\n<body>`);
  parts.push(`<h1>${escapeHtml(meta.title)}</h1>`);
  parts.push(`<p class="meta">Command: <code>${escapeHtml(meta.command)}</code></p>`);
  if (sweep !== null) parts.push(`<p class="meta">Sweep: ${escapeHtml(sweep)}.</p>`);
  parts.push(`<p class="meta">Generated by ${escapeHtml(meta.generatedBy)}; ${plural(sorted.length, 'cell')}.</p>`);
  if (meta.partial) {
    parts.push(
      '<div class="banner" role="alert">Partial results: the run was interrupted or some grid cells are missing. ' +
        `Only the ${plural(sorted.length, 'cell')} below finished; the figures do not cover the whole grid.</div>`,
    );
  }
  parts.push('<h2>Summary</h2>');
  if (sorted.length === 0) {
    parts.push('<p class="empty">No cells finished, so there is nothing to plot.</p>');
  } else {
    parts.push(`<ul class="summary">\n${modes.map((m) => `<li>${escapeHtml(modeSummary(m, sorted))}</li>`).join('\n')}\n</ul>`);
    parts.push(
      '<p class="howto">How to read this: with mmu_notifiers (<b>notifier</b>) the host can swap guest memory, so every ratio ' +
        'should complete with zero stale accesses and zero corrupt pages, only slower as overcommit grows. With pinning ' +
        '(<b>pin</b>, KVM before notifiers) mapped guest pages cannot be reclaimed: above ratio 1 the host stalls or OOMs. ' +
        'With neither (<b>none</b>) the host swaps pages the guests still map, and the guests silently read and write freed frames.</p>',
    );
    parts.push('<h2>Guest speed vs overcommit</h2>');
    parts.push(speedPlot(sorted));
    parts.push('<h2>Corruption and failures per mode</h2>');
    parts.push(legendHtml(modes));
    for (const m of FAILURE_METRICS) parts.push(failurePanel(sorted, m.key, m.title, m.why));
  }
  parts.push('<h2>All cells</h2>');
  parts.push(rowsTable(sorted));
  parts.push('</body>\n</html>\n');
  return parts.join('\n');
}

/** Writes dir/index.html (creating dir) through a rename, so a reader never sees half a page. */
export function writeReport(dir: string, html: string): string {
  makeDirs(dir);
  const path = join(dir, 'index.html');
  const tmp = join(dir, '.index.html.tmp');
  writeFileSync(tmp, html);
  renameSync(tmp, path);
  return path;
}
