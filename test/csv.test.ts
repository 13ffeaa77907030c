import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseCsv, parseCsvRecords, detectColumns, tableToTelemetry } from '../src/csv.ts';
import { isEdgeloopError } from '../src/errors.ts';

test('quoted fields, doubled quotes, CRLF and embedded newlines', (t) => {
  t.deepEqual(parseCsvRecords('a,b\r\n"x,1","say ""hi"""\n"multi\nline",2\n'), [['a', 'b'], ['x,1', 'say "hi"'], ['multi\nline', '2']]);
});

test('the occupancy files as they are: 7 header names, 8 fields, quoted and unquoted dates', (t) => {
  for (const [file, rows, first] of [
    ['datatraining.txt', 8143, Date.UTC(2015, 1, 4, 17, 51)],
    ['datatest.txt', 2665, Date.UTC(2015, 1, 2, 14, 19)],
    ['datatest2.txt', 9752, Date.UTC(2015, 1, 11, 14, 48)],
  ] as const) {
    const table = parseCsv(readFileSync(new URL(`../datasets/occupancy/${file}`, import.meta.url), 'utf8'));
    t.true(table.droppedRowId, file);
    t.is(table.rows.length, rows, file);
    const cols = detectColumns(table);
    t.is(cols.timeColumn, 'date');
    t.deepEqual(cols.sensorColumns, ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio', 'Occupancy']);
    const tel = tableToTelemetry(table, cols);
    t.is(tel[0]!.ts, first, file);
  }
  const table = parseCsv(readFileSync(new URL('../datasets/occupancy/datatraining.txt', import.meta.url), 'utf8'));
  const tel = tableToTelemetry(table, detectColumns(table), { timeZone: 'Europe/Brussels' });
  t.is(tel[0]!.ts, Date.UTC(2015, 1, 4, 16, 51));
  t.deepEqual(tel[0]!.values, { Temperature: 23.18, Humidity: 27.272, Light: 426, CO2: 721.25, HumidityRatio: 0.00479298817650529, Occupancy: 1 });
});

test('bad CSV input gets BAD_FILE errors naming the line', (t) => {
  const e1 = t.throws(() => parseCsv('a,b\n1,2\n3\n'));
  t.true(isEdgeloopError(e1, 'BAD_FILE'));
  t.regex(e1!.message, /line 3 has 1 fields, the header has 2/);
  const e2 = t.throws(() => parseCsvRecords('a\n"open'));
  t.true(isEdgeloopError(e2, 'BAD_FILE'));
  const table = parseCsv('time,x\n2020-01-01 00:00:00,1\n2020-01-01 00:01:00,abc\n');
  const e3 = t.throws(() => tableToTelemetry(table, { timeColumn: 'time', sensorColumns: ['x'] }));
  t.regex(e3!.message, /line 3: x value "abc" is not a number/);
  const e4 = t.throws(() => detectColumns(table, { timeColumn: 'nope' }));
  t.true(isEdgeloopError(e4, 'BAD_ARGUMENT'));
});

test('column detection: missing values do not disqualify a sensor, a stray bad value fails its line, text and empty columns are listed with the reason', (t) => {
  const table = parseCsv([
    'time,temp,room,empty,co2',
    '2020-01-01 00:00:00,NA,lab,,400',
    '2020-01-01 00:01:00,21.5,lab,,oops',
    '2020-01-01 00:02:00,,lab,,410',
    '2020-01-01 00:03:00,22,lab,,420',
  ].join('\n'));
  const cols = detectColumns(table);
  t.is(cols.timeColumn, 'time');
  t.deepEqual(cols.sensorColumns, ['temp', 'co2'], 'temp has two missing values, co2 one bad value of four');
  t.deepEqual(cols.skipped, [
    { column: 'room', reason: 'not numeric (4 of 4 values in the first rows, e.g. "lab")' },
    { column: 'empty', reason: 'no value in the first 4 rows' },
  ]);
  const err = t.throws(() => tableToTelemetry(table, cols));
  t.regex(err!.message, /^CSV line 3: co2 value "oops" is not a number$/, 'the bad value is an error naming its line, not a vanished sensor');
  const none = t.throws(() => detectColumns(parseCsv('time,room\n2020-01-01 00:00:00,lab\n')));
  t.true(isEdgeloopError(none, 'BAD_FILE'));
  t.is(none!.message, 'no numeric sensor columns found in the CSV (room: not numeric (1 of 1 values in the first rows, e.g. "lab"))');
});
