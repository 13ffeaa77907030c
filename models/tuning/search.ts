/**
 * Hyper-parameter search over a declared space: grid, seeded random sampling, or Bayesian
 * optimization: a Gaussian process + expected improvement (bayes.ts) or the Tree-structured Parzen
 * Estimator (tpe.ts). `search()` scores each
 * trial of a model kind on a validation split or by k-fold CV; `optimize()` runs the same loop on
 * any objective. Trials are reported through onTrial (so the gateway can store them) and
 * onProgress (the CLI draws the bar). Budget in trials and/or time (injectable clock).
 * Resume: pass earlier trials in `completed`; their parameter sets are not run again, and the
 * bayes and tpe strategies refit their models (GP, Parzen densities) from them.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { createRandom, shuffleInPlace, type Random } from '../../src/random.ts';
import { createModel } from '../registry.ts';
import type { Classifier, Regressor } from '../types.ts';
import { BAYES_DEFAULTS, proposeBayes, type BayesOptions } from './bayes.ts';
import { proposeTpe, TPE_DEFAULTS, type TpeOptions } from './tpe.ts';
import { checkSpace, gridValues, sampleParams, type Params, type SearchSpace } from './space.ts';

export type { CategoricalValue, Dimension, Params, SearchSpace } from './space.ts';
export type { BayesOptions } from './bayes.ts';
export type { TpeOptions } from './tpe.ts';

export type Strategy = 'grid' | 'random' | 'bayes' | 'tpe';
export const STRATEGIES: readonly Strategy[] = ['grid', 'random', 'bayes', 'tpe'];

export interface Trial { index: number; params: Params; score: number; metrics: Record<string, number>; durationMs: number }

/** The loop options shared by every objective. */
export interface OptimizeOptions {
  space: SearchSpace;
  strategy: Strategy;
  /** Trial budget (default: the whole grid; 20 for random and bayes). Completed trials count. */
  maxTrials?: number;
  maxTimeMs?: number;
  /** Grid points per numeric dimension (default 5). */
  gridSteps?: number;
  seed?: number;
  /** Bayesian strategy knobs (defaults BAYES_DEFAULTS). */
  bayes?: Partial<BayesOptions>;
  /** TPE strategy knobs (defaults TPE_DEFAULTS). */
  tpe?: Partial<TpeOptions>;
  completed?: readonly Trial[];
  onTrial?: (trial: Trial) => void;
  onProgress?: (done: number, total: number) => void;
  now?: () => number;
}

export interface SearchOptions extends OptimizeOptions {
  kind: string;
  /** Params fixed for every trial (merged under the searched ones). */
  fixed?: Record<string, unknown>;
  X: number[][];
  y: number[];
  /**
   * 'holdout' keeps the last valShare of a seeded shuffle for validation; 'kfold' averages k folds;
   * 'given' fits on all of X and scores on a separate validation split (e.g. a later recording).
   */
  validation?: { kind: 'holdout'; valShare: number } | { kind: 'kfold'; k: number } | { kind: 'given'; X: number[][]; y: number[] };
}

export interface SearchResult { best: Trial; trials: Trial[] }

/** What one evaluation returns: higher score is better; metrics are stored with the trial. */
export type Objective = (params: Params) => { score: number; metrics?: Record<string, number> };

function folds(n: number, v: Exclude<NonNullable<SearchOptions['validation']>, { kind: 'given' }>, random: Random): { train: number[]; val: number[] }[] {
  const idx = shuffleInPlace(Array.from({ length: n }, (_, i) => i), random);
  if (v.kind === 'holdout') {
    if (!(v.valShare > 0 && v.valShare < 1)) throw new EdgeloopError('BAD_ARGUMENT', `validation.valShare must be in (0, 1), got ${v.valShare}`);
    const cut = Math.round(n * (1 - v.valShare));
    return [{ train: idx.slice(0, cut), val: idx.slice(cut) }];
  }
  if (!Number.isInteger(v.k) || v.k < 2 || v.k > n) throw new EdgeloopError('BAD_ARGUMENT', `validation.k must be an integer in [2, ${n}], got ${v.k}`);
  return Array.from({ length: v.k }, (_, f) => ({ train: idx.filter((_, i) => i % v.k !== f), val: idx.filter((_, i) => i % v.k === f) }));
}

function checkOptions(o: OptimizeOptions): { bayes: BayesOptions; tpe: TpeOptions } {
  checkSpace(o.space);
  if (!STRATEGIES.includes(o.strategy)) throw new EdgeloopError('BAD_ARGUMENT', `strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(o.strategy)}`);
  if (o.maxTrials !== undefined && !(Number.isInteger(o.maxTrials) && o.maxTrials >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `maxTrials must be an integer >= 1, got ${o.maxTrials}`);
  if (o.maxTimeMs !== undefined && !(o.maxTimeMs > 0)) throw new EdgeloopError('BAD_ARGUMENT', `maxTimeMs must be > 0, got ${o.maxTimeMs}`);
  if (o.gridSteps !== undefined && !(Number.isInteger(o.gridSteps) && o.gridSteps >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `gridSteps must be an integer >= 1, got ${o.gridSteps}`);
  const b = { ...BAYES_DEFAULTS, ...(o.bayes ?? {}) };
  for (const name of ['initialTrials', 'candidates', 'localBest', 'localPerTrial'] as const) {
    const min = name === 'initialTrials' || name === 'candidates' ? 1 : 0;
    if (!(Number.isInteger(b[name]) && b[name] >= min)) throw new EdgeloopError('BAD_ARGUMENT', `bayes.${name} must be an integer >= ${min}, got ${b[name]}`);
  }
  if (!(b.localScale > 0 && b.localScale <= 1)) throw new EdgeloopError('BAD_ARGUMENT', `bayes.localScale must be in (0, 1], got ${b.localScale}`);
  if (!(b.xi >= 0 && Number.isFinite(b.xi))) throw new EdgeloopError('BAD_ARGUMENT', `bayes.xi must be a finite number >= 0, got ${b.xi}`);
  const tpe = { ...TPE_DEFAULTS, ...(o.tpe ?? {}) };
  for (const name of ['initialTrials', 'candidates'] as const) {
    if (!(Number.isInteger(tpe[name]) && tpe[name] >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `tpe.${name} must be an integer >= 1, got ${tpe[name]}`);
  }
  if (!(tpe.gamma > 0 && tpe.gamma < 1)) throw new EdgeloopError('BAD_ARGUMENT', `tpe.gamma must be in (0, 1), got ${tpe.gamma}`);
  if (!(tpe.priorWeight > 0 && Number.isFinite(tpe.priorWeight))) throw new EdgeloopError('BAD_ARGUMENT', `tpe.priorWeight must be a finite number > 0, got ${tpe.priorWeight}`);
  return { bayes: b, tpe };
}

/** Runs the search loop on any objective (higher score is better). */
export function optimize(objective: Objective, o: OptimizeOptions): SearchResult {
  const { bayes, tpe } = checkOptions(o);
  const now = o.now ?? Date.now;
  const seed = o.seed ?? 0;
  const names = Object.keys(o.space);
  const key = (p: Params): string => JSON.stringify(names.map((n) => p[n]));
  const trials: Trial[] = [...(o.completed ?? [])];
  const done = new Set(trials.map((t) => key(t.params)));
  // next(): the next params to run, or undefined when the strategy has nothing left.
  let next: () => Params | undefined;
  let total: number;
  if (o.strategy === 'bayes' || o.strategy === 'tpe') {
    total = Math.max(trials.length, o.maxTrials ?? 20);
    next = o.strategy === 'bayes' ? () => proposeBayes(o.space, trials, seed, bayes, key) : () => proposeTpe(o.space, trials, seed, tpe, key);
  } else {
    let candidates: Params[];
    if (o.strategy === 'grid') {
      candidates = [{}];
      for (const name of names) {
        const vals = gridValues(o.space[name], o.gridSteps ?? 5);
        candidates = candidates.flatMap((c) => vals.map((v) => ({ ...c, [name]: v })));
      }
    } else {
      const random = createRandom(seed);
      candidates = Array.from({ length: o.maxTrials ?? 20 }, () => sampleParams(o.space, random));
    }
    const todo = candidates.filter((c) => !done.has(key(c))).slice(0, Math.max(0, (o.maxTrials ?? Infinity) - trials.length));
    total = trials.length + todo.length;
    next = () => todo.shift();
  }
  const start = now();
  while (trials.length < total) {
    if (o.maxTimeMs !== undefined && now() - start >= o.maxTimeMs) break;
    const params = next();
    if (params === undefined) break;
    const t0 = now();
    const { score, metrics } = objective(params);
    if (!Number.isFinite(score)) throw new EdgeloopError('BAD_DATA', `trial ${trials.length} (${key(params)}) scored ${score}; the objective must return a finite score`);
    const trial: Trial = { index: trials.length, params, score, metrics: { score, ...(metrics ?? {}) }, durationMs: now() - t0 };
    trials.push(trial);
    done.add(key(params));
    o.onTrial?.(trial);
    o.onProgress?.(trials.length, total);
  }
  if (trials.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'search ran no trial: maxTrials or maxTimeMs is too small');
  const best = trials.reduce((a, b) => (b.score > a.score ? b : a));
  return { best, trials };
}

/** Higher is better: accuracy for classifiers, R² for regressors. */
export function search(o: SearchOptions): SearchResult {
  checkSpace(o.space);
  const v = o.validation ?? { kind: 'holdout', valShare: 0.25 };
  if (v.kind === 'given') {
    if (v.X.length === 0 || v.X.length !== v.y.length) throw new EdgeloopError('BAD_ARGUMENT', `validation split must have rows and one target per row, got ${v.X.length} rows and ${v.y.length} targets`);
    return optimize((params) => {
      const m = createModel(o.kind, { ...(o.fixed ?? {}), ...params }) as Classifier | Regressor;
      m.fit(o.X, o.y);
      return { score: m.score(v.X, v.y) };
    }, o);
  }
  const splits = folds(o.X.length, v, createRandom((o.seed ?? 0) ^ 0x5bd1e995));
  return optimize((params) => {
    const scores = splits.map(({ train, val }) => {
      const m = createModel(o.kind, { ...(o.fixed ?? {}), ...params }) as Classifier | Regressor;
      m.fit(train.map((i) => o.X[i]), train.map((i) => o.y[i]));
      return m.score(val.map((i) => o.X[i]), val.map((i) => o.y[i]));
    });
    const score = scores.reduce((a, b) => a + b, 0) / scores.length;
    return { score, metrics: { scoreStd: Math.sqrt(scores.reduce((a, s) => a + (s - score) ** 2, 0) / scores.length) } };
  }, o);
}
