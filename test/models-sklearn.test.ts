/**
 * Models against scikit-learn on fixed datasets (scripts/golden/models.py): accuracy / R² within
 * a tolerance, coefficients where the optimum is unique, plus determinism, JSON and IR round trips.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createModel, fromJSON, type ModelKind } from '../models/registry.ts';
import type { Classifier, Regressor } from '../models/types.ts';
import { adjustedRandIndexLike } from './helpers/models-partition.ts';
import { evaluateIR } from './helpers/models-ir-eval.ts';

interface Set { Xtr: number[][]; ytr: number[]; Xte: number[][]; yte: number[]; results: Record<string, { accuracy?: number; r2?: number; coef?: number[][] | number[]; intercept?: number[] | number; proba?: number[][]; trainAccuracy?: number }> }
const golden = JSON.parse(readFileSync(new URL('./fixtures/models-golden.json', import.meta.url), 'utf8')) as
  { binary: Set; multi: Set; regression: Set; clustering: { X: number[][]; truth: number[]; kmeansInertia: number; dbscan: number[] } & Record<string, number[]> };

const CLASSIFIERS: [string, ModelKind, Record<string, unknown>, number][] = [
  ['logistic-regression', 'logistic-regression', {}, 0.02],
  ['logistic-l1', 'logistic-regression', { penalty: 'l1', C: 0.5 }, 0.02],
  ['lda', 'lda', {}, 0.02],
  ['decision-tree-classifier', 'decision-tree-classifier', {}, 0.07],
  ['random-forest-classifier', 'random-forest-classifier', {}, 0.04],
  ['gradient-boosting-classifier', 'gradient-boosting-classifier', {}, 0.04],
  ['knn-classifier', 'knn-classifier', {}, 0],
  ['svc-rbf', 'svc', { kernel: 'rbf' }, 0.02],
  // sklearn's SVC is one-vs-one for multiclass, ours one-vs-rest (one LinearIR): a little wider.
  ['svc-linear', 'svc', { kernel: 'linear' }, 0.05],
  ['adaboost-classifier', 'adaboost-classifier', {}, 0.08],
];

for (const setName of ['binary', 'multi'] as const) {
  const set = golden[setName];
  for (const [ref, kind, params, tol] of CLASSIFIERS) {
    test(`${setName}: ${ref} test accuracy within ${tol} of sklearn`, (t) => {
      const m = createModel(kind, params) as Classifier;
      m.fit(set.Xtr, set.ytr);
      const acc = m.score(set.Xte, set.yte);
      const want = set.results[ref].accuracy!;
      t.true(Math.abs(acc - want) <= tol + 1e-12, `${ref}: ours ${acc.toFixed(3)} vs sklearn ${want.toFixed(3)}`);
      const proba = m.predictProba(set.Xte);
      for (const row of proba) t.true(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    });
  }

  // LDA is left out: the sets have a redundant (collinear) feature, so its coefficients are not unique.
  test(`${setName}: logistic L2 and L1 coefficients match sklearn (unique optimum)`, (t) => {
    for (const [ref, kind, params, rel] of [['logistic-regression', 'logistic-regression', {}, 1e-4], ['logistic-l1', 'logistic-regression', { penalty: 'l1', C: 0.5 }, 2e-3]] as const) {
      const m = createModel(kind, params) as Classifier & { coef: number[][]; intercept: number[] };
      m.fit(set.Xtr, set.ytr);
      const want = set.results[ref];
      const wantCoef = want.coef as number[][];
      const scale = Math.max(...wantCoef.flat().map(Math.abs));
      m.coef.flat().forEach((v, i) => t.true(Math.abs(v - wantCoef.flat()[i]) <= rel * scale, `${ref} coef[${i}] ${v} vs ${wantCoef.flat()[i]}`));
      m.intercept.forEach((v, i) => t.true(Math.abs(v - (want.intercept as number[])[i]) <= rel * Math.max(1, scale), `${ref} intercept[${i}]`));
    }
  });

  test(`${setName}: kNN probabilities equal sklearn`, (t) => {
    const m = createModel('knn-classifier').fit(set.Xtr, set.ytr);
    const want = set.results['knn-classifier'].proba!;
    m.predictProba(set.Xte).forEach((row, i) => row.forEach((v, k) => t.true(Math.abs(v - want[i][k]) < 1e-12)));
  });

  test(`${setName}: decision tree fits the training set perfectly (as sklearn: ${set.results['decision-tree-classifier'].trainAccuracy})`, (t) => {
    t.is(createModel('decision-tree-classifier').fit(set.Xtr, set.ytr).score(set.Xtr, set.ytr), set.results['decision-tree-classifier'].trainAccuracy!);
  });
}

const REGRESSORS: [ModelKind, Record<string, unknown>, number][] = [
  ['linear-regression', {}, 1e-9], ['ridge', { alpha: 10 }, 1e-9], ['lasso', { alpha: 2, tol: 1e-12, maxIter: 100000 }, 1e-6],
  ['decision-tree-regressor', {}, 0.12], ['random-forest-regressor', {}, 0.03], ['gradient-boosting-regressor', {}, 0.02], ['knn-regressor', {}, 1e-9],
];
for (const [kind, params, tol] of REGRESSORS) {
  test(`regression: ${kind} R² within ${tol} of sklearn`, (t) => {
    const set = golden.regression;
    const m = createModel(kind, params) as Regressor;
    m.fit(set.Xtr, set.ytr);
    const r2 = m.score(set.Xte, set.yte);
    const want = set.results[kind];
    t.true(Math.abs(r2 - want.r2!) <= tol, `ours ${r2} vs sklearn ${want.r2}`);
    if (want.coef) {
      const coef = (m as unknown as { coef: number[] }).coef;
      (want.coef as number[]).forEach((w, j) => t.true(Math.abs(coef[j] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `coef[${j}] ${coef[j]} vs ${w}`));
    }
  });
}

test('clustering: k-means inertia equals sklearn; agglomerative and DBSCAN partitions equal sklearn', (t) => {
  const c = golden.clustering;
  const km = createModel('kmeans', { nClusters: 3, seed: 1 }).fit(c.X);
  t.true(Math.abs(km.inertia - c.kmeansInertia) <= 1e-6 * c.kmeansInertia, `${km.inertia} vs ${c.kmeansInertia}`);
  for (const linkage of ['ward', 'complete', 'average', 'single'] as const) {
    const labels = createModel('agglomerative', { nClusters: 3, linkage }).fitPredict(c.X);
    t.is(adjustedRandIndexLike(labels, c[`agglomerative_${linkage}`]), 1, linkage);
  }
  t.deepEqual(createModel('dbscan', { eps: 1, minSamples: 5 }).fitPredict(c.X), c.dbscan);
});

test('determinism: same seed gives the same forest, another seed a different one', (t) => {
  const s = golden.multi;
  const a = createModel('random-forest-classifier', { nEstimators: 10, seed: 3 }).fit(s.Xtr, s.ytr).predictProba(s.Xte);
  const b = createModel('random-forest-classifier', { nEstimators: 10, seed: 3 }).fit(s.Xtr, s.ytr).predictProba(s.Xte);
  const c = createModel('random-forest-classifier', { nEstimators: 10, seed: 4 }).fit(s.Xtr, s.ytr).predictProba(s.Xte);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});

const EXPORTABLE: [ModelKind, Record<string, unknown>, 'binary' | 'multi' | 'regression'][] = [
  ['logistic-regression', {}, 'binary'], ['logistic-regression', {}, 'multi'], ['lda', {}, 'binary'], ['lda', {}, 'multi'],
  ['svc', { kernel: 'linear' }, 'binary'], ['svc', { kernel: 'linear' }, 'multi'],
  ['decision-tree-classifier', {}, 'multi'], ['random-forest-classifier', { nEstimators: 20 }, 'binary'],
  ['gradient-boosting-classifier', { nEstimators: 30 }, 'binary'], ['gradient-boosting-classifier', { nEstimators: 30 }, 'multi'],
  ['linear-regression', {}, 'regression'], ['ridge', {}, 'regression'], ['lasso', {}, 'regression'],
  ['decision-tree-regressor', {}, 'regression'], ['random-forest-regressor', { nEstimators: 10 }, 'regression'], ['gradient-boosting-regressor', { nEstimators: 30 }, 'regression'],
];
for (const [kind, params, setName] of EXPORTABLE) {
  test(`toIR round trip: ${kind} ${JSON.stringify(params)} on ${setName} reproduces the model's outputs; JSON round trip too`, (t) => {
    const s = golden[setName];
    const m = createModel(kind, params).fit(s.Xtr, s.ytr) as Classifier | Regressor;
    const ir = evaluateIR(m.toIR(), s.Xte);
    const ours = m.task === 'classification' ? m.predictProba(s.Xte) : m.predict(s.Xte).map((v) => [v]);
    const svcLinear = kind === 'svc';
    if (svcLinear) t.deepEqual(ir.map((r) => r.indexOf(Math.max(...r))), ours.map((r) => r.indexOf(Math.max(...r))));
    else ours.forEach((row, i) => row.forEach((v, k) => t.true(Math.abs(v - ir[i][k]) < 1e-9, `${kind} row ${i} out ${k}: ${v} vs ${ir[i][k]}`)));
    const back = fromJSON(JSON.parse(JSON.stringify(m.toJSON()))) as Classifier | Regressor;
    t.deepEqual(back.predict(s.Xte), m.predict(s.Xte));
  });
}

for (const kind of ['knn-classifier', 'adaboost-classifier', 'voting-classifier', 'bagging-classifier'] as const) {
  test(`${kind}: no IR form → MODEL_UNSUPPORTED naming the kind; JSON round trip works`, (t) => {
    const s = golden.binary;
    const m = createModel(kind).fit(s.Xtr, s.ytr);
    const err = t.throws(() => m.toIR());
    t.is((err as { code?: string }).code, 'MODEL_UNSUPPORTED');
    t.regex(err!.message, new RegExp(`^${kind} has no IR form`));
    t.deepEqual((fromJSON(JSON.parse(JSON.stringify(m.toJSON()))) as Classifier).predict(s.Xte), m.predict(s.Xte));
  });
}

test('svc rbf has no IR form', (t) => {
  const s = golden.binary;
  const err = t.throws(() => createModel('svc').fit(s.Xtr, s.ytr).toIR());
  t.is((err as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.regex(err!.message, /^svc has no IR form/);
});

test('ensembles: soft voting and bagging are at least as good as their weakest member on the multi set', (t) => {
  const s = golden.multi;
  const soft = createModel('voting-classifier', { voting: 'soft' }).fit(s.Xtr, s.ytr).score(s.Xte, s.yte);
  const bag = createModel('bagging-classifier', { nEstimators: 20, seed: 1 }).fit(s.Xtr, s.ytr).score(s.Xte, s.yte);
  const tree = createModel('decision-tree-classifier').fit(s.Xtr, s.ytr).score(s.Xte, s.yte);
  t.true(soft >= 0.73, `soft voting ${soft}`);
  t.true(bag >= tree, `bagging ${bag} vs single tree ${tree}`);
});
