// Behaviour of each cleaning op through the public fitClean/applyClean surface.
import test from 'ava';
import type { Frame } from '../src/frame.ts';
import { applyClean, fitClean, type CleanStep } from '../src/clean/index.ts';
import { EdgeloopError } from '../src/errors.ts';

const T0 = Date.UTC(2015, 1, 4, 17, 0);
const MIN = 60_000;
function frame(rows: { ts: number; device?: string; num?: Record<string, number | null>; cat?: Record<string, string | null> }[]): Frame {
  const f: Frame = { ts: [], device: [], num: {}, cat: {} };
  const numNames = [...new Set(rows.flatMap((r) => Object.keys(r.num ?? {})))];
  const catNames = [...new Set(rows.flatMap((r) => Object.keys(r.cat ?? {})))];
  for (const n of numNames) f.num[n] = [];
  for (const n of catNames) f.cat[n] = [];
  for (const r of rows) {
    f.ts.push(r.ts);
    f.device.push(r.device ?? 'd1');
    for (const n of numNames) f.num[n].push(r.num?.[n] ?? null);
    for (const n of catNames) f.cat[n].push(r.cat?.[n] ?? null);
  }
  return f;
}
const series = (name: string, values: (number | null)[], device = 'd1', stepMs = MIN): Frame =>
  frame(values.map((v, i) => ({ ts: T0 + i * stepMs, device, num: { [name]: v } })));
const run = (f: Frame, steps: CleanStep[]) => fitClean(f, steps);

test('dedupe: exact rows and by key fields, keep first or last', (t) => {
  const f = frame([
    { ts: T0, num: { x: 1 } },
    { ts: T0, num: { x: 1 } },
    { ts: T0, num: { x: 2 } },
    { ts: T0, device: 'd2', num: { x: 2 } },
  ]);
  const exact = run(f, [{ op: 'dedupe' }]);
  t.deepEqual(exact.frame.num.x, [1, 2, 2]);
  t.is(exact.report.steps[0].rowsDropped, 1);
  const byKey = run(f, [{ op: 'dedupe', keys: ['device', 'ts'] }]);
  t.deepEqual(byKey.frame.num.x, [1, 2]);
  const last = run(f, [{ op: 'dedupe', keys: ['device', 'ts'], keep: 'last' }]);
  t.deepEqual(last.frame.num.x, [2, 2]);
  t.is(last.report.rowsOut, 2);
});

test('sentinel: numeric and string markers become null', (t) => {
  const f = frame([
    { ts: T0, num: { x: -200 }, cat: { s: 'NA' } },
    { ts: T0 + MIN, num: { x: 5 }, cat: { s: 'ok' } },
    { ts: T0 + 2 * MIN, num: { x: -999 }, cat: { s: '-200' } },
  ]);
  const r = run(f, [{ op: 'sentinel', columns: ['x', 's'], values: [-200, -999, 'NA'] }]);
  t.deepEqual(r.frame.num.x, [null, 5, null]);
  t.deepEqual(r.frame.cat.s, [null, 'ok', null]);
  t.deepEqual(r.report.steps[0].changes, { x: { nulled: 2 }, s: { nulled: 2 } });
  t.deepEqual(f.num.x, [-200, 5, -999], 'input frame untouched');
});

test('drop-missing: rows above a share, columns fitted on train and dropped on apply', (t) => {
  const train = frame([
    { ts: T0, num: { a: 1, b: null, c: 1 } },
    { ts: T0 + MIN, num: { a: null, b: null, c: 2 } },
    { ts: T0 + 2 * MIN, num: { a: 3, b: 1, c: null } },
  ]);
  const rows = run(train, [{ op: 'drop-missing', axis: 'rows', maxMissingShare: 0.4 }]);
  t.deepEqual(rows.frame.num.c, [1, 2, null].filter((_, i) => i !== 1));
  t.is(rows.report.steps[0].rowsDropped, 1);
  const cols = run(train, [{ op: 'drop-missing', axis: 'columns', maxMissingShare: 0.5 }]);
  t.deepEqual(Object.keys(cols.frame.num), ['a', 'c']);
  t.deepEqual(cols.report.steps[0].columnsDropped, ['b']);
  // Live data where b is complete still loses b: the decision was made on train.
  const live = frame([{ ts: T0, num: { a: 1, b: 1, c: 1 } }]);
  t.deepEqual(Object.keys(applyClean(live, [{ op: 'drop-missing', axis: 'columns', maxMissingShare: 0.5 }], cols.state).frame.num), ['a', 'c']);
});

test('impute: mean, median, mode, constant fitted on train only', (t) => {
  const train = series('x', [1, 2, null, 10]);
  const live = series('x', [null, 100, null]);
  for (const [strategy, expected] of [['mean', 13 / 3], ['median', 2], ['mode', 1]] as const) {
    const fit = run(train, [{ op: 'impute', columns: ['x'], strategy }]);
    t.is(fit.frame.num.x[2], expected, strategy);
    const applied = applyClean(live, [{ op: 'impute', columns: ['x'], strategy }], fit.state);
    t.deepEqual(applied.frame.num.x, [expected, 100, expected], `${strategy} not refitted on live data`);
    t.deepEqual(applied.report.steps[0].changes.x, { imputed: 2 });
  }
  const cat = frame([{ ts: T0, cat: { s: null } }, { ts: T0 + MIN, cat: { s: 'a' } }]);
  t.deepEqual(run(cat, [{ op: 'impute', columns: ['s'], strategy: 'constant', value: 'unknown' }]).frame.cat.s, ['unknown', 'a']);
  const empty = run(series('x', [null, null]), [{ op: 'impute', columns: ['x'], strategy: 'mean' }]);
  t.deepEqual(empty.report.steps[0].changes.x, { unimputable: 2 });
});

test('fill: per device, never across a gap longer than maxGapMs', (t) => {
  const f = frame([
    { ts: T0, device: 'a', num: { x: 1 } },
    { ts: T0, device: 'b', num: { x: 50 } },
    { ts: T0 + MIN, device: 'a', num: { x: null } },
    { ts: T0 + MIN, device: 'b', num: { x: null } },
    { ts: T0 + 10 * MIN, device: 'a', num: { x: null } },
  ]);
  const r = run(f, [{ op: 'fill', columns: ['x'], direction: 'forward', maxGapMs: 2 * MIN }]);
  t.deepEqual(r.frame.num.x, [1, 50, 1, 50, null]);
  t.deepEqual(r.report.steps[0].changes.x, { filled: 2 });
  const back = run(f, [{ op: 'fill', columns: ['x'], direction: 'backward', maxRows: 5 }]);
  t.deepEqual(back.frame.num.x, [1, 50, null, null, null]);
});

test('interpolate: linear in time per device, maxGapMs bounds the bracketing readings', (t) => {
  const f = frame([
    { ts: T0, num: { x: 0 } },
    { ts: T0 + MIN, num: { x: null } },
    { ts: T0 + 4 * MIN, num: { x: 8 } },
    { ts: T0 + 5 * MIN, num: { x: null } },
    { ts: T0 + 20 * MIN, num: { x: 10 } },
  ]);
  t.deepEqual(run(f, [{ op: 'interpolate', columns: ['x'], maxGapMs: 5 * MIN }]).frame.num.x, [0, 2, 8, null, 10]);
  t.deepEqual(run(f, [{ op: 'interpolate', columns: ['x'] }]).frame.num.x, [0, 2, 8, 8 + 2 / 16, 10]);
});

test('canonical-map and regex-rewrite rewrite categories and count them', (t) => {
  const f = frame(['NY', 'new york ', 'New York', 'Boston', null].map((s, i) => ({ ts: T0 + i, cat: { city: s } })));
  const r = run(f, [
    { op: 'canonical-map', column: 'city', map: { NY: 'New York', 'new york': 'New York' }, caseInsensitive: true },
    { op: 'regex-rewrite', column: 'city', pattern: '\\s+', replacement: '_' },
  ]);
  t.deepEqual(r.frame.cat.city, ['New_York', 'New_York', 'New_York', 'Boston', null]);
  t.deepEqual(r.report.steps[0].changes.city, { rewritten: 2 });
  t.deepEqual(r.report.steps[1].changes.city, { rewritten: 3 });
});

test('range (null or clip), cap and convert-unit', (t) => {
  const f = series('x', [-50, 10, 200, null]);
  t.deepEqual(run(f, [{ op: 'range', column: 'x', min: -40, max: 125, action: 'null' }]).frame.num.x, [null, 10, null, null]);
  t.deepEqual(run(f, [{ op: 'range', column: 'x', min: -40, max: 125, action: 'clip' }]).frame.num.x, [-40, 10, 125, null]);
  const capped = run(f, [{ op: 'cap', columns: ['x'], max: 100 }]);
  t.deepEqual(capped.frame.num.x, [-50, 10, 100, null]);
  t.deepEqual(capped.report.steps[0].changes.x, { clipped: 1 });
  const conv = (from: string, to: string, v: number): number => run(series('x', [v]), [{ op: 'convert-unit', column: 'x', from, to } as CleanStep]).frame.num.x[0] as number;
  t.is(conv('degF', 'degC', 212), 100);
  t.true(Math.abs(conv('degF', 'degC', 73.4) - 23) < 1e-12);
  t.true(Math.abs(conv('K', 'degC', 273.15)) < 1e-12);
  t.true(Math.abs(conv('ft', 'm', 10) - 3.048) < 1e-12);
  t.true(Math.abs(conv('in', 'cm', 1) - 2.54) < 1e-12);
  t.true(Math.abs(conv('mph', 'm/s', 10) - 4.4704) < 1e-12);
  t.true(Math.abs(conv('psi', 'hPa', 14.6959488) - 1013.25) < 1e-3);
  t.true(Math.abs(conv('degC', 'degF', 100) - 212) < 1e-12);
});

test('normalize-timestamp: to ISO, epoch-ms column, or row timestamps (Brussels local)', (t) => {
  const f = frame([
    { ts: 0, cat: { when: '2015-02-04 17:51:00' } },
    { ts: 0, cat: { when: 'garbage' } },
    { ts: 0, cat: { when: '2015-02-04T16:52:00Z' } },
  ]);
  const iso = run(f, [{ op: 'normalize-timestamp', column: 'when', timeZone: 'Europe/Brussels', onInvalid: 'null' }]);
  t.deepEqual(iso.frame.cat.when, ['2015-02-04T16:51:00.000Z', null, '2015-02-04T16:52:00.000Z']);
  t.deepEqual(iso.report.steps[0].changes.when, { nulled: 1, rewritten: 2 });
  const ms = run(f, [{ op: 'normalize-timestamp', column: 'when', timeZone: 'Europe/Brussels', output: 'epoch-ms', onInvalid: 'null' }]);
  t.deepEqual(ms.frame.num.when, [Date.UTC(2015, 1, 4, 16, 51), null, Date.UTC(2015, 1, 4, 16, 52)]);
  t.false('when' in ms.frame.cat);
  const rowTs = run(f, [{ op: 'normalize-timestamp', column: 'when', timeZone: 'Europe/Brussels', output: 'ts', onInvalid: 'null' }]);
  t.deepEqual(rowTs.frame.ts, [Date.UTC(2015, 1, 4, 16, 51), Date.UTC(2015, 1, 4, 16, 52)]);
  t.is(rowTs.report.steps[0].rowsDropped, 1);
  const err = t.throws(() => run(f, [{ op: 'normalize-timestamp', column: 'when' }]), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_TIMESTAMP');
  t.regex(err?.message ?? '', /^normalize-timestamp: column 'when' row 1: timestamp 'garbage' is not valid/);
});

test('zscore: fitted on train, clip at k sigma; constant columns have no outliers', (t) => {
  const train = series('x', [0, 2, 0, 2, 0, 2], 'd1');
  const fit = run(train, [{ op: 'zscore', columns: ['x'], k: 2 }]);
  t.deepEqual(fit.frame.num.x, train.num.x);
  const live = series('x', [10, -10, 1]);
  const ap = applyClean(live, [{ op: 'zscore', columns: ['x'], k: 2 }], fit.state);
  t.deepEqual(ap.frame.num.x, [3, -1, 1]);
  t.deepEqual(ap.report.steps[0].changes.x, { clipped: 2 });
  t.deepEqual(applyClean(live, [{ op: 'zscore', columns: ['x'], k: 2, action: 'null' }], run(train, [{ op: 'zscore', columns: ['x'], k: 2, action: 'null' }]).state).frame.num.x, [null, null, 1]);
  const flat = run(series('x', [5, 5, 5]), [{ op: 'zscore', columns: ['x'] }]);
  t.deepEqual(applyClean(series('x', [99]), [{ op: 'zscore', columns: ['x'] }], flat.state).frame.num.x, [99]);
});

test('log: signed, null and shift negative handling', (t) => {
  const f = series('x', [-3, 0, Math.E - 1]);
  t.deepEqual(run(f, [{ op: 'log', columns: ['x'] }]).frame.num.x, [-Math.log1p(3), 0, 1]);
  const nul = run(f, [{ op: 'log', columns: ['x'], negative: 'null' }]);
  t.deepEqual(nul.frame.num.x, [null, 0, 1]);
  t.deepEqual(nul.report.steps[0].changes.x, { converted: 2, nulled: 1 });
  const sh = run(f, [{ op: 'log', columns: ['x'], negative: 'shift' }]);
  t.deepEqual(sh.frame.num.x, [0, Math.log1p(3), Math.log1p(Math.E + 2)]);
  t.deepEqual(applyClean(series('x', [-4]), [{ op: 'log', columns: ['x'], negative: 'shift' }], sh.state).frame.num.x, [null]);
});

test('encode: label, one-hot and frequency with unseen policies', (t) => {
  const train = frame(['red', 'green', 'red', 'blue', null].map((c, i) => ({ ts: T0 + i, cat: { color: c } })));
  const live = frame(['green', 'purple', null].map((c, i) => ({ ts: T0 + i, cat: { color: c } })));
  const label = run(train, [{ op: 'encode', column: 'color', method: 'label', unseen: 'ignore' }]);
  t.deepEqual(label.frame.num.color, [2, 1, 2, 0, null]);
  t.false('color' in label.frame.cat);
  t.deepEqual(applyClean(live, [{ op: 'encode', column: 'color', method: 'label', unseen: 'ignore' }], label.state).frame.num.color, [1, -1, null]);
  const oh = run(train, [{ op: 'encode', column: 'color', method: 'one-hot', unseen: 'other' }]);
  t.deepEqual(Object.keys(oh.frame.num), ['color=blue', 'color=green', 'color=red', 'color=__other__']);
  const ohLive = applyClean(live, [{ op: 'encode', column: 'color', method: 'one-hot', unseen: 'other' }], oh.state);
  t.deepEqual(ohLive.frame.num['color=green'], [1, 0, null]);
  t.deepEqual(ohLive.frame.num['color=__other__'], [0, 1, null]);
  t.deepEqual(ohLive.report.steps[0].changes.color, { encoded: 2, unseen: 1 });
  const ignore = run(train, [{ op: 'encode', column: 'color', method: 'one-hot', unseen: 'ignore' }]);
  const ignoreLive = applyClean(live, [{ op: 'encode', column: 'color', method: 'one-hot', unseen: 'ignore' }], ignore.state).frame.num;
  t.deepEqual([ignoreLive['color=blue'][1], ignoreLive['color=green'][1], ignoreLive['color=red'][1]], [0, 0, 0]);
  const freq = run(train, [{ op: 'encode', column: 'color', method: 'frequency', unseen: 'other', minCount: 2 }]);
  // minCount 2 keeps only red (2 of 4); green and blue share the other bucket (2 of 4).
  t.deepEqual(freq.frame.num.color, [0.5, 0.5, 0.5, 0.5, null]);
  t.like(freq.state.steps[0], { vocabulary: ['red'], otherShare: 0.5 });
  t.deepEqual(applyClean(live, [{ op: 'encode', column: 'color', method: 'frequency', unseen: 'other', minCount: 2 }], freq.state).frame.num.color, [0.5, 0.5, null]);
  const strict = run(train, [{ op: 'encode', column: 'color', method: 'label' }]);
  const err = t.throws(() => applyClean(live, [{ op: 'encode', column: 'color', method: 'label' }], strict.state), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_DATA');
  t.is(err?.message, "encode: column 'color' row 1 has category 'purple' not seen in training (known: blue, green, red); set unseen to 'ignore' or 'other' to accept it");
});

test('resample: per device grid, gaps longer than maxGapMs stay missing', (t) => {
  const f = frame([
    { ts: T0 + 10_000, device: 'a', num: { x: 1 }, cat: { s: 'p' } },
    { ts: T0 + 50_000, device: 'a', num: { x: 3 }, cat: { s: 'q' } },
    { ts: T0 + 2 * MIN, device: 'a', num: { x: 5 } },
    { ts: T0 + 6 * MIN, device: 'a', num: { x: 9 } },
    { ts: T0, device: 'b', num: { x: 7 } },
  ]);
  const r = run(f, [{ op: 'resample', intervalMs: MIN, fill: 'linear', maxGapMs: 2 * MIN }]);
  t.deepEqual(r.frame.device, ['a', 'a', 'a', 'a', 'a', 'a', 'a', 'b']);
  t.deepEqual(r.frame.ts.slice(0, 3), [T0, T0 + MIN, T0 + 2 * MIN]);
  t.deepEqual(r.frame.num.x, [2, 3.5, 5, null, null, null, 9, 7]);
  // Last reading of bin 0 is 'q'; no later category reading brackets the empty bins, so none is filled.
  t.deepEqual(r.frame.cat.s, ['q', null, null, null, null, null, null, null]);
  t.deepEqual(r.report.steps[0].changes.x, { interpolated: 1, missing: 3 });
});
