// `shadowvisor bench [NAME|all] [options]`: dispatch to the benchmark modules registered in
// bench/index.ts. Options after NAME belong to that benchmark (`bench cpu --help`).

import { BENCHES } from '../../bench/index.js';
import { main as mergeMain } from '../../bench/merge.js';
import { UsageError } from './args.js';
import { processOut, writeStdout } from './output.js';

export const BENCH_HELP = `Usage: shadowvisor bench [NAME|all] [options]

Run one benchmark, or all of them in order (the default). Options are passed to each benchmark;
'shadowvisor bench NAME --help' lists them.

Benchmarks:
${BENCHES.map((b) => `  ${b.name.padEnd(8)} ${b.summary}`).join('\n')}
  all      every benchmark above
  merge    combine the JSON-lines outputs of sharded 'bench swap --shard i/n --json' runs
`;

export async function benchCommand(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '-h' || first === '--help') {
    writeStdout(BENCH_HELP);
    return 0;
  }
  const named = first !== undefined && !first.startsWith('-');
  const name = named ? first : 'all';
  const rest = named ? argv.slice(1) : argv;
  if (name === 'merge') return mergeMain(rest, processOut);
  if (name === 'all') {
    // Each benchmark would refuse a stray word on its own line; one line says what was meant.
    const stray = rest.find((a) => !a.startsWith('-'));
    if (stray !== undefined && BENCHES.some((b) => b.name === stray)) {
      throw new UsageError(`bench all: '${stray}' is a benchmark: name it first ('bench ${stray} ...')`);
    }
    let status = 0;
    for (const b of BENCHES) {
      const s = await b.main(rest, processOut);
      if (s !== 0) status = s;
    }
    return status;
  }
  const bench = BENCHES.find((b) => b.name === name);
  if (bench === undefined) {
    throw new UsageError(`bench: unknown benchmark '${name}' (${BENCHES.map((b) => b.name).join(', ')}, all)`);
  }
  return bench.main(rest, processOut);
}
