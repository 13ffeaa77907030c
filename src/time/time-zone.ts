/**
 * Wall-clock ↔ UTC conversion for IANA time zones, using only Intl (no tz database of our own),
 * so the gateway and the device resolve the same zone rules the runtime ships with.
 */
import { EdgeloopError } from '../errors.ts';

const MS_PER_DAY = 86_400_000;

// Intl.DateTimeFormat construction costs tens of microseconds; one formatter per zone is reused.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let fmt = formatters.get(timeZone);
  if (fmt === undefined) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (err) {
      throw new EdgeloopError('BAD_ARGUMENT', `timeZone '${timeZone}' is not a known IANA time zone (e.g. 'UTC', 'Europe/Brussels')`, { cause: err });
    }
    formatters.set(timeZone, fmt);
  }
  return fmt;
}

/** Throws BAD_ARGUMENT unless `timeZone` is an IANA zone name the runtime knows. */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/** Offset of `timeZone` from UTC at instant `utcMs`, in ms (Brussels in winter: +3_600_000). */
export function zoneOffsetMs(utcMs: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const wholeSecondMs = Math.floor(utcMs / 1000) * 1000;
  const parts = formatterFor(timeZone).formatToParts(new Date(wholeSecondMs));
  const get = (type: Intl.DateTimeFormatPartTypes): number => {
    const part = parts.find((p) => p.type === type);
    return part === undefined ? 0 : Number(part.value);
  };
  const wallMs = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wallMs - wholeSecondMs;
}

const MS_PER_HOUR = 3_600_000;
/** Per zone: UTC hour → the zone's offset during that hour, NaN when a transition falls inside it. */
const hourOffsets = new Map<string, Map<number, number>>();
const MAX_CACHED_HOURS = 100_000;

/**
 * zoneOffsetMs through a cache per UTC hour: the tz database never has two transitions within one
 * hour, so an hour whose first and last second have the same offset has it throughout; an hour with a
 * transition inside is resolved per instant. Formatting with Intl costs ~10 µs a call, and parsing a
 * CSV of local times calls it two to four times per row.
 */
export function cachedZoneOffsetMs(utcMs: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  let hours = hourOffsets.get(timeZone);
  if (hours === undefined) {
    assertTimeZone(timeZone);
    hourOffsets.set(timeZone, (hours = new Map()));
  }
  const hour = Math.floor(utcMs / MS_PER_HOUR);
  let offset = hours.get(hour);
  if (offset === undefined) {
    const first = zoneOffsetMs(hour * MS_PER_HOUR, timeZone);
    const last = zoneOffsetMs((hour + 1) * MS_PER_HOUR - 1000, timeZone);
    if (hours.size >= MAX_CACHED_HOURS) hours.clear();
    offset = first === last ? first : Number.NaN;
    hours.set(hour, offset);
  }
  return Number.isNaN(offset) ? zoneOffsetMs(utcMs, timeZone) : offset;
}

/**
 * UTC instant of a wall-clock time in `timeZone`. `wallMs` is the wall time encoded as if it were UTC
 * (`Date.UTC(y, m, d, hh, mm, ss)`).
 *
 * Follows Python zoneinfo with fold=0, so golden values from Python agree:
 * - an ambiguous time (autumn fall-back, the hour happens twice) resolves to the FIRST occurrence;
 * - a non-existent time (spring-forward gap) is read with the offset in force before the gap,
 *   which lands it after the gap (02:30 on the Brussels spring-forward day → 03:30 CEST).
 */
export function wallTimeToUtcMs(wallMs: number, timeZone: string): number {
  // Zone transitions are months apart, so the offsets a day either side bracket any transition.
  const offsetBefore = cachedZoneOffsetMs(wallMs - MS_PER_DAY, timeZone);
  const candidateBefore = wallMs - offsetBefore;
  if (cachedZoneOffsetMs(candidateBefore, timeZone) === offsetBefore) return candidateBefore;
  const offsetAfter = cachedZoneOffsetMs(wallMs + MS_PER_DAY, timeZone);
  const candidateAfter = wallMs - offsetAfter;
  if (cachedZoneOffsetMs(candidateAfter, timeZone) === offsetAfter) return candidateAfter;
  return candidateBefore;
}
