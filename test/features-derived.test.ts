import test from 'ava';
import { DATE_FEATURES, ZoneCalendar, dateColumns } from '../src/features/date.ts';
import { appendDerived, derivedColumns, fitDerived } from '../src/features/derived.ts';
import { createRandom } from '../src/random.ts';

function dateRow(cal: ZoneCalendar, utcMs: number): number[] {
  const out: number[] = [];
  cal.write(utcMs, DATE_FEATURES, out, 0);
  return out;
}

test('date features in Europe/Brussels: hour, weekday (Mon=0), weekend, seconds since midnight', (t) => {
  const cal = new ZoneCalendar('Europe/Brussels');
  t.deepEqual(dateColumns(DATE_FEATURES), ['ts__hour', 'ts__weekday', 'ts__weekend', 'ts__seconds_since_midnight']);
  // 2015-02-04 17:51:00 CET (Wednesday) = 16:51 UTC
  t.deepEqual(dateRow(cal, Date.UTC(2015, 1, 4, 16, 51, 0)), [17, 2, 0, 17 * 3600 + 51 * 60]);
  // 2015-02-08 00:30 CET is a Sunday; 23:30 UTC the day before
  t.deepEqual(dateRow(cal, Date.UTC(2015, 1, 7, 23, 30, 0)), [0, 6, 1, 1800]);
  // Spring forward 2015-03-29: 01:30 UTC is 03:30 CEST
  t.deepEqual(dateRow(cal, Date.UTC(2015, 2, 29, 1, 30, 0)), [3, 6, 1, 3 * 3600 + 1800]);
});

test('date features agree with Intl formatting on 3000 random instants in three zones', (t) => {
  const random = createRandom(5);
  const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  for (const zone of ['Europe/Brussels', 'America/New_York', 'Asia/Kolkata']) {
    const cal = new ZoneCalendar(zone);
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', weekday: 'short', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    for (let i = 0; i < 1000; i++) {
      const ms = Date.UTC(2014, 0, 1) + Math.floor(random.next() * 3 * 365 * 86_400_000);
      const parts = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
      const [hour, weekday, weekend, ssm] = dateRow(cal, ms);
      const wd = days.indexOf(parts.weekday);
      if (hour !== Number(parts.hour) || weekday !== wd || weekend !== (wd >= 5 ? 1 : 0) || ssm !== Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second)) {
        t.fail(`${zone} ${new Date(ms).toISOString()}: got ${[hour, weekday, weekend, ssm]} vs ${JSON.stringify(parts)}`);
      }
    }
  }
  t.pass();
});

test('an unknown time zone is rejected with BAD_ARGUMENT', (t) => {
  const err = t.throws(() => new ZoneCalendar('Mars/Olympus'));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.regex(err!.message, /timeZone 'Mars\/Olympus' is not a known IANA time zone/);
});

test('polynomial degree 2: squares and pairwise products, named a^2 and a*b', (t) => {
  const cols = ['a', 'b', 'c'];
  const state = fitDerived({ type: 'polynomial', columns: ['a', 'c'], interactionOnly: false }, cols, [], [], []);
  t.deepEqual(derivedColumns(state), ['a^2', 'a*c', 'c^2']);
  const row = [2, 5, 3];
  appendDerived(state, cols, row, 'd1');
  t.deepEqual(row, [2, 5, 3, 4, 6, 9]);
  const inter = fitDerived({ type: 'polynomial', columns: ['a', 'b', 'c'], interactionOnly: true }, cols, [], [], []);
  t.deepEqual(derivedColumns(inter), ['a*b', 'a*c', 'b*c']);
  const err = t.throws(() => fitDerived({ type: 'polynomial', columns: ['z'], interactionOnly: true }, cols, [], [], []));
  t.is((err as { code?: string }).code, 'BAD_SPEC');
  t.is(err?.message, "polynomial: column 'z' is not a feature; available: a, b, c");
});

test('device mean is fitted on train rows only; unseen devices get the overall train mean', (t) => {
  const X = [[1], [3], [10], [100], [7]];
  const device = ['d1', 'd1', 'd2', 'd2', 'd1'];
  const isTrain = [true, true, true, false, false];
  const state = fitDerived({ type: 'device-mean', columns: ['x'] }, ['x'], X, device, isTrain);
  t.deepEqual(state, { type: 'device-mean', columns: ['x'], byDevice: { d1: [2], d2: [10] }, overall: [14 / 3] });
  t.deepEqual(derivedColumns(state), ['x__device_mean']);
  const row = [5];
  appendDerived(state, ['x'], row, 'new-device');
  t.deepEqual(row, [5, 14 / 3]);
  const err = t.throws(() => fitDerived({ type: 'device-mean', columns: ['x'] }, ['x'], X, device, X.map(() => false)));
  t.is((err as { code?: string }).code, 'BAD_DATA');
  t.is(err?.message, 'device-mean: the train split has no rows to fit on');
});
