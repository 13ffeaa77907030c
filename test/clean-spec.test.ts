// Rogue specs, mismatched states, and properties of fit/apply.
import test from 'ava';
import fc from 'fast-check';
import type { Frame } from '../src/frame.ts';
import { applyClean, fitClean, type CleanStep } from '../src/clean/index.ts';
import { EdgeloopError } from '../src/errors.ts';

const T0 = Date.UTC(2015, 1, 4);
const base: Frame = { ts: [T0, T0 + 1000], device: ['d', 'd'], num: { temp: [20, null], hum: [30, 31] }, cat: { color: ['red', 'blue'] } };

function specError(steps: unknown, frame: Frame = base): string {
  const err = (() => {
    try {
      fitClean(frame, steps as CleanStep[]);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof EdgeloopError)) throw new Error('expected an EdgeloopError');
  if (err.code !== 'BAD_SPEC') throw new Error(`expected BAD_SPEC, got ${err.code}: ${err.message}`);
  return err.message;
}

test('every schema problem is listed in one BAD_SPEC error with step index, field and allowed values', (t) => {
  const msg = specError([
    { op: 'explode' },
    { op: 'zscore', columns: ['temp'], k: -1, action: 'drop' },
    { op: 'fill', columns: ['temp'], direction: 'forward', maxGapMS: 5 },
    { op: 'convert-unit', column: 'temp', from: 'furlong', to: 'degC' },
    { op: 'encode', column: 'color', method: 'binary' },
  ]);
  t.regex(msg, /^invalid cleaning spec \(6 problems\):\n/);
  t.regex(msg, /- steps\[0\] \(op 'explode'\)\.op: unknown op 'explode'; allowed ops: dedupe, sentinel, drop-missing, impute, fill, interpolate, knn-impute/);
  t.regex(msg, /- steps\[1\] \(op 'zscore'\)\.k: Too small: expected number to be >0/);
  t.regex(msg, /- steps\[1\] \(op 'zscore'\)\.action: must be one of "null", "clip"/);
  t.regex(msg, /- steps\[2\] \(op 'fill'\): unknown field\(s\) 'maxGapMS'; allowed fields: op, columns, direction, maxGapMs, maxRows/);
  t.regex(msg, /- steps\[3\] \(op 'convert-unit'\)\.from: must be one of "degC", "degF", "K", "m"/);
  t.regex(msg, /- steps\[4\] \(op 'encode'\)\.method: must be one of "label", "one-hot", "frequency"/);
});

test('cross-field and column problems are listed together', (t) => {
  const msg = specError([
    { op: 'range', column: 'temp', min: 50, max: 10, action: 'clip' },
    { op: 'impute', columns: ['temp'], strategy: 'constant' },
    { op: 'fill', columns: ['pressure'], direction: 'forward' },
    { op: 'zscore', columns: ['color'] },
    { op: 'encode', column: 'temp', method: 'label' },
    { op: 'convert-unit', column: 'temp', from: 'degF', to: 'm' },
    { op: 'regex-rewrite', column: 'color', pattern: '(', replacement: '' },
    { op: 'winsorize', columns: ['hum'], lower: 0.9, upper: 0.1 },
    { op: 'encode', column: 'color', method: 'one-hot', unseen: 'ignore' },
    { op: 'interpolate', columns: ['color=red', 'color'] },
  ]);
  t.regex(msg, /^invalid cleaning spec \(11 problems\)/);
  t.regex(msg, /steps\[0\] \(op 'range'\)\.min: min \(50\) must be ≤ max \(10\)/);
  t.regex(msg, /steps\[1\] \(op 'impute'\)\.value: required when strategy is 'constant'/);
  t.regex(msg, /steps\[2\] \(op 'fill'\)\.maxGapMs: at least one of maxGapMs or maxRows is required/);
  t.regex(msg, /steps\[2\] \(op 'fill'\)\.columns\[0\]: column 'pressure' does not exist \(numeric: temp, hum; categorical: color\)/);
  t.regex(msg, /steps\[3\] \(op 'zscore'\)\.columns\[0\]: column 'color' is categorical; this op needs a numeric column/);
  t.regex(msg, /steps\[4\] \(op 'encode'\)\.column: column 'temp' is numeric; this op needs a categorical column/);
  t.regex(msg, /steps\[5\] \(op 'convert-unit'\)\.to: cannot convert degF \(temperature\) to m \(length\)/);
  t.regex(msg, /steps\[6\] \(op 'regex-rewrite'\)\.pattern: not a valid regular expression/);
  t.regex(msg, /steps\[7\] \(op 'winsorize'\)\.lower: lower \(0\.9\) must be < upper \(0\.1\)/);
  // After one-hot, 'color=red' is a numeric column and 'color' is gone.
  t.notRegex(msg, /steps\[9\].*columns\[0\]/);
  t.regex(msg, /steps\[9\] \(op 'interpolate'\)\.columns\[1\]: column 'color' does not exist/);
});

test('a non-array spec and a non-object step are BAD_SPEC', (t) => {
  t.regex(specError({ op: 'dedupe' }), /steps: Invalid input: expected array/);
  t.regex(specError([42]), /steps\[0\] \(op \?\): Invalid input: expected object/);
});

test('applyClean refuses a state fitted for other steps, and a frame lacking a dropped-at-fit column', (t) => {
  const fit = fitClean(base, [{ op: 'impute', columns: ['temp'], strategy: 'mean' }]);
  const err = t.throws(() => applyClean(base, [{ op: 'zscore', columns: ['temp'] }], fit.state), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_SPEC');
  t.is(err?.message, 'state (version 1, ops impute) was fitted for a different step list (ops zscore); refit with fitClean');
  const missing = t.throws(() => applyClean({ ...base, num: { hum: [1, 2] } }, [{ op: 'impute', columns: ['temp'], strategy: 'mean' }], fit.state), { instanceOf: EdgeloopError });
  t.is(missing?.code, 'BAD_SPEC');
  t.regex(missing?.message ?? '', /steps\[0\] \(op 'impute'\)\.columns\[0\]: column 'temp' does not exist/);
});

test('regression-impute on collinear or too few rows is BAD_DATA', (t) => {
  const f: Frame = { ts: [1, 2, 3, 4].map((i) => T0 + i), device: ['d', 'd', 'd', 'd'], num: { y: [1, 2, null, 4], a: [1, 2, 3, 4], b: [2, 4, 6, 8] }, cat: {} };
  const err = t.throws(() => fitClean(f, [{ op: 'regression-impute', column: 'y', features: ['a', 'b'] }]), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_DATA');
  t.is(err?.message, "regression-impute of 'y': features a, b are constant or collinear on the training rows");
  const few = t.throws(() => fitClean({ ...f, num: { y: [1, null, null, null], a: [1, 2, 3, 4] } }, [{ op: 'regression-impute', column: 'y', features: ['a'] }]), { instanceOf: EdgeloopError });
  t.is(few?.message, "regression-impute of 'y': needs more than 1 complete training rows (column and features all present), found 1");
});

const cell = fc.option(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { nil: null, freq: 4 });
const arbFrame = fc
  .array(fc.record({ dt: fc.integer({ min: 0, max: 600_000 }), dev: fc.constantFrom('a', 'b'), x: cell, y: cell, c: fc.option(fc.constantFrom('p', 'q', 'r'), { nil: null }) }), { minLength: 1, maxLength: 40 })
  .map((rows): Frame => {
    let t = T0;
    const f: Frame = { ts: [], device: [], num: { x: [], y: [] }, cat: { c: [] } };
    for (const r of rows) {
      t += r.dt;
      f.ts.push(t);
      f.device.push(r.dev);
      f.num.x.push(r.x);
      f.num.y.push(r.y);
      f.cat.c.push(r.c);
    }
    return f;
  });

const fullSpec: CleanStep[] = [
  { op: 'dedupe', keys: ['device', 'ts'] },
  { op: 'sentinel', columns: ['x'], values: [0] },
  { op: 'fill', columns: ['x'], direction: 'forward', maxGapMs: 120_000 },
  { op: 'interpolate', columns: ['y'], maxGapMs: 300_000 },
  { op: 'iqr', columns: ['x'], action: 'null' },
  { op: 'zscore', columns: ['y'], k: 2 },
  { op: 'winsorize', columns: ['x', 'y'] },
  { op: 'log', columns: ['y'], negative: 'shift' },
  { op: 'knn-impute', columns: ['x', 'y'], k: 2 },
  { op: 'encode', column: 'c', method: 'one-hot', unseen: 'other' },
];

test('property: applyClean with the fitted state reproduces the fitted training frame', (t) => {
  fc.assert(
    fc.property(arbFrame, (train) => {
      const fit = fitClean(train, fullSpec);
      const again = applyClean(train, fullSpec, JSON.parse(JSON.stringify(fit.state)) as typeof fit.state);
      t.deepEqual(again.frame, fit.frame);
      t.deepEqual(again.report, fit.report);
    }),
    { numRuns: 150, seed: 7 },
  );
});

test('property: fill never fills across a gap larger than maxGapMs or more than maxRows rows', (t) => {
  fc.assert(
    fc.property(arbFrame, fc.integer({ min: 1, max: 300_000 }), fc.integer({ min: 1, max: 4 }), (f, maxGapMs, maxRows) => {
      const out = fitClean(f, [{ op: 'fill', columns: ['x'], direction: 'forward', maxGapMs, maxRows }]).frame;
      for (const dev of ['a', 'b']) {
        const idx = f.ts.map((_, i) => i).filter((i) => f.device[i] === dev).sort((a, b) => f.ts[a] - f.ts[b] || a - b);
        let last = -1;
        idx.forEach((i, p) => {
          if (f.num.x[i] !== null) {
            last = p;
            t.is(out.num.x[i], f.num.x[i]);
          } else if (out.num.x[i] !== null) {
            t.true(last >= 0 && p - last <= maxRows && f.ts[i] - f.ts[idx[last]] <= maxGapMs);
            t.is<number | null, number | null>(out.num.x[i], last >= 0 ? f.num.x[idx[last]] : null);
          }
        });
      }
    }),
    { numRuns: 150, seed: 11 },
  );
});
