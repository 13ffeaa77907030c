/** Flag parsing shared by the subcommands: node:util parseArgs in strict mode, errors as BAD_ARGUMENT. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EdgeloopError } from '../src/errors.ts';
import { parseTimestamp } from '../src/time/parse-timestamp.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  config: { type: 'string' },
  db: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new EdgeloopError('BAD_ARGUMENT', `${(err as Error).message}\nusage: ${usage}`);
  }
}

export function requireFlag(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === '') throw new EdgeloopError('BAD_ARGUMENT', `--${flag} is required\nusage: ${usage}`);
  return value;
}

export function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new EdgeloopError('BAD_ARGUMENT', `--${flag} ${JSON.stringify(value)} must be an integer in ${min}..${max}`);
  return n;
}

/** "100", "100/s" → 100 messages per second. */
export function rateFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(value);
  if (!m || !(Number(m[1]) > 0)) throw new EdgeloopError('BAD_ARGUMENT', `--rate ${JSON.stringify(value)} must be a positive number of messages per second, e.g. 100/s`);
  return Number(m[1]);
}

export function timeFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseTimestamp(value, { format: 'auto' });
  } catch (err) {
    throw new EdgeloopError('BAD_ARGUMENT', `--${flag}: ${(err as Error).message}`);
  }
}
