/**
 * The occupancy goal: train on datatraining.txt, test on datatest.txt / datatest2.txt with the 5
 * sensors + seconds since midnight + weekend flag. LDA must reach the authors' 0.979 / 0.993.
 */
import test from 'ava';
import { createModel } from '../models/registry.ts';
import { readOccupancy } from './helpers/models-occupancy.ts';
import { evaluateIR } from './helpers/models-ir-eval.ts';

const train = readOccupancy('datatraining.txt');
const t1 = readOccupancy('datatest.txt');
const t2 = readOccupancy('datatest2.txt');

test('features: 8143/2665/9752 rows, 7 columns, weekend flag set on Sat/Sun only', (t) => {
  t.is(train.X.length, 8143); t.is(t1.X.length, 2665); t.is(t2.X.length, 9752);
  t.is(train.X[0].length, 7);
  t.deepEqual(train.X[0], [23.18, 27.272, 426, 721.25, 0.00479298817650529, 17 * 3600 + 51 * 60, 0]);
  t.is(t1.X.filter((r) => r[6] === 1).length, 0); // Mon 2 – Wed 4 Feb 2015
  t.true(train.X.some((r) => r[6] === 1)); // includes Sat 7 / Sun 8 Feb
});

test('LDA (exportable) reaches >= 0.979 on test 1 and >= 0.993 on test 2, and its IR agrees', (t) => {
  const m = createModel('lda').fit(train.X, train.y);
  const a1 = m.score(t1.X, t1.y);
  const a2 = m.score(t2.X, t2.y);
  t.log(`lda: test1 ${a1.toFixed(4)} test2 ${a2.toFixed(4)}`);
  // 2609/2665 = 0.97899: the authors' (and scikit-learn's) LDA figure 0.9790, compared at 3 decimals.
  t.true(Math.round(a1 * 1000) / 1000 >= 0.979 && a1 >= 2609 / 2665, `test1 ${a1}`);
  t.true(a2 >= 0.993, `test2 ${a2}`);
  const irPred = evaluateIR(m.toIR(), t2.X).map((p) => (p[1] > 0.5 ? 1 : 0));
  t.deepEqual(irPred, m.predict(t2.X));
});

test('other families land where the authors report them (RF ~0.95/0.98, logistic ~0.98/0.99)', (t) => {
  const rf = createModel('random-forest-classifier', { nEstimators: 30, seed: 0 }).fit(train.X, train.y);
  const lr = createModel('logistic-regression').fit(train.X, train.y);
  const acc = { rf: [rf.score(t1.X, t1.y), rf.score(t2.X, t2.y)], lr: [lr.score(t1.X, t1.y), lr.score(t2.X, t2.y)] };
  t.log(JSON.stringify(acc));
  t.true(acc.rf[0] > 0.93 && acc.rf[1] > 0.96);
  t.true(acc.lr[0] > 0.975 && acc.lr[1] > 0.99);
});
