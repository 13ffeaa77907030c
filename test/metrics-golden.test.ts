/**
 * Metrics against scikit-learn golden values (scripts/golden/metrics.py), plus every bad call.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import * as M from '../models/metrics/index.ts';
import { isEdgeloopError } from '../src/errors.ts';

interface Prf { precision: number; recall: number; f1: number }
interface Golden {
  regression: { yTrue: number[]; yPred: number[]; mse: number; rmse: number; mae: number; r2: number }[];
  classification: ({ yTrue: number[]; yPred: number[]; accuracy: number; confusion: number[][]; labels: number[] } & Partial<Record<'macro' | 'weighted' | 'micro' | 'binary', Prf>>)[];
  binary_scores: { yTrue: number[]; score: number[]; rocAuc: number; averagePrecision: number }[];
  multiclass_scores: { yTrue: number[]; proba: number[][]; macro: number; weighted: number }[];
  calibration: { yTrue: number[]; prob: number[]; nBins: number; strategy: 'uniform' | 'quantile'; probTrue: number[]; probPred: number[]; brier: number }[];
  clustering: { X: number[][]; labels: number[]; silhouette: number; daviesBouldin: number }[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/metrics-golden.json', import.meta.url), 'utf8')) as Golden;
const near = (a: number, b: number, tol = 1e-10): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

golden.regression.forEach((c, i) => {
  test(`regression case ${i} (n=${c.yTrue.length}): mse/rmse/mae/r2 match sklearn`, (t) => {
    t.true(near(M.meanSquaredError(c.yTrue, c.yPred), c.mse));
    t.true(near(M.rootMeanSquaredError(c.yTrue, c.yPred), c.rmse));
    t.true(near(M.meanAbsoluteError(c.yTrue, c.yPred), c.mae));
    t.true(near(M.r2Score(c.yTrue, c.yPred), c.r2));
  });
});

golden.classification.forEach((c, i) => {
  test(`classification case ${i}: accuracy, confusion and P/R/F1 per average match sklearn`, (t) => {
    t.true(near(M.accuracy(c.yTrue, c.yPred), c.accuracy));
    const cm = M.confusionMatrix(c.yTrue, c.yPred);
    t.deepEqual(cm.labels, c.labels);
    t.deepEqual(cm.matrix, c.confusion);
    for (const average of ['macro', 'weighted', 'micro', 'binary'] as const) {
      const want = c[average];
      if (!want) continue;
      const got = M.precisionRecallF1(c.yTrue, c.yPred, { average });
      t.true(near(got.precision, want.precision), `${average} precision ${got.precision} vs ${want.precision}`);
      t.true(near(got.recall, want.recall), `${average} recall`);
      t.true(near(got.f1, want.f1), `${average} f1`);
      t.true(near(M.f1Score(c.yTrue, c.yPred, { average }), want.f1));
    }
  });
});

golden.binary_scores.forEach((c, i) => {
  test(`binary scores case ${i}: ROC-AUC and average precision match sklearn`, (t) => {
    t.true(near(M.rocAucBinary(c.yTrue, c.score), c.rocAuc), `${M.rocAucBinary(c.yTrue, c.score)} vs ${c.rocAuc}`);
    t.true(near(M.averagePrecision(c.yTrue, c.score), c.averagePrecision), `${M.averagePrecision(c.yTrue, c.score)} vs ${c.averagePrecision}`);
  });
});

golden.multiclass_scores.forEach((c, i) => {
  test(`multiclass case ${i}: one-vs-rest ROC-AUC macro/weighted match sklearn`, (t) => {
    t.true(near(M.rocAucOvr(c.yTrue, c.proba), c.macro));
    t.true(near(M.rocAucOvr(c.yTrue, c.proba, { average: 'weighted' }), c.weighted));
  });
});

golden.calibration.forEach((c, i) => {
  test(`calibration case ${i} (${c.strategy}, ${c.nBins} bins): curve and Brier match sklearn`, (t) => {
    const got = M.calibrationCurve(c.yTrue, c.prob, { nBins: c.nBins, strategy: c.strategy });
    t.is(got.probTrue.length, c.probTrue.length);
    got.probTrue.forEach((v, k) => t.true(near(v, c.probTrue[k])));
    got.probPred.forEach((v, k) => t.true(near(v, c.probPred[k])));
    t.is(got.count.reduce((a, b) => a + b, 0), c.yTrue.length);
    t.true(near(M.brierScore(c.yTrue, c.prob), c.brier));
  });
});

golden.clustering.forEach((c, i) => {
  test(`clustering case ${i}: silhouette and Davies-Bouldin match sklearn`, (t) => {
    t.true(near(M.silhouetteScore(c.X, c.labels), c.silhouette, 1e-9));
    t.true(near(M.daviesBouldinScore(c.X, c.labels), c.daviesBouldin, 1e-9));
  });
});

test('perfect and constant cases', (t) => {
  t.is(M.r2Score([2, 2, 2], [2, 2, 2]), 1);
  t.is(M.r2Score([2, 2, 2], [2, 2, 3]), 0);
  t.is(M.rocAucBinary([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
  t.is(M.rocAucBinary([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
  t.is(M.averagePrecision([0, 1, 1], [0.1, 0.9, 0.8]), 1);
});

const bad: [string, () => unknown, RegExp][] = [
  ['empty yTrue', () => M.meanSquaredError([], []), /yTrue must be a non-empty array/],
  ['length mismatch', () => M.accuracy([1, 2], [1]), /yPred must have the same length as yTrue \(2\), got 1/],
  ['NaN value', () => M.meanAbsoluteError([1, Number.NaN], [1, 2]), /yTrue\[1\] must be a finite number, got NaN/],
  ['binary with 3 labels', () => M.precision([0, 1, 2], [0, 1, 2]), /average 'binary' needs at most 2 labels, got 3/],
  ['posLabel absent', () => M.recall([3, 4], [3, 4], { posLabel: 1 }), /posLabel 1 is not one of the labels \(3, 4\)/],
  ['single class AUC', () => M.rocAucBinary([1, 1], [0.2, 0.3]), /ROC-AUC is undefined when yTrue has only one class/],
  ['single class AP', () => M.averagePrecision([0, 0], [0.2, 0.3]), /average precision is undefined/],
  ['proba width', () => M.rocAucOvr([0, 1, 2], [[1, 0], [0, 1], [0, 1]]), /proba rows must have one column per label \(3/],
  ['probability out of range', () => M.brierScore([0, 1], [0.2, 1.5]), /prob\[1\] must be a probability in \[0, 1\], got 1.5/],
  ['nBins', () => M.calibrationCurve([0, 1], [0.2, 0.5], { nBins: 0 }), /nBins must be an integer in \[1, 10000\], got 0/],
  ['one cluster', () => M.silhouetteScore([[0], [1], [2]], [0, 0, 0]), /labels must form between 2 and n-1 \(2\) clusters, got 1/],
  ['labels length', () => M.daviesBouldinScore([[0], [1], [2]], [0, 1]), /labels must have one value per row of X \(3\), got 2/],
];
for (const [name, call, message] of bad) {
  test(`bad call: ${name} → BAD_ARGUMENT`, (t) => {
    const err = t.throws(call);
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
    t.regex(err!.message, message);
  });
}
