// `shadowvisor bench merge FILE...`: combines the JSON-lines outputs of `bench swap --shard i/n`
// runs into one grid (checked, de-duplicated by cell, sorted), printed as the table or JSON lines,
// optionally with the HTML report. Mirrors the merge step of vitest/playwright sharding.

import { parseArgs } from 'node:util';
import { UsageError, joinNegativeValues } from '../src/cli/args.js';
import { preparePageDir } from '../src/cli/html-file.js';
import { readCapped } from '../src/cli/input-file.js';
import type { BenchOut } from './index.js';
import { renderReport, writeReport } from './swap-report.js';
import { WALL_CLOCK_FIELDS, formatTable, rowToJson, swapRowProblem, type SwapRow } from './swap-rows.js';

const HELP = `Usage: shadowvisor bench merge FILE... [--report DIR] [--json]

Combine the JSON-lines outputs of 'shadowvisor bench swap --json --shard i/n' runs into one grid:
rows are checked, de-duplicated by cell and sorted by cell. A cell present twice must agree on
everything except the wall-clock fields (${WALL_CLOCK_FIELDS.join(', ')}); the first copy is kept.
FILE '-' reads standard input.

Options:
  --report DIR   also write DIR/index.html, the self-contained HTML report
  --json         print the merged rows as JSON lines instead of the table
  -h, --help     show this help
`;

/** Shard outputs are a few KiB per cell; anything this large is not one. */
const MAX_MERGE_INPUT = 64 * 1024 * 1024;

/** A merge input that cannot be used: printed as one line, exit status 2. */
export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

/** The fields two copies of a cell must agree on, as a comparable string. */
function identity(row: SwapRow): string {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(row).sort()) if (!(WALL_CLOCK_FIELDS as readonly string[]).includes(k)) o[k] = (row as unknown as Record<string, unknown>)[k];
  return JSON.stringify(o);
}

/**
 * Parses and merges shard outputs. Blank lines are skipped; a line that is not a valid SwapRow
 * throws a MergeError naming `file:line`; the same cell twice with different content (other than
 * wall-clock timing) throws. Returns the rows sorted by cell.
 */
export function mergeRows(inputs: { name: string; text: string }[]): SwapRow[] {
  const byCell = new Map<number, { row: SwapRow; where: string; id: string }>();
  for (const { name, text } of inputs) {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const where = `${name}:${i + 1}`;
      // Never echo the input: a binary file's bytes would garble the terminal.
      if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(line)) throw new MergeError(`${where}: binary data, not a JSON line (is this a 'bench swap --json' output?)`);
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new MergeError(`${where}: not valid JSON (expected one 'bench swap --json' row per line)`);
      }
      const problem = swapRowProblem(v);
      if (problem !== null) throw new MergeError(`${where}: ${problem}`);
      const row = v as SwapRow;
      const id = identity(row);
      const seen = byCell.get(row.cell);
      if (seen === undefined) {
        byCell.set(row.cell, { row, where, id });
      } else if (seen.id !== id) {
        throw new MergeError(
          `${where}: cell ${row.cell} (${row.mode} x${row.overcommit}) differs from the same cell at ${seen.where} (${seen.row.mode} x${seen.row.overcommit}); were these shards run with different options?`,
        );
      }
    }
  }
  return [...byCell.values()].map((e) => e.row).sort((a, b) => a.cell - b.cell);
}

/** Cell indices below the largest one seen that no input held: a shard left out or cut short. */
export function missingCells(rows: SwapRow[]): number[] {
  const have = new Set(rows.map((r) => r.cell));
  const max = rows.reduce((m, r) => Math.max(m, r.cell), -1);
  const missing: number[] = [];
  for (let c = 0; c < max; c++) if (!have.has(c)) missing.push(c);
  return missing;
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(argv, { report: { type: 'string' } }),
      strict: true,
      allowPositionals: true,
      options: {
        report: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    out.stderr(`shadowvisor: bench merge: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if (values.help) {
    out.stdout(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    out.stderr(`shadowvisor: bench merge: no input files (try 'shadowvisor bench merge --help')\n`);
    return 2;
  }
  if (values.report !== undefined) {
    try {
      preparePageDir(values.report, '--report');
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      out.stderr(`shadowvisor: bench merge: ${e.message}\n`);
      return 2;
    }
  }
  const inputs: { name: string; text: string }[] = [];
  for (const name of positionals) {
    try {
      inputs.push({ name, text: new TextDecoder().decode(readCapped('input', name === '-' ? 0 : name, MAX_MERGE_INPUT)) });
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      out.stderr(`shadowvisor: bench merge: ${e.message}\n`);
      return 2;
    }
  }
  let rows: SwapRow[];
  try {
    rows = mergeRows(inputs);
  } catch (e) {
    if (!(e instanceof MergeError)) throw e;
    out.stderr(`shadowvisor: bench merge: ${e.message}\n`);
    return 2;
  }
  const missing = missingCells(rows);
  const interrupted = rows.filter((r) => r.outcome === 'interrupted').length;
  if (missing.length > 0) {
    const list = missing.length > 12 ? `${missing.slice(0, 12).join(', ')}, ... (${missing.length} in all)` : missing.join(', ');
    out.stderr(`shadowvisor: bench merge: warning: cells missing from the inputs: ${list}\n`);
  }
  if (rows.length === 0) out.stderr('shadowvisor: bench merge: warning: the inputs hold no rows\n');

  if (values.json) for (const r of rows) out.stdout(rowToJson(r));
  else out.stdout(formatTable(rows));

  if (values.report !== undefined) {
    const html = renderReport(rows, {
      title: 'shadowvisor swap benchmark',
      command: ['shadowvisor', 'bench', 'merge', ...argv].join(' '),
      partial: missing.length > 0 || interrupted > 0 || rows.length === 0,
      generatedBy: `shadowvisor bench merge of ${inputs.length} input${inputs.length === 1 ? '' : 's'}`,
    });
    try {
      const path = writeReport(values.report, html);
      out.stderr(`report: ${path}\n`);
    } catch (e) {
      out.stderr(`shadowvisor: bench merge: cannot write the report to '${values.report}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
      return 1;
    }
  }
  return 0;
}
