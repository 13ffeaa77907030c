/**
 * Calendar features of a timestamp in a configured IANA time zone (via Intl, see src/time):
 * local hour, weekday (0 = Monday … 6 = Sunday, as pandas `dayofweek`), weekend flag (Sat/Sun),
 * and seconds since local midnight. Column names are `ts__<feature>`.
 */
import { cachedZoneOffsetMs, zoneOffsetMs } from '../time/time-zone.ts';

export const DATE_FEATURES = ['hour', 'weekday', 'weekend', 'seconds_since_midnight'] as const;
export type DateFeature = (typeof DATE_FEATURES)[number];

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

export function dateColumns(features: readonly DateFeature[]): string[] {
  return features.map((f) => `ts__${f}`);
}

/** Converts instants to local calendar fields (offsets from the per-hour cache of src/time). */
export class ZoneCalendar {
  constructor(readonly timeZone: string) {
    zoneOffsetMs(0, timeZone); // validates the zone name (BAD_ARGUMENT) up front
  }

  offsetMs(utcMs: number): number {
    return cachedZoneOffsetMs(utcMs, this.timeZone);
  }

  /** Writes the requested features of instant `utcMs` into `out` from `offset`. */
  write(utcMs: number, features: readonly DateFeature[], out: number[] | Float64Array, offset: number): void {
    const localMs = utcMs + this.offsetMs(utcMs);
    const msOfDay = ((localMs % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    const dayNumber = Math.floor(localMs / MS_PER_DAY); // 1970-01-01 was a Thursday (weekday 3)
    const weekday = (((dayNumber + 3) % 7) + 7) % 7;
    let k = offset;
    for (const f of features) {
      switch (f) {
        case 'hour': out[k++] = Math.floor(msOfDay / MS_PER_HOUR); break;
        case 'weekday': out[k++] = weekday; break;
        case 'weekend': out[k++] = weekday >= 5 ? 1 : 0; break;
        case 'seconds_since_midnight': out[k++] = Math.floor(msOfDay / 1000); break;
        default: {
          const never: never = f;
          throw new Error(`unreachable date feature ${String(never)}`);
        }
      }
    }
  }
}
