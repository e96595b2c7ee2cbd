// The CLI's Logger: pino writing to stderr (pino-pretty in-process when stderr is a terminal),
// adapted to the engine's Logger interface from src/obs/log.ts. Lives in cli/ because the engine
// must not import pino. Broken pipes on stderr are swallowed: logging never kills a run.

import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger, LogLevel } from '../obs/log.js';
import { UsageError } from './args.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type CliLogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(text: string | undefined): CliLogLevel {
  const level = (text ?? 'warn') as CliLogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got '${text}'`);
  }
  return level;
}

export function createLogger(level: CliLogLevel): Logger {
  const human = process.stderr.isTTY === true;
  const stream = human ? pretty({ sync: true, destination: 2 }) : pino.destination({ dest: 2, sync: true });
  (stream as NodeJS.EventEmitter).on('error', () => {});
  const p = pino({ level, base: undefined }, stream);
  return {
    trace: (o, m) => p.trace(o, m),
    debug: (o, m) => p.debug(o, m),
    info: (o, m) => p.info(o, m),
    warn: (o, m) => p.warn(o, m),
    error: (o, m) => p.error(o, m),
    enabled: (l: LogLevel) => p.isLevelEnabled(l),
  };
}
