import test from 'ava';
import { readFileSync } from 'node:fs';
import { applyScaler, fitScaler, scaleRow } from '../src/scale/scaler.ts';

const golden = JSON.parse(readFileSync(new URL('./fixtures/features-scale.json', import.meta.url), 'utf8')) as Record<'train' | 'test' | 'standard' | 'minmax' | 'robust', number[][]>;

function allClose(t: { true(v: boolean, m?: string): void }, a: number[][], b: number[][]): void {
  a.forEach((row, i) => row.forEach((v, j) => t.true(Math.abs(v - b[i][j]) <= 1e-12 * Math.max(1, Math.abs(b[i][j])), `[${i}][${j}] ${v} vs ${b[i][j]}`)));
}

test('standard scaler matches scikit-learn StandardScaler (incl. a constant column)', (t) => {
  allClose(t, applyScaler(golden.test, fitScaler(golden.train, { type: 'standard' })), golden.standard);
});

test('min-max scaler to [-1, 2] matches scikit-learn MinMaxScaler', (t) => {
  allClose(t, applyScaler(golden.test, fitScaler(golden.train, { type: 'minmax', rangeMin: -1, rangeMax: 2 })), golden.minmax);
});

test('robust scaler (10–90 % quantiles) matches scikit-learn RobustScaler', (t) => {
  allClose(t, applyScaler(golden.test, fitScaler(golden.train, { type: 'robust', quantileLow: 0.1, quantileHigh: 0.9 })), golden.robust);
});

test('bad scaler input is rejected with a code and the offending argument', (t) => {
  const e1 = t.throws(() => fitScaler([], { type: 'standard' }));
  t.is((e1 as { code?: string }).code, 'BAD_DATA');
  t.is(e1?.message, "fitScaler: X must have at least one row to fit a 'standard' scaler");
  const e2 = t.throws(() => fitScaler([[1], [NaN]], { type: 'standard' }));
  t.is(e2?.message, 'fitScaler: X[1][0] must be finite, got NaN');
  const params = fitScaler([[1, 2]], { type: 'none' });
  const e3 = t.throws(() => scaleRow([1], params));
  t.is((e3 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e3?.message, 'scaleRow: row must have 2 values, got 1');
});
