/**
 * Evaluation report on synthetic data whose diagnosis is known: a deep tree on noisy labels
 * overfits, a linear model on a quadratic target underfits, logistic regression on a linear
 * boundary fits. Metrics agree with models/metrics, importance ranks the informative feature first.
 */
import test from 'ava';
import * as metrics from '../models/metrics/index.ts';
import { createModel } from '../models/registry.ts';
import type { Classifier, Regressor } from '../models/types.ts';
import { evaluate, formatReport, type ClassificationMetrics, type RegressionMetrics } from '../models/evaluation/report.ts';
import { createRandom, type Random } from '../src/random.ts';
import { isEdgeloopError } from '../src/errors.ts';

interface Data { X: number[][]; y: number[] }

function classification(n: number, seed: number, flip: number): Data {
  const r: Random = createRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [r.next() * 2 - 1, r.next() * 2 - 1, r.next() * 2 - 1];
    X.push(row);
    const label = row[0] + 0.5 * row[1] > 0 ? 1 : 0;
    y.push(r.next() < flip ? 1 - label : label);
  }
  return { X, y };
}

function quadratic(n: number, seed: number): Data {
  const r = createRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [r.next() * 2 - 1, r.next()];
    X.push(row);
    y.push(row[0] ** 2 + 0.02 * (r.next() - 0.5));
  }
  return { X, y };
}

test('a deep tree on noisy labels → overfitting, with the gap and learning curve in words', async (t) => {
  const train = classification(500, 1, 0.2);
  const val = classification(300, 2, 0.2);
  const factory = (): Classifier => createModel('decision-tree-classifier', { seed: 0 }) as Classifier;
  const model = factory().fit(train.X, train.y);
  const report = await evaluate(model, { task: 'classification', train, val, factory, seed: 3 });
  t.is(report.diagnosis.verdict, 'overfitting');
  const tr = report.splits.train as ClassificationMetrics;
  const va = report.splits.val as ClassificationMetrics;
  t.is(tr.accuracy, 1);
  t.regex(report.diagnosis.text[0], new RegExp(`^overfitting: train accuracy 1\\.000 vs validation ${va.accuracy.toFixed(3).replace('.', '\\.')} \\(gap \\d+\\.\\d points > 3\\)`));
  t.is(report.diagnosis.gapPoints!.toFixed(6), (100 * (1 - va.accuracy)).toFixed(6));
  t.deepEqual(report.learningCurve!.map((p) => p.fraction), [0.1, 0.25, 0.5, 0.75, 1]);
  // Stratified subsamples: each class rounded on its own, so within a row or two of fraction × 500.
  report.learningCurve!.forEach((p, i) => t.true(Math.abs(p.nTrain - [50, 125, 250, 375, 500][i]) <= 2, `${p.fraction}: ${p.nTrain} rows`));
  t.is(report.learningCurve![4].nTrain, 500);
  t.true(report.learningCurve!.every((p) => p.trainScore === 1), 'a fully grown tree fits every subset');
  t.is(report.learningCurve![4].valScore, va.accuracy, 'the 100 % point is the same fit as the model');
  t.regex(report.diagnosis.text[1], /^more data (helps|does not help much): validation accuracy (rises|goes) from 0\.\d{3} at 10 % to 0\.\d{3} at 100 % of the training set/);
  t.log(report.diagnosis.text.join('\n'));
});

test('a linear model on a quadratic target → underfitting', async (t) => {
  const train = quadratic(400, 5);
  const val = quadratic(200, 6);
  const factory = (): Regressor => createModel('linear-regression') as Regressor;
  const report = await evaluate(factory().fit(train.X, train.y), { task: 'regression', train, val, factory, featureNames: ['x', 'noise'] });
  t.is(report.diagnosis.verdict, 'underfitting');
  const r2 = (report.splits.train as RegressionMetrics).r2;
  t.true(r2 < 0.1, `train R² ${r2}`);
  t.regex(report.diagnosis.text[0], /^underfitting: train R² -?0\.\d{3} < 0\.50, and validation R² -?0\.\d{3} is no better; try a more flexible model/);
  // At 40 rows even a straight line overshoots (validation R² < 0), so the curve may still rise a little.
  t.regex(report.diagnosis.text[1], /^more data (helps|does not help much): validation R² /);
  t.log(report.diagnosis.text.join('\n'));

  // The same data with a flexible model is not underfitting.
  const tree = (): Regressor => createModel('decision-tree-regressor', { maxDepth: 5 }) as Regressor;
  const better = await evaluate(tree().fit(train.X, train.y), { task: 'regression', train, val, importanceRepeats: 0 });
  t.not(better.diagnosis.verdict, 'underfitting');
});

test('underfitting for classification is measured against the majority-class rate', async (t) => {
  // XOR: no linear boundary does better than chance.
  const r = createRandom(9);
  const make = (n: number): Data => {
    const X: number[][] = []; const y: number[] = [];
    for (let i = 0; i < n; i++) { const a = r.next() * 2 - 1; const b = r.next() * 2 - 1; X.push([a, b]); y.push(a * b > 0 ? 1 : 0); }
    return { X, y };
  };
  const train = make(400); const val = make(200);
  const report = await evaluate(createModel('logistic-regression').fit(train.X, train.y) as Classifier, { task: 'classification', train, val, importanceRepeats: 0 });
  t.is(report.diagnosis.verdict, 'underfitting');
  t.regex(report.diagnosis.text[0], /^underfitting: train accuracy 0\.\d{3} is only \d+ % of the way from the majority-class rate 0\.5\d\d to 1 \(< 50 %\)/);
  t.is(report.learningCurve, undefined, 'no factory, no curve');
  t.is(report.diagnosis.text.length, 1);
});

test('logistic regression on a linear boundary → no sign of over- or underfitting; importance ranks x0 first', async (t) => {
  const train = classification(600, 11, 0.03);
  const val = classification(400, 12, 0.03);
  const factory = (): Classifier => createModel('logistic-regression') as Classifier;
  const model = factory().fit(train.X, train.y);
  const report = await evaluate(model, { task: 'classification', train, val, factory, featureNames: ['x0', 'x1', 'noise'], importanceRepeats: 5, seed: 1 });
  t.is(report.diagnosis.verdict, 'good-fit');
  t.regex(report.diagnosis.text[0], /^no sign of over- or underfitting: train accuracy 0\.9\d\d vs validation 0\.9\d\d \(gap -?\d\.\d points ≤ 3\)$/);
  const imp = report.importance!;
  t.is(imp.split, 'val');
  t.deepEqual(imp.features.map((f) => f.feature), ['x0', 'x1', 'noise']);
  t.true(imp.features[0].mean > 0.2, `x0 drop ${imp.features[0].mean}`);
  t.true(Math.abs(imp.features[2].mean) < 0.02, `noise drop ${imp.features[2].mean}`);
  t.true(imp.features.every((f) => f.drops.length === 5 && f.std >= 0));
  // Seeded: the same call gives the same report.
  const again = await evaluate(model, { task: 'classification', train, val, factory, featureNames: ['x0', 'x1', 'noise'], importanceRepeats: 5, seed: 1 });
  t.deepEqual(again, report);
  const text = formatReport(report);
  for (const part of ['Evaluation (classification, main metric accuracy)', 'ROC-AUC', 'confusion (val; rows true, columns predicted)', 'learning curve (val)', 'permutation importance (val, 5 repeats, drop in accuracy)', 'Diagnosis', 'no sign of over- or underfitting']) {
    t.true(text.includes(part), part);
  }
  t.log(text);
});

test('split metrics equal the metric functions (binary with calibration, multiclass OvR, regression)', async (t) => {
  const train = classification(300, 21, 0.1);
  const test1 = classification(200, 22, 0.1);
  const model = createModel('logistic-regression').fit(train.X, train.y) as Classifier;
  const report = await evaluate(model, { task: 'classification', train, tests: { test1 }, importanceRepeats: 2 });
  t.is(report.referenceSplit, 'test1');
  t.is(report.importance!.split, 'test1');
  t.regex(report.diagnosis.text[0], /test 'test1'/);
  const s = report.splits.test1 as ClassificationMetrics;
  const pred = model.predict(test1.X);
  const p1 = model.predictProba(test1.X).map((r) => r[1]);
  t.is(s.accuracy, metrics.accuracy(test1.y, pred));
  t.is(s.f1Macro, metrics.f1Score(test1.y, pred, { average: 'macro' }));
  t.is(s.precisionWeighted, metrics.precision(test1.y, pred, { average: 'weighted' }));
  t.is(s.binary!.recall, metrics.recall(test1.y, pred, { average: 'binary', posLabel: 1 }));
  t.is(s.rocAuc, metrics.rocAucBinary(test1.y, p1));
  t.is(s.prAuc, metrics.averagePrecision(test1.y, p1));
  t.is(s.brier, metrics.brierScore(test1.y, p1));
  t.deepEqual(s.calibration, metrics.calibrationCurve(test1.y, p1, { nBins: 10 }));
  t.deepEqual(s.confusion, metrics.confusionMatrix(test1.y, pred, [0, 1]));

  // Three classes: OvR macro ROC-AUC, macro average precision, multiclass Brier.
  const y3 = (d: Data): number[] => d.X.map((row) => (row[0] < -0.33 ? 0 : row[0] < 0.33 ? 1 : 2));
  const tr3 = { X: train.X, y: y3(train) };
  const te3 = { X: test1.X, y: y3(test1) };
  const m3 = createModel('knn-classifier', { k: 7 }).fit(tr3.X, tr3.y) as Classifier;
  const r3 = await evaluate(m3, { task: 'classification', train: tr3, val: te3, importanceRepeats: 0 });
  const s3 = r3.splits.val as ClassificationMetrics;
  const proba = m3.predictProba(te3.X);
  t.is(s3.binary, undefined);
  t.is(s3.calibration, undefined);
  t.is(s3.rocAuc, metrics.rocAucOvr(te3.y, proba, { labels: [0, 1, 2] }));
  t.is(s3.prAuc, [0, 1, 2].reduce((a, c) => a + metrics.averagePrecision(te3.y, proba.map((r) => r[c]), c), 0) / 3);
  t.true(Math.abs(s3.brier! - te3.y.reduce((a, v, i) => a + proba[i].reduce((b, p, k) => b + (p - (k === v ? 1 : 0)) ** 2, 0), 0) / te3.y.length) < 1e-12);
  t.deepEqual(s3.confusion.matrix.map((r) => r.length), [3, 3, 3]);

  // A split missing a class: AUCs left out with a note, the rest still measured.
  const only0 = { X: te3.X.filter((_, i) => te3.y[i] === 0), y: te3.y.filter((v) => v === 0) };
  const r4 = await evaluate(m3, { task: 'classification', train: tr3, tests: { only0 }, importanceRepeats: 0 });
  const s4 = r4.splits.only0 as ClassificationMetrics;
  t.is(s4.rocAuc, undefined);
  t.deepEqual(s4.notes, ['classes 1, 2 missing from this split: one-vs-rest ROC-AUC and PR-AUC are undefined']);

  const q = quadratic(200, 30);
  const reg = createModel('decision-tree-regressor', { maxDepth: 4 }).fit(q.X, q.y) as Regressor;
  const rr = await evaluate(reg, { task: 'regression', train: q, importanceRepeats: 0 });
  const sr = rr.splits.train as RegressionMetrics;
  const qp = reg.predict(q.X);
  t.deepEqual(sr, { task: 'regression', n: 200, mse: metrics.meanSquaredError(q.y, qp), rmse: Math.sqrt(metrics.meanSquaredError(q.y, qp)), mae: metrics.meanAbsoluteError(q.y, qp), r2: metrics.r2Score(q.y, qp) });
  t.is(rr.diagnosis.verdict, 'unknown');
  t.deepEqual(rr.diagnosis.text, ['no validation or test split: over/underfitting cannot be diagnosed']);
  t.true(formatReport(rr).includes('RMSE'));
});

test('bad calls → BAD_ARGUMENT naming the argument', async (t) => {
  const train = classification(60, 1, 0);
  const model = createModel('logistic-regression').fit(train.X, train.y) as Classifier;
  const bad = async (o: Record<string, unknown>, message: string): Promise<void> => {
    const err = await t.throwsAsync(evaluate(model, { task: 'classification', train, ...o } as Parameters<typeof evaluate>[1]));
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'), String(err));
    t.is(err!.message, message);
  };
  await bad({ task: 'clustering' }, `task must be 'classification' or 'regression', got "clustering"`);
  await bad({ train: { X: [[1, 2, 3]], y: [] } }, 'train must have as many rows in X as values in y (≥ 1), got 1 and 0');
  await bad({ val: { X: [[1, 2]], y: [1] } }, 'val.X[0] has 2 features, train has 3');
  await bad({ tests: { t1: { X: [], y: [] } } }, 'tests.t1 must have as many rows in X as values in y (≥ 1), got 0 and 0');
  await bad({ tests: { val: train } }, `tests.val: 'train' and 'val' are reserved split names`);
  await bad({ val: { X: [[0, 0, 0]], y: [7] } }, 'val.y contains label 7, which is not one of classes (0, 1)');
  await bad({ val: train, fractions: [0.5, 0.25] }, 'fractions must be increasing values in (0, 1], got [0.5, 0.25]');
  await bad({ val: train, importanceRepeats: 2.5 }, 'importance.repeats must be an integer in [1, 1000], got 2.5');
  await bad({ val: train, featureNames: ['a'] }, 'featureNames must name each of the 3 columns, got 1 names');
  await bad({ classes: [1] }, 'classification needs at least 2 classes, got [1]');
});
