import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { parseTimestamp, MAX_TIMESTAMP_MS } from '../src/time/parse-timestamp.ts';
import { wallTimeToUtcMs, zoneOffsetMs } from '../src/time/time-zone.ts';
import { EdgeloopError } from '../src/errors.ts';

interface Golden {
  local: { input: string; timeZone: string; expectedMs: number }[];
  iso: { input: string; expectedMs: number }[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/clean-time-golden.json', import.meta.url), 'utf8')) as Golden;

test('local wall-clock times match Python zoneinfo (fold=0), including Brussels DST gap and overlap', (t) => {
  t.true(golden.local.length >= 30);
  for (const c of golden.local) {
    t.is(parseTimestamp(c.input, { format: 'local', timeZone: c.timeZone }), c.expectedMs, `${c.input} ${c.timeZone}`);
    t.is(parseTimestamp(c.input, { timeZone: c.timeZone }), c.expectedMs, `auto: ${c.input} ${c.timeZone}`);
    t.is(parseTimestamp(c.input.replace(' ', 'T'), { format: 'iso', timeZone: c.timeZone }), c.expectedMs, `iso+tz: ${c.input}`);
  }
});

test('ISO strings with offsets match Python datetime.fromisoformat', (t) => {
  for (const c of golden.iso) {
    t.is(parseTimestamp(c.input, { format: 'iso' }), c.expectedMs, c.input);
    t.is(parseTimestamp(c.input), c.expectedMs, `auto: ${c.input}`);
  }
});

test('Brussels DST: the fall-back hour resolves to its first occurrence, the spring gap is shifted forward', (t) => {
  // 2015-10-25 02:30 happens at 00:30Z (CEST) and 01:30Z (CET); the first one wins.
  t.is(parseTimestamp('2015-10-25 02:30:00', { format: 'local', timeZone: 'Europe/Brussels' }), Date.UTC(2015, 9, 25, 0, 30));
  // 2015-03-29 02:30 does not exist; read with the pre-gap offset +01:00 it is 01:30Z (= 03:30 CEST).
  t.is(parseTimestamp('2015-03-29 02:30:00', { format: 'local', timeZone: 'Europe/Brussels' }), Date.UTC(2015, 2, 29, 1, 30));
  t.is(zoneOffsetMs(Date.UTC(2015, 1, 4), 'Europe/Brussels'), 3_600_000);
  t.is(zoneOffsetMs(Date.UTC(2015, 6, 4), 'Europe/Brussels'), 7_200_000);
});

test('epoch numbers: auto splits seconds and milliseconds at 1e11', (t) => {
  t.is(parseTimestamp(1423072260), 1423072260000);
  t.is(parseTimestamp(1423072260.25), 1423072260250);
  t.is(parseTimestamp(1423072260000), 1423072260000);
  t.is(parseTimestamp('1423072260'), 1423072260000);
  t.is(parseTimestamp('1423072260123'), 1423072260123);
  t.is(parseTimestamp(99_999_999_999 / 1000, { format: 'epoch-s' }), 99_999_999_999);
  t.is(parseTimestamp(1e11), 1e11);
  t.is(parseTimestamp(0), 0);
  t.is(parseTimestamp('1423072260', { format: 'epoch-s' }), 1423072260000);
  t.is(parseTimestamp(' 1423072260123 ', { format: 'epoch-ms' }), 1423072260123);
  t.is(parseTimestamp(1423072260123.6, { format: 'epoch-ms' }), 1423072260124);
});

test('ISO details: bare dates, fractions, space separator, UTC default for local', (t) => {
  t.is(parseTimestamp('2015-02-04', { format: 'iso' }), Date.UTC(2015, 1, 4));
  t.is(parseTimestamp('2015-02-04', { format: 'iso', timeZone: 'Europe/Brussels' }), Date.UTC(2015, 1, 3, 23));
  t.is(parseTimestamp('2015-02-04T17:51:00.123456789Z'), Date.UTC(2015, 1, 4, 17, 51, 0, 123));
  t.is(parseTimestamp('2015-02-04T17:51Z'), Date.UTC(2015, 1, 4, 17, 51));
  t.is(parseTimestamp('2015-02-04 17:51:00+01:00', { format: 'iso' }), Date.UTC(2015, 1, 4, 16, 51));
  t.is(parseTimestamp('2015-02-04 17:51:00', { format: 'local' }), Date.UTC(2015, 1, 4, 17, 51));
  t.is(parseTimestamp('2015-02-04 17:51:00'), Date.UTC(2015, 1, 4, 17, 51));
  t.is(parseTimestamp('2200-01-01T00:00:00Z'), MAX_TIMESTAMP_MS);
});

const badCases: [string | number, { format?: 'auto' | 'iso' | 'epoch-s' | 'epoch-ms' | 'local'; timeZone?: string } | undefined, RegExp][] = [
  [Number.NaN, undefined, /^timestamp NaN is not valid: the number must be finite/],
  [Number.POSITIVE_INFINITY, undefined, /^timestamp Infinity is not valid: the number must be finite/],
  [Number.NEGATIVE_INFINITY, { format: 'epoch-ms' }, /must be finite/],
  ['2015-02-30', undefined, /^timestamp '2015-02-30' is not valid: day 30 is outside 01\.\.28 for 2015-02$/],
  ['2016-02-30 10:00:00', { format: 'local' }, /day 30 is outside 01\.\.29 for 2016-02/],
  ['2015-13-01', undefined, /month 13 is outside 01\.\.12/],
  ['2015-02-04T24:00:00Z', undefined, /hour 24 is outside 00\.\.23/],
  ['2015-02-04T23:60:00Z', undefined, /minute 60 is outside 00\.\.59/],
  ['2015-02-04T23:59:60Z', undefined, /second 60 is outside 00\.\.59 \(leap seconds/],
  ['2015-02-04T10:00:00+24:00', undefined, /offset \+24:00 is outside -23:59\.\.\+23:59/],
  ['2015-02-04T10:00:00Zjunk', undefined, /with nothing after it/],
  ['2015-02-04 10:00:00 abc', { format: 'local' }, /with nothing after it/],
  ['2015-02-04T10:00:00', { format: 'iso' }, /needs an offset \('Z' or '±hh:mm'\) unless options\.timeZone is given/],
  ['2015-02-04T10:00:00Z', { format: 'local' }, /format 'local' expects 'YYYY-MM-DD hh:mm:ss' without an offset/],
  ['2015-02-04', { format: 'local' }, /the time of day is missing/],
  ['1969-12-31T23:59:59Z', undefined, /outside the accepted range 1970-01-01T00:00:00Z\.\.2200-01-01T00:00:00Z/],
  ['2200-01-01T00:00:00.001Z', undefined, /outside the accepted range/],
  ['1970-01-01 00:30:00', { timeZone: 'Europe/Brussels' }, /outside the accepted range/],
  [-1, undefined, /outside the accepted range/],
  [1e15, undefined, /outside the accepted range/],
  ['', undefined, /^timestamp '' is not valid: expected 'YYYY-MM-DD'/],
  ['yesterday', undefined, /expected 'YYYY-MM-DD'/],
  ['02/04/2015 10:00', undefined, /expected 'YYYY-MM-DD'/],
  ['1e9', { format: 'epoch-s' }, /format 'epoch-s' expects a plain decimal number/],
  ['12abc', { format: 'epoch-ms' }, /format 'epoch-ms' expects a plain decimal number/],
  [1423072260, { format: 'iso' }, /format 'iso' expects a string; numbers need format 'epoch-s', 'epoch-ms' or 'auto'/],
  [1423072260, { format: 'local' }, /format 'local' expects a string/],
];

for (const [input, options, message] of badCases) {
  test(`rejects ${typeof input === 'string' ? `'${input}'` : String(input)} ${options?.format ?? 'auto'} with BAD_TIMESTAMP`, (t) => {
    const err = t.throws(() => parseTimestamp(input, options), { instanceOf: EdgeloopError });
    t.is(err?.code, 'BAD_TIMESTAMP');
    t.regex(err?.message ?? '', message);
  });
}

test('long junk input is truncated in the message', (t) => {
  const err = t.throws(() => parseTimestamp('x'.repeat(500)), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_TIMESTAMP');
  t.true((err?.message.length ?? 0) < 250);
});

test('unknown time zone and format are BAD_ARGUMENT', (t) => {
  const zoneErr = t.throws(() => parseTimestamp('2015-02-04 10:00:00', { timeZone: 'Mars/Olympus' }), { instanceOf: EdgeloopError });
  t.is(zoneErr?.code, 'BAD_ARGUMENT');
  t.is(zoneErr?.message, "timeZone 'Mars/Olympus' is not a known IANA time zone (e.g. 'UTC', 'Europe/Brussels')");
  const fmtErr = t.throws(() => parseTimestamp('1', { format: 'unix' as 'auto' }), { instanceOf: EdgeloopError });
  t.is(fmtErr?.code, 'BAD_ARGUMENT');
  t.is(fmtErr?.message, "format 'unix' is not one of 'auto', 'iso', 'epoch-s', 'epoch-ms', 'local'");
});

test('property: ISO output of Date round-trips, and local Brussels round-trips through the offset', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_TIMESTAMP_MS }), (ms) => {
      const iso = new Date(ms).toISOString();
      if (parseTimestamp(iso, { format: 'iso' }) !== ms) return false;
      // Wall time in Brussels, formatted without offset, parses back to ms unless it is the second
      // occurrence of an ambiguous fall-back time (then fold=0 gives the first, one hour earlier).
      const wallMs = ms + zoneOffsetMs(ms, 'Europe/Brussels');
      const wallText = new Date(wallMs).toISOString().slice(0, 23).replace('T', ' ');
      const back = parseTimestamp(wallText, { format: 'local', timeZone: 'Europe/Brussels' });
      return back === ms || (back === ms - 3_600_000 && wallTimeToUtcMs(wallMs, 'Europe/Brussels') === back);
    }),
    { numRuns: 3000, seed: 42 },
  );
  t.pass();
});
