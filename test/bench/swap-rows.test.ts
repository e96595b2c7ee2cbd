// Tests of the swap benchmark grid, --shard partition, list parsers, row schema and stdout table.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MEMORY_MODES,
  buildGrid,
  formatTable,
  parseList,
  parseModes,
  parseRatios,
  parseShard,
  rowToJson,
  shardCells,
  swapRowProblem,
} from '../../bench/swap-rows.js';
import { fakeRow, storyRows } from './fixtures.js';

describe('buildGrid', () => {
  it('is mode-major with index = position', () => {
    const g = buildGrid(['notifier', 'none'], [0.5, 2]);
    expect(g).toEqual([
      { index: 0, mode: 'notifier', overcommit: 0.5 },
      { index: 1, mode: 'notifier', overcommit: 2 },
      { index: 2, mode: 'none', overcommit: 0.5 },
      { index: 3, mode: 'none', overcommit: 2 },
    ]);
  });
  it('is empty when a dimension is empty', () => {
    expect(buildGrid([], [1, 2])).toEqual([]);
    expect(buildGrid(['pin'], [])).toEqual([]);
  });
});

describe('shardCells', () => {
  const grid = buildGrid([...MEMORY_MODES], [0.5, 1, 1.5, 2, 3]);
  for (let n = 1; n <= 5; n++) {
    it(`puts every cell in exactly one of ${n} shard(s), keeping indices`, () => {
      const count = new Map<number, number>();
      for (let i = 1; i <= n; i++) {
        const part = shardCells(grid, { index: i, count: n });
        for (const c of part) {
          expect(c.index % n).toBe(i - 1);
          expect(grid[c.index]).toEqual(c);
          count.set(c.index, (count.get(c.index) ?? 0) + 1);
        }
        // Shard sizes differ by at most one: the modulo spreads cells evenly.
        expect(Math.abs(part.length - grid.length / n)).toBeLessThan(1);
      }
      expect([...count.keys()].sort((a, b) => a - b)).toEqual(grid.map((c) => c.index));
      expect([...count.values()].every((v) => v === 1)).toBe(true);
    });
  }
  it('partitions any grid for any shard count (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 12 }), (size, n) => {
        const cells = Array.from({ length: size }, (_, i) => ({ index: i, mode: MEMORY_MODES[i % 3]!, overcommit: 1 + i }));
        const seen = cells.map(() => 0);
        for (let i = 1; i <= n; i++) for (const c of shardCells(cells, { index: i, count: n })) seen[c.index]!++;
        return seen.every((v) => v === 1);
      }),
      { numRuns: 200 },
    );
  });
  it('returns a copy of every cell without a shard', () => {
    const all = shardCells(grid, null);
    expect(all).toEqual(grid);
    expect(all).not.toBe(grid);
  });
  it('rejects an impossible shard', () => {
    expect(() => shardCells(grid, { index: 0, count: 3 })).toThrow(/1 <= i <= n/);
    expect(() => shardCells(grid, { index: 4, count: 3 })).toThrow(/1 <= i <= n/);
  });
});

describe('parseShard', () => {
  it('parses i/n', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
    expect(parseShard(' 3 / 3 ')).toEqual({ index: 3, count: 3 });
  });
  it.each([
    ['', /expected i\/n/],
    ['2', /expected i\/n/],
    ['a/b', /expected i\/n/],
    ['1/2/3', /expected i\/n/],
    ['-1/2', /expected i\/n/],
    ['1.5/2', /expected i\/n/],
    ['0/4', /between 1 and 4/],
    ['5/4', /between 1 and 4/],
    ['1/0', /at least 1/],
  ])('rejects %j with a one-line message', (s, re) => {
    let msg = '';
    try {
      parseShard(s);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(re);
    expect(msg).toMatch(/^--shard: /);
    expect(msg).not.toContain('\n');
  });
});

describe('list parsers', () => {
  it('parses modes and ratios', () => {
    expect(parseModes('notifier, pin,none')).toEqual(['notifier', 'pin', 'none']);
    expect(parseRatios('0.5,1,1.5,2,3')).toEqual([0.5, 1, 1.5, 2, 3]);
    expect(parseRatios('.5')).toEqual([0.5]);
    expect(parseList('--x', 'a')).toEqual(['a']);
  });
  it('rejects bad items with one-line messages naming the flag', () => {
    expect(() => parseModes('notifier,swap')).toThrow(/^--modes: unknown mode 'swap'/);
    expect(() => parseModes('pin,pin')).toThrow(/^--modes: 'pin' appears twice/);
    expect(() => parseModes('')).toThrow(/^--modes: empty item/);
    expect(() => parseRatios('1,,2')).toThrow(/^--overcommit: empty item/);
    expect(() => parseRatios('0')).toThrow(/^--overcommit: '0' is not a positive number/);
    expect(() => parseRatios('-1')).toThrow(/not a positive number/);
    expect(() => parseRatios('1e3')).toThrow(/not a positive number/);
    expect(() => parseRatios('abc')).toThrow(/not a positive number/);
    expect(() => parseRatios('1,1.0')).toThrow(/ratio 1 appears twice/);
  });
});

describe('row schema', () => {
  it('accepts a full row and names the first bad field', () => {
    const r = fakeRow({ cell: 0, mode: 'pin', overcommit: 1 });
    expect(swapRowProblem(JSON.parse(JSON.stringify(r)))).toBeNull();
    const { swap_outs: _, ...missing } = r;
    expect(swapRowProblem(missing)).toBe("field 'swap_outs' is missing");
    expect(swapRowProblem({ ...r, completed: 'yes' })).toMatch(/field 'completed' should be a boolean/);
    expect(swapRowProblem({ ...r, mode: 'fast' })).toMatch(/field 'mode' should be one of/);
    expect(swapRowProblem({ ...r, cell: 1.5 })).toMatch(/field 'cell' should be a non-negative integer/);
    expect(swapRowProblem({ ...r, bench: 'cpu' })).toMatch(/not a swap benchmark row/);
    expect(swapRowProblem([1])).toBe('not a JSON object');
  });
  it('writes JSON in schema order and keeps unknown keys', () => {
    const r = { ...fakeRow({ cell: 4, mode: 'none', overcommit: 2 }), extra_metric: 7 };
    const line = rowToJson(r);
    expect(line.endsWith('\n')).toBe(true);
    const keys = Object.keys(JSON.parse(line));
    expect(keys[0]).toBe('bench');
    expect(keys[keys.length - 1]).toBe('extra_metric');
    expect(JSON.parse(line)).toEqual(r);
  });
});

describe('formatTable', () => {
  it('aligns every column and explains them', () => {
    const rows = storyRows();
    const t = formatTable(rows);
    const lines = t.split('\n');
    const headAt = lines.findIndex((l) => l.startsWith('cell'));
    expect(headAt).toBeGreaterThan(0);
    expect(t).toContain('3 VMs x 16 MiB, 64 MiB swap, KSM off, 1000000 instructions per VM, seed 1');
    expect(t).toMatch(/\n  stale +accesses to a freed or replaced frame/);
    const body = lines.slice(headAt, headAt + 1 + rows.length);
    expect(body).toHaveLength(16);
    // Right-aligned numeric columns: the last column ('oom') ends at the same position everywhere.
    const ends = new Set(body.map((l) => l.length));
    expect(ends.size).toBe(1);
    // Column boundaries: the 'speed' header's end lines up with every value's end.
    const speedEnd = body[0]!.indexOf('speed') + 'speed'.length;
    for (const l of body.slice(1)) expect(l.slice(speedEnd - 4, speedEnd)).toMatch(/^\d\.\d\d$/);
    expect(body[1]).toMatch(/^ +0  notifier +0\.5  yes +ok +1\.00 /);
    const pinRow = body.find((l) => / pin +3 /.test(l))!;
    expect(pinRow).toMatch(/NO +oom-killed/);
    expect(lines[lines.length - 1]).toBe('');
  });
  it('handles no rows and mixed sweeps', () => {
    expect(formatTable([])).toMatch(/^swap benchmark: 0 cells\n/);
    const mixed = [fakeRow({ cell: 0, mode: 'pin', overcommit: 1 }), fakeRow({ cell: 1, mode: 'pin', overcommit: 2, seed: 9 })];
    expect(formatTable(mixed).split('\n')[0]).toBe('swap benchmark: 2 cells');
  });
});
