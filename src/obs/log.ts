// The engine's logger interface. The engine never imports pino (it must also run in a browser
// page or a worker with no node: modules); the CLI injects a pino logger, tests and pages pass
// `nullLogger` or their own. Hot paths never log: cache `log.enabled(level)` outside them.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Whether a call at `level` would be written; cache the answer outside loops. */
  enabled(level: LogLevel): boolean;
}

const noop = (): void => {};

export const nullLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  enabled: () => false,
};
