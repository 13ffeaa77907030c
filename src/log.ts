/**
 * An injected, namespaced logger. Library code never calls console; it receives a Logger.
 * Messages may be given as thunks so hot paths pay nothing when the level is off.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogMessage = string | (() => string);

export interface Logger {
  debug(msg: LogMessage, fields?: Record<string, unknown>): void;
  info(msg: LogMessage, fields?: Record<string, unknown>): void;
  warn(msg: LogMessage, fields?: Record<string, unknown>): void;
  error(msg: LogMessage, fields?: Record<string, unknown>): void;
  child(namespace: string): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LogSink {
  (line: string): void;
}

/** A logger writing one line per record to `sink` (the CLI passes process.stderr). */
export function createLogger(options: { level?: LogLevel; namespace?: string; sink: LogSink; json?: boolean; now?: () => number }): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const now = options.now ?? Date.now;
  const make = (ns: string): Logger => {
    const emit = (level: Exclude<LogLevel, 'silent'>, msg: LogMessage, fields?: Record<string, unknown>): void => {
      if (LEVELS[level] < threshold) return;
      const text = typeof msg === 'function' ? msg() : msg;
      if (options.json) {
        options.sink(JSON.stringify({ t: new Date(now()).toISOString(), level, ns, msg: text, ...fields }));
      } else {
        const extra = fields && Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : '';
        options.sink(`${new Date(now()).toISOString()} ${level.padEnd(5)} [${ns}] ${text}${extra}`);
      }
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (sub) => make(ns ? `${ns}:${sub}` : sub),
    };
  };
  return make(options.namespace ?? 'edgeloop');
}

/** A logger that discards everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
