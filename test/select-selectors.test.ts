import test from 'ava';
import { correlationFilter, discreteMutualInfo, mutualInfoScores, mutualInfoSelect, quantileBins, recursiveElimination, varianceThreshold, type FeatureModel } from '../src/select/selectors.ts';
import { createRandom } from '../src/random.ts';

const random = createRandom(12);
const n = 400;
const y = Array.from({ length: n }, () => (random.next() < 0.4 ? 1 : 0));
// col0: label + noise (informative), col1: constant, col2: pure noise, col3: 2·col0 + 1 (redundant), col4: weakly informative
const X = y.map((l) => {
  const a = l + random.next() * 0.5;
  return [a, 7, random.next(), 2 * a + 1, l * 0.3 + random.next()];
});

test('variance threshold drops the constant column', (t) => {
  t.deepEqual(varianceThreshold(X, 0), [0, 2, 3, 4]);
  t.deepEqual(varianceThreshold([[0], [2]], 1), []); // variance exactly 1 (ddof 0) is not > 1
  t.is(t.throws(() => varianceThreshold(X, -1))?.message, 'threshold must be ≥ 0, got -1');
});

test('correlation filter keeps the first of a perfectly correlated pair', (t) => {
  t.deepEqual(correlationFilter(X, 0.95), [0, 1, 2, 4]);
  const err = t.throws(() => correlationFilter(X, 0));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(err?.message, 'maxAbsR must be in (0, 1], got 0');
});

test('mutual information: a copy of the label carries H(y); noise carries ~0; ranking picks informative columns', (t) => {
  const p = y.filter((v) => v === 1).length / n;
  const h = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
  t.true(Math.abs(discreteMutualInfo(Int32Array.from(y), y) - h) < 1e-12);
  const scores = mutualInfoScores(X, y, 8);
  t.true(scores[0] > 0.5 * h);
  t.is(scores[1], 0);
  t.true(scores[2] < 0.05);
  t.deepEqual(mutualInfoSelect(X, y, 8, 2), [0, 3]);
  t.is(t.throws(() => mutualInfoSelect(X, y, 1, 2))?.message, 'bins must be an integer in [2, 256], got 1');
  t.is(t.throws(() => mutualInfoSelect(X, y, 8, 6))?.message, 'keep must be an integer in [1, 5], got 6');
});

test('quantile bins are equal-frequency and keep ties together', (t) => {
  t.deepEqual([...quantileBins(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 4)], [0, 0, 1, 1, 2, 2, 3, 3]);
  t.deepEqual([...quantileBins(Float64Array.from([1, 1, 1, 1, 2]), 4)], [0, 0, 0, 0, 3]);
});

/** Least-squares linear model (normal equations); importance = |coef| · std of the column. */
class LinearModel implements FeatureModel {
  private imp: number[] = [];
  fit(Xf: number[][], yf: number[]): void {
    const p = Xf[0].length;
    const means = Array.from({ length: p }, (_, j) => Xf.reduce((s, r) => s + r[j], 0) / Xf.length);
    const ym = yf.reduce((a, b) => a + b, 0) / yf.length;
    const A = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => Xf.reduce((s, r) => s + (r[i] - means[i]) * (r[j] - means[j]), 0) + (i === j ? 1e-9 : 0)));
    const b = Array.from({ length: p }, (_, i) => Xf.reduce((s, r, k) => s + (r[i] - means[i]) * (yf[k] - ym), 0));
    for (let i = 0; i < p; i++) { // Gauss–Jordan
      for (let k = 0; k < p; k++) {
        if (k === i) continue;
        const f = A[k][i] / A[i][i];
        for (let j = 0; j < p; j++) A[k][j] -= f * A[i][j];
        b[k] -= f * b[i];
      }
    }
    this.imp = b.map((v, i) => Math.abs(v / A[i][i]) * Math.sqrt(Xf.reduce((s, r) => s + (r[i] - means[i]) ** 2, 0) / Xf.length));
  }
  importances(): number[] {
    return this.imp;
  }
}

test('RFE with a linear model keeps the informative columns', (t) => {
  const noConst = X.map((r) => [r[0], r[2], r[4]]);
  let fits = 0;
  const kept = recursiveElimination(noConst, y, 2, 1, () => {
    fits++;
    return new LinearModel();
  });
  t.deepEqual(kept, [0, 2]);
  t.is(fits, 1);
  const bad = t.throws(() => recursiveElimination(noConst, y, 1, 1, () => ({ fit: () => {}, importances: () => [1] })));
  t.is((bad as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(bad?.message, 'model.importances() must return 3 values, got 1');
  t.is(t.throws(() => recursiveElimination(noConst, y, 1, 0, () => new LinearModel()))?.message, 'step must be an integer ≥ 1, got 0');
});
