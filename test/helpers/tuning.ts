/**
 * What the model-based tuning strategies (bayes, tpe) are tested on alike: Branin, regret medians
 * against random search over fixed seeds, a small discrete space to exhaust, and a ridge problem.
 */
import type { ExecutionContext } from 'ava';
import { optimize, search, type OptimizeOptions, type SearchResult, type Strategy } from '../../models/tuning/search.ts';
import type { Params, SearchSpace } from '../../models/tuning/space.ts';

/** Branin, negated (the search maximizes): maximum BRANIN_MAX at three points. */
export function branin(p: Params): { score: number } {
  const x = p.x as number; const y = p.y as number;
  const b = 5.1 / (4 * Math.PI ** 2); const c = 5 / Math.PI; const tt = 1 / (8 * Math.PI);
  return { score: -((y - b * x * x + c * x - 6) ** 2 + 10 * (1 - tt) * Math.cos(x) + 10) };
}
export const BRANIN_SPACE: SearchSpace = { x: { type: 'float', min: -5, max: 10 }, y: { type: 'float', min: 0, max: 15 } };
export const BRANIN_MAX = -0.397887;
export const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
/** Fixed seeds, so the figures are reproducible. */
export const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/** Regret on Branin after `maxTrials`, one per seed. */
export const braninRegrets = (strategy: Strategy, maxTrials: number): number[] =>
  SEEDS.map((seed) => BRANIN_MAX - optimize(branin, { space: BRANIN_SPACE, strategy, maxTrials, seed }).best.score);

/** Logs both medians and asserts the strategy's is below random's divided by `factor`. */
export function beatsRandom(t: ExecutionContext, name: Strategy, regrets: number[], random: number[], factor: number, digits: (v: number) => string = (v) => v.toFixed(3)): void {
  t.log(`median regret: ${name} ${digits(median(regrets))}, random ${digits(median(random))}`);
  t.true(median(regrets) < median(random) / factor, `${name} ${median(regrets)} vs random ${median(random)}`);
}

/** A 4 × 2 discrete space: the run must try each of the 8 points once and find k = 3, w = 'b'. */
export function exhaustsSmallSpace(t: ExecutionContext, options: Partial<OptimizeOptions> & { strategy: Strategy }): void {
  const small = optimize((p) => ({ score: -Math.abs((p.k as number) - 3) + (p.w === 'b' ? 0.5 : 0) }), {
    space: { k: { type: 'int', min: 1, max: 4 }, w: { type: 'categorical', values: ['a', 'b'] } }, maxTrials: 20, seed: 2, ...options,
  });
  t.is(small.trials.length, 8);
  t.is(new Set(small.trials.map((x) => JSON.stringify(x.params))).size, 8);
  t.deepEqual(small.best.params, { k: 3, w: 'b' });
}

/** search() tuning ridge's alpha on a log scale over 120 rows of a near-linear target (R² > 0.95 reachable). */
export function searchRidge(strategy: Strategy, maxTrials: number): SearchResult {
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 120; i++) {
    const row = [Math.sin(i), Math.cos(i * 0.7), ((i * 37) % 11) / 11];
    X.push(row);
    y.push(2 * row[0]! - row[1]! + 0.1 * Math.sin(i * 13));
  }
  return search({ kind: 'ridge', space: { alpha: { type: 'log-float', min: 1e-4, max: 1e3 } }, strategy, X, y, maxTrials, seed: 5, validation: { kind: 'kfold', k: 3 } });
}
