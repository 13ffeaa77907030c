// Golden tests: src/clean against pandas / numpy / scikit-learn (scripts/golden/clean.py).
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import type { Frame } from '../src/frame.ts';
import { fitClean, type CleanState } from '../src/clean/index.ts';
import { median, mean, mode, present, quantile, std } from '../src/clean/stats.ts';

type Col = (number | null)[];
interface Golden {
  cases: {
    stats: { x: Col; median: number; mean: number; stdPop: number; q1: number; q3: number; iqrLower: number; iqrUpper: number; p05: number; p95: number; winsorized: Col; iqrNulled: Col };
    interpolateTime: { ts: number[]; v: Col; expected: Col };
    ffillLimit: { v: Col; limit: number; ffill: Col; bfill: Col };
    knn: { X: Col[]; k: number; expected: Col[] };
    regression: { a: Col; b: Col; y: Col; intercept: number; coef: number[]; expected: Col };
    resample: { ts: number[]; v: Col; intervalMs: number; binTs: number[]; mean: Col; max: Col };
    mode: { num: Col; numMode: number; cat: (string | null)[]; catMode: string };
  };
}
const g = JSON.parse(readFileSync(new URL('./fixtures/clean-golden.json', import.meta.url), 'utf8')) as Golden;
const c = g.cases;

function close(t: ExecutionContext, actual: number | null, expected: number | null, what: string, tol = 1e-9): void {
  if (expected === null || actual === null) {
    t.is(actual, expected, what);
    return;
  }
  t.true(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}
function closeCol(t: ExecutionContext, actual: Col, expected: Col, what: string, tol = 1e-9): void {
  t.is(actual.length, expected.length, `${what} length`);
  expected.forEach((e, i) => close(t, actual[i], e, `${what}[${i}]`, tol));
}
function frameOf(num: Record<string, Col>, ts?: number[], device?: string[]): Frame {
  const n = Object.values(num)[0].length;
  return { ts: ts ?? Array.from({ length: n }, (_, i) => 1_423_072_260_000 + i * 60_000), device: device ?? new Array<string>(n).fill('d1'), num, cat: {} };
}

test('median, mean, population std and linear quantiles match pandas', (t) => {
  const xs = present(c.stats.x);
  close(t, median(xs), c.stats.median, 'median');
  close(t, mean(xs), c.stats.mean, 'mean');
  close(t, std(xs), c.stats.stdPop, 'std');
  close(t, quantile(xs, 0.25), c.stats.q1, 'q1');
  close(t, quantile(xs, 0.75), c.stats.q3, 'q3');
  close(t, quantile(xs, 0.05), c.stats.p05, 'p05');
  close(t, quantile(xs, 0.95), c.stats.p95, 'p95');
});

test('iqr (null) and winsorize bounds and outputs match pandas', (t) => {
  const iqrFit = fitClean(frameOf({ x: c.stats.x }), [{ op: 'iqr', columns: ['x'], action: 'null' }]);
  closeCol(t, iqrFit.frame.num.x, c.stats.iqrNulled, 'iqr');
  const st = iqrFit.state.steps[0] as Extract<CleanState['steps'][number], { op: 'iqr' }>;
  close(t, st.bounds.x?.lower ?? null, c.stats.iqrLower, 'lower');
  close(t, st.bounds.x?.upper ?? null, c.stats.iqrUpper, 'upper');
  t.is(iqrFit.report.steps[0].changes.x?.nulled, c.stats.x.filter((v, i) => v !== null && c.stats.iqrNulled[i] === null).length);
  const w = fitClean(frameOf({ x: c.stats.x }), [{ op: 'winsorize', columns: ['x'], lower: 0.05, upper: 0.95 }]);
  closeCol(t, w.frame.num.x, c.stats.winsorized, 'winsorized');
});

test("interpolate matches pandas interpolate(method='time', limit_area='inside')", (t) => {
  const r = fitClean(frameOf({ v: c.interpolateTime.v }, c.interpolateTime.ts), [{ op: 'interpolate', columns: ['v'] }]);
  closeCol(t, r.frame.num.v, c.interpolateTime.expected, 'v');
  t.is(r.report.steps[0].changes.v?.interpolated, 5); // holes 5-7, 20, 33; 0 and 39 are outside
});

test('fill with maxRows matches pandas ffill(limit) and bfill(limit)', (t) => {
  const f = frameOf({ v: c.ffillLimit.v });
  closeCol(t, fitClean(f, [{ op: 'fill', columns: ['v'], direction: 'forward', maxRows: c.ffillLimit.limit }]).frame.num.v, c.ffillLimit.ffill, 'ffill');
  closeCol(t, fitClean(f, [{ op: 'fill', columns: ['v'], direction: 'backward', maxRows: c.ffillLimit.limit }]).frame.num.v, c.ffillLimit.bfill, 'bfill');
});

test('knn-impute matches scikit-learn KNNImputer(n_neighbors=3)', (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const num: Record<string, Col> = {};
  names.forEach((n, j) => (num[n] = c.knn.X.map((row) => row[j])));
  const r = fitClean(frameOf(num), [{ op: 'knn-impute', columns: names, k: c.knn.k }]);
  names.forEach((n, j) => closeCol(t, r.frame.num[n], c.knn.expected.map((row) => row[j]), n, 1e-9));
  const missing = c.knn.X.flat().filter((v) => v === null).length;
  const imputed = names.reduce((s, n) => s + (r.report.steps[0].changes[n]?.imputed ?? 0), 0);
  t.is(imputed, missing);
});

test('regression-impute matches scikit-learn LinearRegression', (t) => {
  const r = fitClean(frameOf({ a: c.regression.a, b: c.regression.b, y: c.regression.y }), [{ op: 'regression-impute', column: 'y', features: ['a', 'b'] }]);
  const st = r.state.steps[0] as Extract<CleanState['steps'][number], { op: 'regression-impute' }>;
  close(t, st.intercept, c.regression.intercept, 'intercept', 1e-8);
  closeCol(t, st.coefficients, c.regression.coef, 'coef', 1e-8);
  closeCol(t, r.frame.num.y, c.regression.expected, 'y', 1e-8);
  t.is(r.report.steps[0].changes.y?.imputed, 4);
});

test("resample mean and max match pandas resample('1min')", (t) => {
  const f = frameOf({ v: c.resample.v }, c.resample.ts);
  const mean1 = fitClean(f, [{ op: 'resample', intervalMs: c.resample.intervalMs }]);
  t.deepEqual(mean1.frame.ts, c.resample.binTs);
  closeCol(t, mean1.frame.num.v, c.resample.mean, 'mean');
  t.is(mean1.report.steps[0].changes.v?.missing, c.resample.mean.filter((v) => v === null).length);
  const max1 = fitClean(f, [{ op: 'resample', intervalMs: c.resample.intervalMs, agg: 'max' }]);
  closeCol(t, max1.frame.num.v, c.resample.max, 'max');
});

test('mode ties go to the smallest value, as pandas mode()[0]', (t) => {
  t.is(mode(c.mode.num), c.mode.numMode);
  t.is(mode(c.mode.cat), c.mode.catMode);
});
