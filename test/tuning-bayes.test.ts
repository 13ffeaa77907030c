/**
 * Bayesian optimization: the GP against numpy (scripts/golden/gp.py), Bayes beating random search
 * on synthetic objectives (medians over 9 seeds), determinism, resume equivalence, budgets, and the
 * bad calls.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { encode, decode, type SearchSpace, type Params } from '../models/tuning/space.ts';
import { expectedImprovement, fitGp, gpWithHyper, normalCdf } from '../models/tuning/gp.ts';
import { optimize, type Objective, type Trial } from '../models/tuning/search.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { beatsRandom, branin, BRANIN_SPACE, braninRegrets, exhaustsSmallSpace, median, SEEDS, searchRidge } from './helpers/tuning.ts';

interface Golden {
  X: number[][]; y: number[]; Xs: number[][];
  cases: { hyper: { lengthScale: number; signalVariance: number; noiseVariance: number }; mean: number[]; variance: number[]; logMarginalLikelihood: number }[];
  best: { lengthScale: number; signalVariance: number; noiseVariance: number };
  ei: { mean: number; variance: number; best: number; xi: number; ei: number }[];
  cdf: { x: number; cdf: number }[];
}
const g = JSON.parse(readFileSync(new URL('./fixtures/gp-golden.json', import.meta.url), 'utf8')) as Golden;

const close = (a: number, b: number, tol: number): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('GP posterior mean, variance and log marginal likelihood match numpy', (t) => {
  for (const c of g.cases) {
    const gp = gpWithHyper(g.X, g.y, c.hyper);
    t.true(close(gp.logMarginalLikelihood, c.logMarginalLikelihood, 1e-8), `lml ${gp.logMarginalLikelihood} vs ${c.logMarginalLikelihood}`);
    g.Xs.forEach((x, i) => {
      const p = gp.predict(x);
      t.true(close(p.mean, c.mean[i], 1e-7), `mean ${p.mean} vs ${c.mean[i]} (${JSON.stringify(c.hyper)})`);
      t.true(Math.abs(p.variance - c.variance[i]) < 1e-7, `variance ${p.variance} vs ${c.variance[i]}`);
    });
  }
  const fitted = fitGp(g.X, g.y);
  t.deepEqual(fitted.hyper, g.best);
});

test('expected improvement and the normal CDF match scipy', (t) => {
  for (const e of g.ei) t.true(Math.abs(expectedImprovement(e.mean, e.variance, e.best, e.xi) - e.ei) < 1e-6, `EI ${JSON.stringify(e)}`);
  for (const c of g.cdf) t.true(Math.abs(normalCdf(c.x) - c.cdf) < 2e-7, `cdf(${c.x})`);
});

test('unit-cube encoding: log space, rounded ints, one-hot categoricals, round trip', (t) => {
  const space: SearchSpace = { lr: { type: 'log-float', min: 1e-4, max: 1 }, depth: { type: 'int', min: 1, max: 9 }, crit: { type: 'categorical', values: ['gini', 'entropy', 'log'] } };
  t.deepEqual(encode(space, { lr: 1e-2, depth: 5, crit: 'entropy' }).map((v) => Number(v.toFixed(12))), [0.5, 0.5, 0, 1, 0]);
  const d = decode(space, [0.5, 0.56, 0.2, 0.1, 0.7]);
  t.true(close(d.lr as number, 1e-2, 1e-12));
  t.deepEqual([d.depth, d.crit], [5, 'log']);
  const p: Params = { lr: 3e-3, depth: 2, crit: 'gini' };
  const back = decode(space, encode(space, p));
  t.true(close(back.lr as number, 3e-3, 1e-12));
  t.is(back.depth, 2);
  t.is(back.crit, 'gini');
});

const wavy: Objective = (p) => ({ score: -(Math.sin(3 * (p.x as number)) + (p.x as number) ** 2 - 0.7 * (p.x as number)) });

test('Bayes beats random search on 2-D Branin with 20 trials (median over 9 seeds)', (t) => {
  const bayes = braninRegrets('bayes', 20);
  beatsRandom(t, 'bayes', bayes, braninRegrets('random', 20), 2);
  t.true(median(bayes) < 1, `bayes median regret ${median(bayes)}`);
});

test('Bayes beats random search on a 1-D multimodal function with 10 trials (median over 9 seeds)', (t) => {
  const best = (strategy: 'bayes' | 'random'): number[] => SEEDS.map((seed) => optimize(wavy, { space: { x: { type: 'float', min: -1, max: 2 } }, strategy, maxTrials: 10, seed }).best.score);
  // The maximum on [-1, 2] by a dense scan.
  let top = -Infinity;
  for (let i = 0; i <= 300_000; i++) top = Math.max(top, wavy({ x: -1 + (3 * i) / 300_000 }).score);
  const b = best('bayes').map((s) => top - s);
  const r = best('random').map((s) => top - s);
  beatsRandom(t, 'bayes', b, r, 5, (v) => v.toExponential(2));
  t.true(median(b) < 1e-2);
});

test('Bayes is deterministic with a seed; different seeds differ; onTrial/onProgress as grid and random', (t) => {
  const seen: Trial[] = [];
  const progress: [number, number][] = [];
  const a = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 8, seed: 3, onTrial: (tr) => seen.push(tr), onProgress: (d, n) => progress.push([d, n]) });
  const b = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 8, seed: 3 });
  const c = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 8, seed: 4 });
  t.deepEqual(a.trials.map((x) => x.params), b.trials.map((x) => x.params));
  t.notDeepEqual(a.trials.map((x) => x.params), c.trials.map((x) => x.params));
  t.deepEqual(seen, a.trials);
  t.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8].map((d) => [d, 8]));
  t.deepEqual(a.trials.map((x) => x.index), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('resume: completed trials refit the GP and the rest of the run is identical', (t) => {
  const full = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 10, seed: 11 });
  let ran = 0;
  const resumed = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 10, seed: 11, completed: full.trials.slice(0, 7), onTrial: () => ran++ });
  t.is(ran, 3);
  t.deepEqual(resumed.trials.map((x) => x.params), full.trials.map((x) => x.params));
  t.deepEqual(resumed.best.params, full.best.params);
});

test('budget: time limit on an injected clock; a small discrete space is exhausted without repeats', (t) => {
  let clock = 0;
  const timed = optimize(branin, { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 30, seed: 1, maxTimeMs: 100, now: () => (clock += 10) });
  t.true(timed.trials.length >= 1 && timed.trials.length < 30, `${timed.trials.length} trials`);
  exhaustsSmallSpace(t, { strategy: 'bayes', bayes: { initialTrials: 3 } });
});

test('search() with strategy bayes tunes a real model kind (ridge alpha on a log scale)', (t) => {
  const r = searchRidge('bayes', 8);
  t.is(r.trials.length, 8);
  t.true(r.best.score > 0.95, `best R² ${r.best.score}`);
  t.true((r.best.params.alpha as number) < 10, `alpha ${r.best.params.alpha}`);
  t.true(r.trials.every((x) => x.metrics.scoreStd >= 0));
});

test('bad spaces and options → BAD_ARGUMENT naming the dimension or option', (t) => {
  const bad = (space: unknown, extra: Record<string, unknown> = {}): string => {
    const err = t.throws(() => optimize(branin, { space: space as SearchSpace, strategy: 'bayes', ...extra }));
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'), String(err));
    return err!.message;
  };
  t.is(bad({}), 'space must declare at least 1 dimension');
  t.is(bad({ lr: { type: 'log-float', min: 0, max: 1 } }), 'space.lr: log-float needs 0 < min <= max, got [0, 1]');
  t.is(bad({ x: { type: 'float', min: 2, max: 1 } }), 'space.x: float needs min <= max, got [2, 1]');
  t.is(bad({ x: { type: 'float', min: 0, max: Infinity } }), 'space.x: float needs finite min and max, got [0, Infinity]');
  t.is(bad({ depth: { type: 'int', min: 1, max: 2.5 } }), 'space.depth: int needs min <= max (integers), got [1, 2.5]');
  t.is(bad({ c: { type: 'categorical', values: [] } }), 'space.c: categorical values must be non-empty');
  t.is(bad({ c: { type: 'categorical', values: ['a', 'a'] } }), 'space.c: categorical values must be distinct, got ["a","a"]');
  t.is(bad({ q: { type: 'normal', min: 0, max: 1 } }), 'space.q: type must be one of int, float, log-float, categorical, got "normal"');
  t.is(bad(BRANIN_SPACE, { strategy: 'anneal' }), 'strategy must be one of grid, random, bayes, tpe, got "anneal"');
  t.is(bad(BRANIN_SPACE, { maxTrials: 0 }), 'maxTrials must be an integer >= 1, got 0');
  t.is(bad(BRANIN_SPACE, { bayes: { initialTrials: 0 } }), 'bayes.initialTrials must be an integer >= 1, got 0');
  t.is(bad(BRANIN_SPACE, { bayes: { localScale: 2 } }), 'bayes.localScale must be in (0, 1], got 2');
  const err = t.throws(() => optimize(() => ({ score: Number.NaN }), { space: BRANIN_SPACE, strategy: 'bayes', maxTrials: 2 }));
  t.true(isEdgeloopError(err, 'BAD_DATA'));
  t.regex(err!.message, /^trial 0 \(.*\) scored NaN; the objective must return a finite score$/);
});
