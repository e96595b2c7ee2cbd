// `shadowvisor bench explore`: how good the schedule explorer is at its job. For every bug of the
// catalogue and every scheduler (random, pct; dfs, which is deterministic, once): runs until the
// first detection over many explorer seeds (median and worst), the shrunk schedule's size; the
// performance bug's extra swap-ins and the control's saved refaults against the clean runs; and
// clean runs per second of every scenario. A table, JSON lines, and an HTML page with a plot.
// Goals (issue 8): pct catches every correctness bug within 100 runs; >= 1,000 clean runs/s on
// a small scenario on one core.

import { parseBenchArgs } from './args.js';
import type { BenchOut } from './index.js';
import { preparePageDir, writePage } from '../src/cli/html-file.js';
import { decodeSchedule, encodeSchedule } from '../src/sim/choice.js';
import { BUGS, type Bug } from '../src/sim/explore/bugs.js';
import { explore, type SchedulerName } from '../src/sim/explore/explorer.js';
import { findScenario, SCENARIOS } from '../src/sim/explore/scenarios.js';
import { shrinkSchedule } from '../src/sim/explore/shrink.js';

const HELP = `Usage: shadowvisor bench explore [options]

Measures the schedule explorer: runs to the first detection of every catalogued bug per
scheduler (median and worst over explorer seeds), the shrunk schedule's size, the performance
bug's extra swap-ins, the control's saved refaults, and clean runs per second per scenario.

Options:
  --explorer-seeds N  independent searches per bug and scheduler (default 20)
  --budget N          runs per search before giving up (default 300)
  --clean-runs N      clean runs per scenario for the rate (default 400)
  --html DIR          also write DIR/index.html (table and plot)
  --json              one JSON object per line instead of a table
  -h, --help          show this help
`;

export interface DetectRow {
  kind: 'detect';
  bug: string;
  scenario: string;
  scheduler: SchedulerName;
  searches: number;
  found: number;
  medianRuns: number | null;
  worstRuns: number | null;
  /** Shrunk schedule: choice points and string length (pct's first find). */
  shrunkLength: number | null;
  shrunkPreemptions: number | null;
  schedule: string | null;
}

export interface CompareRow {
  kind: 'compare';
  bug: string;
  bugKind: 'performance' | 'control';
  scenario: string;
  runs: number;
  failures: number;
  swapIns: number;
  cleanSwapIns: number;
  faults: number;
  cleanFaults: number;
}

export interface RateRow {
  kind: 'rate';
  scenario: string;
  runs: number;
  failures: number;
  seconds: number;
  runsPerSecond: number;
}

type Row = DetectRow | CompareRow | RateRow;

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s[(s.length - 1) >> 1]!;
  return Number.isFinite(m) ? m : null;
}

function detect(bug: Bug, scheduler: SchedulerName, searches: number, budget: number): DetectRow {
  const scenario = findScenario(bug.scenario)!;
  const found: number[] = [];
  let firstSchedule: string | null = null;
  let firstChecker: string | null = null;
  const n = scheduler === 'dfs' ? 1 : searches;
  for (let i = 0; i < n; i++) {
    const base = i * 1_000_003 + 1;
    const s = explore({ scenario, bug, scheduler, seedFrom: base, seedTo: base + budget - 1, stopAtFirst: true, preemptionBound: 3 });
    if (s.first !== null) {
      found.push(s.firstAt);
      if (firstSchedule === null) {
        firstSchedule = s.first.schedule;
        firstChecker = s.first.checker;
      }
    }
  }
  let shrunkLength: number | null = null;
  let shrunkPreemptions: number | null = null;
  let schedule: string | null = null;
  if (firstSchedule !== null) {
    const sh = shrinkSchedule(scenario, bug, decodeSchedule(firstSchedule).picks, firstChecker!);
    shrunkLength = sh.after.length;
    shrunkPreemptions = sh.after.preemptions;
    schedule = encodeSchedule({ scenario: scenario.name, inject: bug.name, picks: sh.picks });
  }
  return {
    kind: 'detect', bug: bug.name, scenario: scenario.name, scheduler, searches: n, found: found.length,
    // A search that used its whole budget counts as "more than the budget": the median stays
    // defined while fewer than half of the searches missed; the worst does not.
    medianRuns: median([...found, ...new Array<number>(n - found.length).fill(Infinity)]),
    worstRuns: found.length === n ? Math.max(...found) : null,
    shrunkLength, shrunkPreemptions, schedule,
  };
}

function compare(bug: Bug, runs: number): CompareRow {
  const scenario = findScenario(bug.scenario)!;
  const withBug = explore({ scenario, bug, scheduler: 'random', seedFrom: 1, seedTo: runs });
  const clean = explore({ scenario, bug: null, scheduler: 'random', seedFrom: 1, seedTo: runs });
  return {
    kind: 'compare', bug: bug.name, bugKind: bug.kind as 'performance' | 'control', scenario: scenario.name, runs,
    failures: withBug.failures + clean.failures, swapIns: withBug.swapIns, cleanSwapIns: clean.swapIns, faults: withBug.faults, cleanFaults: clean.faults,
  };
}

function rate(name: string, runs: number): RateRow {
  const scenario = findScenario(name)!;
  explore({ scenario, bug: null, scheduler: 'random', seedFrom: 1, seedTo: 20 }); // warm-up
  const t0 = performance.now();
  const s = explore({ scenario, bug: null, scheduler: 'random', seedFrom: 1, seedTo: runs });
  const seconds = (performance.now() - t0) / 1000;
  return { kind: 'rate', scenario: name, runs, failures: s.failures, seconds: Number(seconds.toFixed(3)), runsPerSecond: Math.round(runs / seconds) };
}

const cell = (v: number | null): string => (v === null ? 'not found' : String(v));

export function formatTable(rows: Row[], budget: number): string {
  const lines: string[] = [];
  lines.push(`runs to first detection (median / worst; "not found": some search used all ${budget} runs)`);
  lines.push(`${'bug'.padEnd(34)} ${'scenario'.padEnd(15)} ${'sched'.padEnd(6)} ${'found'.padStart(7)} ${'median'.padStart(9)} ${'worst'.padStart(9)}  shrunk (choice points, preemptions)`);
  for (const r of rows) {
    if (r.kind !== 'detect') continue;
    lines.push(`${r.bug.padEnd(34)} ${r.scenario.padEnd(15)} ${r.scheduler.padEnd(6)} ${`${r.found}/${r.searches}`.padStart(7)} ${cell(r.medianRuns).padStart(9)} ${cell(r.worstRuns).padStart(9)}  ${r.shrunkLength === null ? '-' : `${r.shrunkLength}, ${r.shrunkPreemptions}`}`);
  }
  lines.push('');
  lines.push('performance bug and control, against the same seeds without the injection (random)');
  for (const r of rows) {
    if (r.kind !== 'compare') continue;
    lines.push(`${r.bug.padEnd(40)} ${r.bugKind.padEnd(12)} ${r.runs} runs, ${r.failures} failing; swap-ins ${r.swapIns} vs ${r.cleanSwapIns}; guest faults ${r.faults} vs ${r.cleanFaults}`);
  }
  lines.push('');
  lines.push('clean runs per second (random, checkers after every step, one core)');
  for (const r of rows) {
    if (r.kind !== 'rate') continue;
    lines.push(`${r.scenario.padEnd(16)} ${String(r.runs).padStart(6)} runs  ${String(r.failures).padStart(3)} failing  ${String(r.runsPerSecond).padStart(6)} runs/s`);
  }
  return lines.join('\n') + '\n';
}

export function renderHtml(rows: Row[], budget: number): string {
  const det = rows.filter((r): r is DetectRow => r.kind === 'detect' && r.scheduler !== 'dfs');
  const bugs = [...new Set(det.map((r) => r.bug))];
  const W = 760;
  const rowH = 26;
  const left = 300;
  const scale = (v: number): number => ((W - left - 20) * Math.log10(1 + v)) / Math.log10(1 + budget);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${bugs.length * rowH + 40}" font-family="sans-serif" font-size="12">`;
  bugs.forEach((b, i) => {
    const y = 20 + i * rowH;
    svg += `<text x="4" y="${y + 12}">${b}</text>`;
    (['random', 'pct'] as const).forEach((s, k) => {
      const r = det.find((x) => x.bug === b && x.scheduler === s);
      const v = r?.medianRuns ?? budget;
      const w = scale(v);
      const color = s === 'pct' ? '#3a6ea5' : '#c77c2e';
      svg += `<rect x="${left}" y="${y + k * 11}" width="${w.toFixed(1)}" height="10" fill="${color}"><title>${s}: median ${cell(r?.medianRuns ?? null)}, worst ${cell(r?.worstRuns ?? null)}</title></rect>`;
      svg += `<text x="${left + w + 4}" y="${y + k * 11 + 9}" font-size="10">${cell(r?.medianRuns ?? null)}</text>`;
    });
  });
  svg += `<text x="${left}" y="${bugs.length * rowH + 34}" font-size="11">median runs to first detection (log scale; orange random, blue pct)</text></svg>`;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<!doctype html><html><head><meta charset="utf-8"><title>shadowvisor bench explore</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head>
<body><h1>bench explore</h1><p>Runs until the first detection of each catalogued bug, per scheduler; the shrunk schedule;
the performance bug and the control against clean runs; clean runs per second.</p>${svg}<pre>${esc(formatTable(rows, budget))}</pre></body></html>\n`;
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const v = parseBenchArgs('explore', argv, {
    'explorer-seeds': { type: 'string' }, budget: { type: 'string' }, 'clean-runs': { type: 'string' }, html: { type: 'string' }, json: { type: 'boolean' },
  }, HELP, out);
  if (typeof v === 'number') return v;
  const num = (name: string, text: string | undefined, dflt: number, max: number): number | null => {
    if (text === undefined) return dflt;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      out.stderr(`shadowvisor: bench explore: --${name}: expected 1 to ${max}, got '${text}'\n`);
      return null;
    }
    return n;
  };
  const searches = num('explorer-seeds', v['explorer-seeds'], 20, 10_000);
  const budget = num('budget', v.budget, 300, 1_000_000);
  const cleanRuns = num('clean-runs', v['clean-runs'], 400, 10_000_000);
  if (searches === null || budget === null || cleanRuns === null) return 2;
  if (v.html !== undefined) preparePageDir(v.html, 'bench explore: --html');
  const rows: Row[] = [];
  const emit = (r: Row): void => {
    rows.push(r);
    if (v.json === true) out.stdout(JSON.stringify(r) + '\n');
  };
  for (const bug of BUGS) {
    if (bug.kind === 'correctness') {
      for (const s of ['random', 'pct', 'dfs'] as const) {
        out.stderr(`bench explore: ${bug.name} / ${s}\n`);
        emit(detect(bug, s, searches, budget));
      }
    } else {
      out.stderr(`bench explore: ${bug.name} against clean runs\n`);
      emit(compare(bug, Math.max(20, searches)));
    }
  }
  for (const s of SCENARIOS) {
    out.stderr(`bench explore: clean rate of ${s.name}\n`);
    emit(rate(s.name, cleanRuns));
  }
  if (v.json !== true) out.stdout(formatTable(rows, budget));
  if (v.html !== undefined) out.stderr(`bench explore: wrote ${writePage(v.html, renderHtml(rows, budget), 'bench explore: --html')}\n`);
  // Self-checks: no clean run failed, the control found nothing, and pct caught every correctness bug.
  const bad = rows.some((r) => (r.kind === 'rate' && r.failures > 0) || (r.kind === 'compare' && r.failures > 0)
    || (r.kind === 'detect' && r.scheduler === 'pct' && (r.medianRuns === null || r.medianRuns > 100)));
  return bad ? 1 : 0;
}
