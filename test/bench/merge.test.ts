// Tests of `bench merge`: shard outputs reassembled, duplicates and conflicts, file:line errors.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, mergeRows, missingCells } from '../../bench/merge.js';
import { shardCells, buildGrid, MEMORY_MODES, type SwapRow } from '../../bench/swap-rows.js';
import { RATIOS, fakeRow, storyRows, toJsonLines } from './fixtures.js';

/** The story rows split the way `--shard i/n` would split them. */
function shardTexts(rows: SwapRow[], n: number): { name: string; text: string }[] {
  const grid = buildGrid([...MEMORY_MODES], RATIOS);
  return Array.from({ length: n }, (_, k) => {
    const idx = new Set(shardCells(grid, { index: k + 1, count: n }).map((c) => c.index));
    return { name: `shard-${k + 1}.jsonl`, text: toJsonLines(rows.filter((r) => idx.has(r.cell))) };
  });
}

describe('mergeRows', () => {
  it('reassembles the grid from shards in any order, sorted by cell', () => {
    const rows = storyRows();
    for (let n = 1; n <= 5; n++) {
      const merged = mergeRows(shardTexts(rows, n).reverse());
      expect(merged).toEqual(rows);
    }
  });
  it('skips blank lines and CRLF endings', () => {
    const rows = storyRows().slice(0, 3);
    const text = `\n${JSON.stringify(rows[2])}\r\n\n   \n${JSON.stringify(rows[0])}\n${JSON.stringify(rows[1])}`;
    expect(mergeRows([{ name: 'a', text }]).map((r) => r.cell)).toEqual([0, 1, 2]);
  });
  it('de-duplicates a cell present twice, also when only wall-clock timing differs', () => {
    const rows = storyRows();
    const again = rows.slice(0, 4).map((r) => ({ ...r, wall_seconds: r.wall_seconds + 1, guest_mips: r.guest_mips * 2 }));
    const merged = mergeRows([
      { name: 'a', text: toJsonLines(rows) },
      { name: 'b', text: toJsonLines(again) },
    ]);
    expect(merged).toHaveLength(rows.length);
    expect(merged[0]!.wall_seconds).toBe(rows[0]!.wall_seconds);
  });
  it('refuses the same cell with different content, naming both places', () => {
    const a = fakeRow({ cell: 3, mode: 'pin', overcommit: 1.5 });
    const b = { ...a, swap_outs: 9 };
    expect(() =>
      mergeRows([
        { name: 'x.jsonl', text: toJsonLines([a]) },
        { name: 'y.jsonl', text: `\n${toJsonLines([b])}` },
      ]),
    ).toThrow(/^y\.jsonl:2: cell 3 \(pin x1\.5\) differs from the same cell at x\.jsonl:1 /);
    const c = { ...a, mode: 'none' as const };
    expect(() => mergeRows([{ name: 'x', text: toJsonLines([a, c]) }])).toThrow(/x:2: cell 3 \(none x1\.5\) differs .* \(pin x1\.5\)/);
  });
  it('names file:line of a malformed line', () => {
    const good = toJsonLines(storyRows().slice(0, 2));
    expect(() => mergeRows([{ name: 'ok', text: good }, { name: 's2.jsonl', text: `${good}{"bench":"swap",` }])).toThrow(/^s2\.jsonl:3: not valid JSON/);
    const { stale_accesses: _, ...noStale } = fakeRow({ cell: 0, mode: 'none', overcommit: 2 });
    expect(() => mergeRows([{ name: 's3', text: JSON.stringify(noStale) }])).toThrow("s3:1: field 'stale_accesses' is missing");
    expect(() => mergeRows([{ name: 's4', text: '{"bench":"cpu","run":1}' }])).toThrow(/^s4:1: not a swap benchmark row/);
  });
  it('finds cells missing below the largest one', () => {
    const rows = storyRows().filter((r) => r.cell !== 2 && r.cell !== 7);
    expect(missingCells(rows)).toEqual([2, 7]);
    expect(missingCells(storyRows())).toEqual([]);
    expect(missingCells([])).toEqual([]);
  });
});

describe('bench merge main', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sv-merge-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const status = await main(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
    return { status, stdout, stderr };
  };
  const files = shardTexts(storyRows(), 3).map((s) => {
    const p = join(dir, s.name);
    writeFileSync(p, s.text);
    return p;
  });

  it('prints the merged table', async () => {
    const r = await run(files);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^swap benchmark: 15 cells; 3 VMs/);
    expect(r.stdout.split('\n').filter((l) => /^ *\d+  (notifier|pin|none) /.test(l))).toHaveLength(15);
  });
  it('prints JSON lines sorted by cell with --json', async () => {
    const r = await run(['--json', ...files]);
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SwapRow);
    expect(rows.map((x) => x.cell)).toEqual([...Array(15).keys()]);
    expect(rows).toEqual(storyRows());
  });
  it('writes a report, marked partial when a shard is missing', async () => {
    const out = join(dir, 'report');
    const r = await run([files[0]!, files[2]!, '--report', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: cells missing from the inputs: 1, 4, 7, 10, 13\n/);
    expect(r.stderr).toContain(`report: ${join(out, 'index.html')}`);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('class="banner"');
    const full = await run([...files, '--report', out]);
    expect(full.status).toBe(0);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).not.toContain('class="banner"');
  });
  it('exits 2 with one line on bad input', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify(storyRows()[0])}\nnot json\n`);
    // Binary garbage (bytes 0x80-0xff and controls): the message must not echo any of it.
    const garbage = join(dir, 'garbage.bin');
    writeFileSync(garbage, Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) & 0xff));
    for (const [argv, re] of [
      [[files[0]!, bad], new RegExp(`^shadowvisor: bench merge: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not valid JSON`)],
      [[join(dir, 'nope.jsonl')], /^shadowvisor: bench merge: cannot read input '.*nope\.jsonl': no such file/],
      [[garbage], /^shadowvisor: bench merge: .*garbage\.bin:1: binary data, not a JSON line/],
      [[], /no input files/],
      [['--frobnicate', files[0]!], /^shadowvisor: bench merge: Unknown option '--frobnicate'/],
    ] as const) {
      const r = await run([...argv]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trimEnd()).not.toContain('\n');
      expect(r.stderr).toMatch(/^[\x20-\x7e]*\n$/); // printable ASCII only: no raw bytes echoed
    }
  });
  it('shows help', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: shadowvisor bench merge FILE\.\.\./);
  });
});
