/**
 * TPE (models/tuning/tpe.ts): the Parzen estimator against scipy's truncated normal
 * (scripts/golden/tpe.py), TPE beating random search on known functions (medians over 9 seeds, fixed
 * seeds so the figures are reproducible), determinism, resume equivalence, an exhausted discrete
 * space, a real model kind, and the bad options.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createRandom } from '../src/random.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { beatsRandom, branin, BRANIN_SPACE, braninRegrets, exhaustsSmallSpace, median, SEEDS, searchRidge } from './helpers/tuning.ts';
import { optimize, type Objective } from '../models/tuning/search.ts';
import type { SearchSpace } from '../models/tuning/space.ts';
import { categoricalDensity, parzen, parzenLogPdf, parzenSample } from '../models/tuning/tpe.ts';

interface Golden {
  cases: { observations: number[]; priorWeight: number; mus: number[]; sigmas: number[]; weights: number[]; xs: number[]; logPdf: number[] }[];
}
const g = JSON.parse(readFileSync(new URL('./fixtures/tpe-golden.json', import.meta.url), 'utf8')) as Golden;

test('Parzen estimator: components (bandwidths, weights) and truncated log density match scipy', (t) => {
  for (const c of g.cases) {
    const p = parzen(c.observations, c.priorWeight);
    t.deepEqual(p.mus, c.mus);
    p.sigmas.forEach((s, i) => t.true(Math.abs(s - c.sigmas[i]!) < 1e-12, `sigma ${s} vs ${c.sigmas[i]}`));
    p.weights.forEach((w, i) => t.true(Math.abs(w - c.weights[i]!) < 1e-12, `weight ${w} vs ${c.weights[i]}`));
    // gp.ts's normal CDF is accurate to ~1.2e-7, hence the tolerance.
    c.xs.forEach((x, i) => t.true(Math.abs(parzenLogPdf(p, x) - c.logPdf[i]!) < 1e-6, `log pdf at ${x}: ${parzenLogPdf(p, x)} vs ${c.logPdf[i]}`));
  }
});

test('Parzen sampling stays in [0, 1] and follows the density (histogram vs integrated pdf)', (t) => {
  const p = parzen([0.1, 0.15, 0.8], 1);
  const r = createRandom(5);
  const bins = new Array<number>(10).fill(0);
  const n = 40_000;
  for (let i = 0; i < n; i++) {
    const x = parzenSample(p, r);
    t.true(x >= 0 && x <= 1);
    bins[Math.min(9, Math.floor(x * 10))]!++;
  }
  for (let b = 0; b < 10; b++) {
    let mass = 0;
    for (let k = 0; k < 100; k++) mass += Math.exp(parzenLogPdf(p, (b + (k + 0.5) / 100) / 10)) / 1000;
    t.true(Math.abs(bins[b]! / n - mass) < 0.01, `bin ${b}: ${bins[b]! / n} vs ${mass}`);
  }
  t.deepEqual(categoricalDensity([0, 0, 2], 3, 1).map((v) => Number(v.toFixed(12))), [7 / 12, 1 / 12, 4 / 12].map((v) => Number(v.toFixed(12))));
});

test('TPE beats random search on 2-D Branin with 30 trials (median regret over 9 seeds)', (t) => {
  const tpe = braninRegrets('tpe', 30);
  beatsRandom(t, 'tpe', tpe, braninRegrets('random', 30), 2);
  t.true(median(tpe) < 0.6, `tpe median regret ${median(tpe)}`);
});

test('TPE beats random search on a mixed space (float, log-float, int, categorical) with 50 trials', (t) => {
  const space: SearchSpace = {
    a: { type: 'float', min: -5, max: 5 }, b: { type: 'float', min: -5, max: 5 }, lr: { type: 'log-float', min: 1e-5, max: 1 },
    k: { type: 'int', min: 1, max: 50 }, c: { type: 'categorical', values: ['x', 'y', 'z'] },
  };
  // Maximum 0 at a = 1.3, b = −2.1, lr = 1e-3, k = 17, c = 'y'.
  const f: Objective = (p) => ({ score: -(((p.a as number) - 1.3) ** 2 + ((p.b as number) + 2.1) ** 2 + (Math.log10(p.lr as number) + 3) ** 2 + (((p.k as number) - 17) / 10) ** 2 + (p.c === 'y' ? 0 : 1)) });
  const regret = (strategy: 'tpe' | 'random'): number[] => SEEDS.map((seed) => -optimize(f, { space, strategy, maxTrials: 50, seed }).best.score);
  beatsRandom(t, 'tpe', regret('tpe'), regret('random'), 2);
});

test('TPE is deterministic with a seed, differs across seeds, and resumes to the uninterrupted run', (t) => {
  const a = optimize(branin, { space: BRANIN_SPACE, strategy: 'tpe', maxTrials: 16, seed: 3 });
  const b = optimize(branin, { space: BRANIN_SPACE, strategy: 'tpe', maxTrials: 16, seed: 3 });
  const c = optimize(branin, { space: BRANIN_SPACE, strategy: 'tpe', maxTrials: 16, seed: 4 });
  t.deepEqual(a.trials.map((x) => x.params), b.trials.map((x) => x.params));
  t.notDeepEqual(a.trials.map((x) => x.params), c.trials.map((x) => x.params));
  let ran = 0;
  const resumed = optimize(branin, { space: BRANIN_SPACE, strategy: 'tpe', maxTrials: 16, seed: 3, completed: a.trials.slice(0, 12), onTrial: () => ran++ });
  t.is(ran, 4);
  t.deepEqual(resumed.trials.map((x) => x.params), a.trials.map((x) => x.params));
});

test('TPE exhausts a small discrete space without repeats and finds its best point', (t) => {
  exhaustsSmallSpace(t, { strategy: 'tpe', tpe: { initialTrials: 3 } });
});

test('search() with strategy tpe tunes a real model kind (ridge alpha on a log scale)', (t) => {
  const r = searchRidge('tpe', 14);
  t.is(r.trials.length, 14);
  t.true(r.best.score > 0.95, `best R² ${r.best.score}`);
});

test('bad TPE options → BAD_ARGUMENT naming the option', (t) => {
  const bad = (tpe: Record<string, unknown>): string => {
    const err = t.throws(() => optimize(branin, { space: BRANIN_SPACE, strategy: 'tpe', tpe }));
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'), String(err));
    return err!.message;
  };
  t.is(bad({ initialTrials: 0 }), 'tpe.initialTrials must be an integer >= 1, got 0');
  t.is(bad({ candidates: 2.5 }), 'tpe.candidates must be an integer >= 1, got 2.5');
  t.is(bad({ gamma: 1 }), 'tpe.gamma must be in (0, 1), got 1');
  t.is(bad({ priorWeight: 0 }), 'tpe.priorWeight must be a finite number > 0, got 0');
});
