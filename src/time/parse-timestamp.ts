/**
 * One timestamp parser for the gateway (incoming telemetry) and the cleaning pipeline (string time
 * columns). Every accepted input becomes integer epoch milliseconds UTC; everything else is a
 * BAD_TIMESTAMP error that says what was wrong, so a bad reading is quarantined with a reason.
 */
import { EdgeloopError } from '../errors.ts';
import { assertTimeZone, wallTimeToUtcMs } from './time-zone.ts';

export type TimestampFormat = 'auto' | 'iso' | 'epoch-s' | 'epoch-ms' | 'local';

export interface ParseTimestampOptions {
  /** How to read the input; see {@link parseTimestamp}. Default 'auto'. */
  format?: TimestampFormat;
  /** IANA zone for wall-clock times without an offset. Default 'UTC' for 'local' and 'auto'; none for 'iso'. */
  timeZone?: string;
}

/** Accepted instants: 1970-01-01T00:00:00Z ..= 2200-01-01T00:00:00Z. Sensor clocks outside that are broken. */
export const MIN_TIMESTAMP_MS = 0;
export const MAX_TIMESTAMP_MS = Date.UTC(2200, 0, 1);
/** In 'auto', numbers at or above this are epoch ms, below are epoch s (1e11 s is year 5138; 1e11 ms is 1973). */
export const AUTO_EPOCH_MS_THRESHOLD = 1e11;

const RANGE_TEXT = '1970-01-01T00:00:00Z..2200-01-01T00:00:00Z';

// Date, then optionally a time (T, or a space as RFC 3339 permits) with optional seconds and
// fraction, then optionally Z or ±hh:mm. Anchored both ends so trailing junk never parses.
const DATE_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const NUMERIC_RE = /^-?\d+(?:\.\d+)?$/;

interface DateTimeParts {
  wallMs: number;
  hasTime: boolean;
  /** Offset from UTC in ms when the text carries one (Z is 0). */
  offsetMs: number | undefined;
}

/**
 * Parse a timestamp to epoch milliseconds UTC (always an integer; sub-millisecond digits are truncated,
 * epoch seconds are rounded to the nearest millisecond). Surrounding whitespace in strings is ignored.
 *
 * Formats:
 * - `'iso'`: `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm[:ss[.fff]]` followed by `Z` or `±hh:mm`. A date-time
 *   without an offset is rejected unless `timeZone` is given (then it is read in that zone). A bare date
 *   is midnight UTC, or midnight in `timeZone` when given.
 * - `'local'`: `YYYY-MM-DD hh:mm[:ss[.fff]]` (space or T, no offset) read as wall-clock time in `timeZone`
 *   (default 'UTC'), DST-aware: ambiguous times take the first occurrence, times in a spring-forward gap
 *   are read with the pre-gap offset (Python zoneinfo fold=0).
 * - `'epoch-s'` / `'epoch-ms'`: a finite number or a plain decimal string.
 * - `'auto'` (default): numbers ≥ 1e11 are epoch ms, smaller are epoch s; strings are tried as ISO with an
 *   offset, then as local time in `timeZone` (default UTC), then as a numeric epoch like numbers.
 *
 * @throws EdgeloopError BAD_TIMESTAMP for malformed text, impossible dates ('2015-02-30'), NaN/Infinity,
 *   or instants outside 1970-01-01..2200-01-01; BAD_ARGUMENT for an unknown format or time zone.
 */
export function parseTimestamp(input: string | number, options: ParseTimestampOptions = {}): number {
  const format = options.format ?? 'auto';
  if (options.timeZone !== undefined) assertTimeZone(options.timeZone);
  switch (format) {
    case 'epoch-s':
      return fromEpoch(toEpochNumber(input, format) * 1000, input);
    case 'epoch-ms':
      return fromEpoch(toEpochNumber(input, format), input);
    case 'iso':
      return parseIso(expectString(input, format), options.timeZone);
    case 'local':
      return parseLocal(expectString(input, format), options.timeZone ?? 'UTC');
    case 'auto':
      return parseAuto(input, options.timeZone ?? 'UTC');
    default: {
      const never: never = format;
      throw new EdgeloopError('BAD_ARGUMENT', `format '${String(never)}' is not one of 'auto', 'iso', 'epoch-s', 'epoch-ms', 'local'`);
    }
  }
}

function parseAuto(input: string | number, timeZone: string): number {
  if (typeof input === 'number') {
    const n = finiteNumber(input);
    return fromEpoch(Math.abs(n) >= AUTO_EPOCH_MS_THRESHOLD ? n : n * 1000, input);
  }
  const text = input.trim();
  if (NUMERIC_RE.test(text)) return parseAuto(Number(text), timeZone);
  const parts = splitDateTime(text);
  if (parts.offsetMs !== undefined) return inRange(parts.wallMs - parts.offsetMs, input);
  return inRange(wallTimeToUtcMs(parts.wallMs, timeZone), input);
}

function parseIso(text: string, timeZone: string | undefined): number {
  const parts = splitDateTime(text);
  if (parts.offsetMs !== undefined) return inRange(parts.wallMs - parts.offsetMs, text);
  if (timeZone !== undefined) return inRange(wallTimeToUtcMs(parts.wallMs, timeZone), text);
  if (parts.hasTime) {
    throw bad(text, "an ISO date-time needs an offset ('Z' or '±hh:mm') unless options.timeZone is given");
  }
  return inRange(parts.wallMs, text);
}

function parseLocal(text: string, timeZone: string): number {
  const parts = splitDateTime(text);
  if (parts.offsetMs !== undefined) {
    throw bad(text, "format 'local' expects 'YYYY-MM-DD hh:mm:ss' without an offset; use format 'iso' or 'auto' for offsets");
  }
  if (!parts.hasTime) throw bad(text, "format 'local' expects 'YYYY-MM-DD hh:mm:ss' (the time of day is missing)");
  return inRange(wallTimeToUtcMs(parts.wallMs, timeZone), text);
}

function splitDateTime(text: string): DateTimeParts {
  const m = DATE_TIME_RE.exec(text);
  if (m === null) {
    throw bad(text, "expected 'YYYY-MM-DD', 'YYYY-MM-DD hh:mm:ss[.fff]' or 'YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)' with nothing after it");
  }
  const [, ys, mos, ds, hs, mis, ss, frac, zone] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  if (month < 1 || month > 12) throw bad(text, `month ${mos} is outside 01..12`);
  const dim = daysInMonth(year, month);
  if (day < 1 || day > dim) throw bad(text, `day ${ds} is outside 01..${dim} for ${ys}-${mos}`);
  const hour = hs === undefined ? 0 : Number(hs);
  const minute = mis === undefined ? 0 : Number(mis);
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23) throw bad(text, `hour ${hs} is outside 00..23`);
  if (minute > 59) throw bad(text, `minute ${mis} is outside 00..59`);
  if (second > 59) throw bad(text, `second ${ss} is outside 00..59 (leap seconds are not accepted)`);
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  return {
    wallMs: Date.UTC(year, month - 1, day, hour, minute, second, ms),
    hasTime: hs !== undefined,
    offsetMs: zone === undefined ? undefined : parseOffset(zone, text),
  };
}

function parseOffset(zone: string, text: string): number {
  if (zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 23 || minutes > 59) throw bad(text, `offset ${zone} is outside -23:59..+23:59`);
  return sign * (hours * 60 + minutes) * 60_000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function toEpochNumber(input: string | number, format: TimestampFormat): number {
  if (typeof input === 'number') return finiteNumber(input);
  const text = input.trim();
  if (!NUMERIC_RE.test(text)) throw bad(input, `format '${format}' expects a plain decimal number`);
  return Number(text);
}

function finiteNumber(n: number): number {
  if (!Number.isFinite(n)) throw bad(n, 'the number must be finite (not NaN or ±Infinity)');
  return n;
}

function fromEpoch(ms: number, input: string | number): number {
  return inRange(Math.round(ms), input);
}

function expectString(input: string | number, format: TimestampFormat): string {
  if (typeof input !== 'string') throw bad(input, `format '${format}' expects a string; numbers need format 'epoch-s', 'epoch-ms' or 'auto'`);
  return input.trim();
}

function inRange(ms: number, input: string | number): number {
  if (!(ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS)) throw bad(input, `the instant is outside the accepted range ${RANGE_TEXT}`);
  return ms;
}

function bad(input: string | number, why: string): EdgeloopError {
  const shown = typeof input === 'string' ? `'${input.length > 64 ? input.slice(0, 64) + '…' : input}'` : String(input);
  return new EdgeloopError('BAD_TIMESTAMP', `timestamp ${shown} is not valid: ${why}`);
}
