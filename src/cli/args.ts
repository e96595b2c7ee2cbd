// Command-line argument helpers shared by the commands and the benchmarks (the one vocabulary of
// the command line): node:util parseArgs wrapped so every mistake becomes a UsageError (one line,
// exit status 2), and the SIZE / count parsers every flag goes through.

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command line: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `--flag -5` -> `--flag=-5` for flags that take a value: node's parseArgs refuses a value that
 * starts with '-' as "ambiguous", which tells the user nothing; joined, the value reaches the
 * flag's own parser, whose message says what is wrong with it.
 */
export function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)$/.exec(a);
    const next = argv[i + 1];
    if (m !== null && options[m[1]!]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** parseArgs in strict mode, with its exceptions turned into one-line UsageErrors. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    throw new UsageError(`${command}: ${msg.replace(/\. To specify a positional argument.*$/, '')} (try 'shadowvisor ${command} --help')`);
  }
}

const SUFFIX: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export interface SizeLimits {
  min?: number;
  max?: number;
  /** The size must be a multiple of this (4096 for memory sizes). */
  multiple?: number;
}

/** A human-readable size for error messages: 65536 -> "64K", 2147483648 -> "2G". */
export function formatSize(bytes: number): string {
  for (const [s, v] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= v && bytes % v === 0) return `${bytes / v}${s}`;
  }
  return String(bytes);
}

/** "64M", "64MiB", "64MB", "65536K", "1G", "67108864" -> bytes (binary units throughout). */
export function parseSize(flag: string, text: string, limits: SizeLimits = {}): number {
  const m = /^(\d+)([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (m === null) {
    const neg = /^\s*-/.test(text) ? 'a size cannot be negative; ' : '';
    throw new UsageError(`${flag}: bad size '${text}' (${neg}expected a number with an optional K, M or G suffix)`);
  }
  const v = Number(m[1]) * SUFFIX[m[2]!.toUpperCase()]!;
  const { min = 0, max = Number.MAX_SAFE_INTEGER, multiple = 1 } = limits;
  if (!Number.isSafeInteger(v) || v < min || v > max || v % multiple !== 0) {
    const range = `${formatSize(min)} to ${formatSize(max)}`;
    throw new UsageError(`${flag}: ${text} is out of range (${range}${multiple > 1 ? `, a multiple of ${formatSize(multiple)}` : ''})`);
  }
  return v;
}

/** A non-negative decimal (or 0x hex) integer that fits a double exactly, optionally in [min, max]. */
export function parseCount(flag: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const t = text.trim().replace(/_/g, '');
  const v = /^\d+$/.test(t) ? Number(t) : /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : Number.NaN;
  if (!Number.isSafeInteger(v)) {
    const neg = /^-/.test(t) ? ' (negative numbers are not allowed)' : '';
    throw new UsageError(`${flag}: expected a non-negative integer, got '${text}'${neg}`);
  }
  if (v < min || v > max) throw new UsageError(`${flag}: expected ${min} to ${max}, got '${text}'`);
  return v;
}
