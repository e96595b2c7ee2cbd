// Command-line parsing shared by the benchmarks: node:util parseArgs in strict mode, where a bad
// flag is one line on stderr with exit status 2 and --help prints the benchmark's help. Values are
// read by the CLI's parsers (src/cli/args.ts), the one vocabulary of sizes and counts.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { BenchOut } from './index.js';
import { joinNegativeValues } from '../src/cli/args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The parsed values, or the exit status to return at once (0 after --help, 2 on a bad flag). */
export function parseBenchArgs<O extends Options>(name: string, argv: string[], options: O, help: string, out: BenchOut) {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), strict: true, allowPositionals: false, options: { ...options, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    out.stderr(`shadowvisor: bench ${name}: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    out.stdout(help);
    return 0;
  }
  return parsed.values as { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
}
