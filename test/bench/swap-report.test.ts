// Tests of the HTML report: self-contained, escaped, one line per mode, panels, deterministic.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactNumber, escapeHtml, modeSummary, renderReport, writeReport } from '../../bench/swap-report.js';
import { fakeRow, storyRows } from './fixtures.js';

const META = { title: 'swap <bench> & "friends"', command: 'shadowvisor bench swap --quick --report out', partial: false, generatedBy: 'test' };

describe('renderReport', () => {
  const rows = storyRows();
  const html = renderReport(rows, META);

  it('is one self-contained HTML page', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link /i);
    expect(html).not.toMatch(/\bsrc=/i);
    expect(html).not.toContain('NaN');
    expect(html).not.toContain('undefined');
  });
  it('escapes text', () => {
    expect(html).toContain('<title>swap &lt;bench&gt; &amp; &quot;friends&quot;</title>');
    expect(html).not.toContain('<bench>');
    const evil = renderReport([fakeRow({ cell: 0, mode: 'none', overcommit: 2, outcome: '<img onerror=x>' })], { ...META, command: 'a </code><b>' });
    expect(evil).not.toContain('<img');
    expect(evil).not.toContain('</code><b>');
    expect(evil).toContain('&lt;img onerror=x&gt;');
  });
  it('plots one speed line per mode, with one marker per cell', () => {
    const lines = [...html.matchAll(/<polyline class="line mode-(\w+)"[^>]* points="([^"]*)"/g)];
    expect(lines.map((m) => m[1])).toEqual(['notifier', 'pin', 'none']);
    for (const m of lines) expect(m[2]!.split(' ')).toHaveLength(5);
    expect(html).toContain('Guest speed vs overcommit');
    // 9 completed cells as circles (+1 in the legend), 6 failed ones as crosses in the plot.
    const speed = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    expect(speed.match(/<circle /g)).toHaveLength(10);
    expect(speed.match(/<title>[a-z]+, overcommit [\d.]+: speed [\d.]+, (?!ok)/g)).toHaveLength(6);
    // x ticks are the grid's ratios.
    for (const r of ['0.5', '1', '1.5', '2', '3']) expect(speed).toContain(`text-anchor="middle">${r}</text>`);
  });
  it('has a failure panel per metric, with zero drawn as a labelled mark', () => {
    for (const t of ['stale accesses', 'corrupt pages', 'pinned reclaim failures', 'OOM kills']) expect(html).toContain(`<text class="panel-title" x="64" y="16">${t} `);
    expect(html).toContain('totals: notifier 0, pin 0, none 7.5M; log scale');
    expect(html).toContain('totals: notifier 0, pin 450k, none 0; log scale');
    // 4 panels x 15 bars; zeros are thin marks.
    expect(html.match(/<rect /g)).toHaveLength(60);
    expect(html.match(/<rect class="zero"/g)!.length).toBeGreaterThan(30);
  });
  it('summarises each mode in a sentence', () => {
    expect(html).toContain('<li>notifier: 5/5 ratios completed, 0 stale accesses, 0 corrupt pages, 0 pinned reclaim failures, 0 OOM kills.</li>');
    expect(html).toContain('pin: 2/5 ratios completed, 0 stale accesses, 0 corrupt pages, 450000 pinned reclaim failures, 2 OOM kills (not completed: ratio 1.5 stalled, ratio 2 oom-killed, ratio 3 oom-killed).');
    expect(modeSummary('none', rows)).toMatch(/^none: 2\/5 ratios completed, 7500000 stale accesses, 21 corrupt pages/);
  });
  it('lists every row in the table, failures marked', () => {
    expect(html.match(/<tr class="(ok|fail) mode-/g)).toHaveLength(15);
    expect(html.match(/<tr class="fail /g)).toHaveLength(6);
    expect(html).toContain('<th>pinned reclaim failures</th>');
  });
  it('is deterministic and independent of input order', () => {
    expect(renderReport(rows.slice().reverse(), META)).toBe(html);
    expect(renderReport(storyRows(), META)).toBe(html);
  });
  it('shows a banner when partial, and survives no rows or one ratio', () => {
    expect(html).not.toContain('class="banner"');
    const partial = renderReport(rows.slice(0, 4), { ...META, partial: true });
    expect(partial).toContain('<div class="banner" role="alert">Partial results');
    const empty = renderReport([], { ...META, partial: true });
    expect(empty).toContain('No cells finished');
    expect(empty).not.toContain('<svg');
    const one = renderReport([fakeRow({ cell: 0, mode: 'notifier', overcommit: 1 })], META);
    expect(one).not.toContain('NaN');
    expect(one.match(/<polyline /g)).toHaveLength(1);
  });
});

describe('helpers', () => {
  it('escapeHtml escapes the five specials', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  it('compactNumber', () => {
    expect(compactNumber(0)).toBe('0');
    expect(compactNumber(9999)).toBe('9999');
    expect(compactNumber(12345)).toBe('12.3k');
    expect(compactNumber(450000)).toBe('450k');
    expect(compactNumber(10000)).toBe('10k');
    expect(compactNumber(1234567)).toBe('1.23M');
    expect(compactNumber(2_500_000)).toBe('2.5M');
    expect(compactNumber(0.125)).toBe('0.13');
  });
  it('writeReport writes dir/index.html, creating the directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-report-'));
    try {
      const p = writeReport(join(dir, 'a', 'b'), '<!doctype html>x');
      expect(p).toBe(join(dir, 'a', 'b', 'index.html'));
      expect(readFileSync(p, 'utf8')).toBe('<!doctype html>x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('geometry', () => {
  it('keeps every drawn coordinate inside its SVG viewBox', () => {
    const html = renderReport(storyRows(), META);
    const svgs = [...html.matchAll(/<svg viewBox="0 0 (\d+) (\d+)"[\s\S]*?<\/svg>/g)];
    expect(svgs).toHaveLength(5);
    for (const m of svgs) {
      const W = Number(m[1]);
      const H = Number(m[2]);
      const xs: number[] = [];
      const ys: number[] = [];
      for (const a of m[0].matchAll(/\b(x|x1|x2|cx|y|y1|y2|cy)="(-?[\d.]+)"/g)) (a[1]!.startsWith('x') || a[1] === 'cx' ? xs : ys).push(Number(a[2]));
      for (const a of m[0].matchAll(/points="([^"]*)"/g)) {
        for (const p of a[1]!.split(' ')) {
          const [x, y] = p.split(',').map(Number);
          xs.push(x!);
          ys.push(y!);
        }
      }
      for (const a of m[0].matchAll(/translate\((-?[\d.]+) (-?[\d.]+)\)/g)) {
        xs.push(Number(a[1]));
        ys.push(Number(a[2]));
      }
      expect(xs.length).toBeGreaterThan(10);
      for (const v of xs) expect(v >= 0 && v <= W, `x=${v} outside 0..${W}`).toBe(true);
      for (const v of ys) expect(v >= 0 && v <= H, `y=${v} outside 0..${H}`).toBe(true);
    }
  });
});
