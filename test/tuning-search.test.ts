/** Grid and random search: trials reported, budget honoured (injected clock), resume skips done trials. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { search, type Trial } from '../models/tuning/search.ts';
import { isEdgeloopError } from '../src/errors.ts';

const g = JSON.parse(readFileSync(new URL('./fixtures/models-golden.json', import.meta.url), 'utf8')) as { binary: { Xtr: number[][]; ytr: number[] } };
const { Xtr: X, ytr: y } = g.binary;

test('grid search over k and weights runs every point, reports each, and finds the best', (t) => {
  const seen: Trial[] = [];
  const progress: number[] = [];
  const r = search({ kind: 'knn-classifier', space: { k: { type: 'int', min: 1, max: 21 }, weights: { type: 'categorical', values: ['uniform', 'distance'] } },
    strategy: 'grid', gridSteps: 3, X, y, validation: { kind: 'kfold', k: 3 }, onTrial: (tr) => seen.push(tr), onProgress: (d) => progress.push(d) });
  t.is(r.trials.length, 6);
  t.deepEqual(seen, r.trials);
  t.deepEqual(progress, [1, 2, 3, 4, 5, 6]);
  t.is(r.best.score, Math.max(...r.trials.map((x) => x.score)));
  t.deepEqual(Array.from(new Set(r.trials.map((x) => x.params.k))), [1, 11, 21]);
});

test('random search is seeded, resumable, and stops on the time budget of an injected clock', (t) => {
  const space = { C: { type: 'log-float', min: 1e-3, max: 1e3 } } as const;
  const a = search({ kind: 'logistic-regression', space, strategy: 'random', X, y, maxTrials: 4, seed: 9 });
  const b = search({ kind: 'logistic-regression', space, strategy: 'random', X, y, maxTrials: 4, seed: 9 });
  t.deepEqual(a.trials.map((x) => x.params), b.trials.map((x) => x.params));
  let ran = 0;
  const resumed = search({ kind: 'logistic-regression', space, strategy: 'random', X, y, maxTrials: 4, seed: 9, completed: a.trials.slice(0, 3), onTrial: () => ran++ });
  t.is(ran, 1);
  t.is(resumed.trials.length, 4);
  let clock = 0;
  const timed = search({ kind: 'logistic-regression', space, strategy: 'random', X, y, maxTrials: 10, seed: 1, maxTimeMs: 100, now: () => (clock += 30) });
  t.true(timed.trials.length < 10 && timed.trials.length >= 1, `${timed.trials.length} trials`);
});

test('bad space → BAD_ARGUMENT naming the dimension', (t) => {
  const err = t.throws(() => search({ kind: 'ridge', space: { alpha: { type: 'log-float', min: 0, max: 1 } }, strategy: 'grid', X, y }));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.regex(err!.message, /space.alpha: log-float needs 0 < min <= max, got \[0, 1\]/);
  const err2 = t.throws(() => search({ kind: 'ridge', space: { alpha: { type: 'float', min: 0, max: 1 } }, strategy: 'grid', X, y, validation: { kind: 'kfold', k: 1 } }));
  t.regex(err2!.message, /validation.k must be an integer in \[2, 300\], got 1/);
});
