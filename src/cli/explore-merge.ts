// `explore --merge FILE...`: the --json run lines of shards (or of --jobs processes) combined into
// the summaries one process running every seed would print.

import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { writeStdout } from './output.js';
import type { RunReport } from '../sim/explore/explorer.js';
import { summarize } from '../sim/explore/summary.js';

export function mergeCommand(files: string[], json: boolean): number {
  if (files.length === 0) throw new UsageError('explore: --merge needs at least one FILE (or - for stdin)');
  const reports: RunReport[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (e) {
      throw new UsageError(`explore: --merge: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let o: { type?: string } & Partial<RunReport>;
      try {
        o = JSON.parse(line) as typeof o;
      } catch {
        throw new UsageError(`explore: --merge: ${f}:${i + 1}: not JSON`);
      }
      if (o.type !== 'run') return;
      if (typeof o.scenario !== 'string' || typeof o.seed !== 'number' || typeof o.failed !== 'boolean') {
        throw new UsageError(`explore: --merge: ${f}:${i + 1}: not a run object`);
      }
      reports.push(o as RunReport);
    });
  }
  const sums = summarize(reports);
  for (const s of sums) {
    if (json) writeStdout(JSON.stringify(s) + '\n');
    else writeStdout(`${s.scenario}${s.inject === '' ? '' : ` + ${s.inject}`} (${s.scheduler}): ${s.runs} runs, ${s.failures} failing${s.firstFailingSeed >= 0 ? `; first at seed ${s.firstFailingSeed}: ${s.firstChecker}; schedule ${s.firstSchedule}` : ''}\n`);
  }
  return sums.some((s) => s.failures > 0) ? 1 : 0;
}
