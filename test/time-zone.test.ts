/** The per-hour offset cache of src/time/time-zone.ts agrees with Intl at every instant, transitions included. */
import test from 'ava';
import { cachedZoneOffsetMs, wallTimeToUtcMs, zoneOffsetMs } from '../src/time/time-zone.ts';

const MINUTE = 60_000;

test('cachedZoneOffsetMs equals zoneOffsetMs around DST transitions, half-hour zones and an LMT change', (t) => {
  const cases: [string, string][] = [
    ['Europe/Brussels', '2015-03-29T00:00:00Z'], // spring forward at 01:00 UTC
    ['Europe/Brussels', '2015-10-25T00:00:00Z'], // fall back at 01:00 UTC
    ['America/St_Johns', '2021-11-07T02:00:00Z'], // -02:30 → -03:30
    ['Australia/Lord_Howe', '2021-04-04T14:00:00Z'], // a 30-minute DST shift
    ['Asia/Kathmandu', '1985-12-31T18:00:00Z'], // +05:30 → +05:45 at 1986-01-01 local midnight
    ['Europe/Amsterdam', '1937-06-30T22:00:00Z'], // +00:19:32 → +00:20, not on a quarter hour
  ];
  let checked = 0;
  for (const [zone, around] of cases) {
    const start = Date.parse(around) - 6 * 60 * MINUTE;
    // Every 7 s for 12 h (not aligned to any hour): the cache fills on the first instants of each hour.
    for (let ms = start; ms < start + 12 * 60 * MINUTE; ms += 7000) {
      if (cachedZoneOffsetMs(ms, zone) !== zoneOffsetMs(ms, zone)) return t.fail(`${zone} at ${new Date(ms).toISOString()}: ${cachedZoneOffsetMs(ms, zone)} vs ${zoneOffsetMs(ms, zone)}`);
      checked++;
    }
  }
  t.true(checked > 30_000);
  t.is(cachedZoneOffsetMs(Date.UTC(2020, 0, 1), 'UTC'), 0);
  t.throws(() => cachedZoneOffsetMs(0, 'Mars/Olympus'), { code: 'BAD_ARGUMENT' });
});

test('wallTimeToUtcMs keeps the zoneinfo fold=0 rules through the cache', (t) => {
  const brussels = (y: number, mo: number, d: number, h: number, mi: number) => new Date(wallTimeToUtcMs(Date.UTC(y, mo - 1, d, h, mi), 'Europe/Brussels')).toISOString();
  t.is(brussels(2015, 3, 29, 2, 30), '2015-03-29T01:30:00.000Z', 'in the spring-forward gap: read with the offset before it');
  t.is(brussels(2015, 10, 25, 2, 30), '2015-10-25T00:30:00.000Z', 'ambiguous: the first occurrence');
  t.is(brussels(2015, 2, 2, 14, 19), '2015-02-02T13:19:00.000Z');
});
