/**
 * Hyper-parameter search over a declared space: grid or seeded random sampling, each trial scored
 * on a validation split or by k-fold CV, reported through onTrial (so the gateway can store it)
 * and onProgress (the CLI draws the bar). Budget in trials and/or time (injectable clock).
 * Resume: pass earlier trials in `completed`; their parameter sets are not run again.
 * Not yet here: Bayesian optimization (GP + expected improvement) — see the report.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { createRandom, shuffleInPlace, type Random } from '../../src/random.ts';
import { createModel } from '../registry.ts';
import type { Classifier, Regressor } from '../types.ts';

export type Dimension =
  | { type: 'int'; min: number; max: number }
  | { type: 'float'; min: number; max: number }
  | { type: 'log-float'; min: number; max: number }
  | { type: 'categorical'; values: readonly (string | number | boolean | null)[] };
export type SearchSpace = Record<string, Dimension>;
export type Params = Record<string, string | number | boolean | null>;

export interface Trial { index: number; params: Params; score: number; metrics: Record<string, number>; durationMs: number }

export interface SearchOptions {
  kind: string;
  /** Params fixed for every trial (merged under the searched ones). */
  fixed?: Record<string, unknown>;
  space: SearchSpace;
  strategy: 'grid' | 'random';
  X: number[][];
  y: number[];
  /** 'holdout' keeps the last valShare of a seeded shuffle for validation; 'kfold' averages k folds. */
  validation?: { kind: 'holdout'; valShare: number } | { kind: 'kfold'; k: number };
  maxTrials?: number;
  maxTimeMs?: number;
  /** Grid points per numeric dimension (default 5). */
  gridSteps?: number;
  seed?: number;
  completed?: readonly Trial[];
  onTrial?: (trial: Trial) => void;
  onProgress?: (done: number, total: number) => void;
  now?: () => number;
}

export interface SearchResult { best: Trial; trials: Trial[] }

function gridValues(d: Dimension, steps: number): (string | number | boolean | null)[] {
  switch (d.type) {
    case 'categorical': return [...d.values];
    case 'int': {
      const n = Math.min(steps, d.max - d.min + 1);
      return Array.from(new Set(Array.from({ length: n }, (_, i) => Math.round(d.min + ((d.max - d.min) * i) / Math.max(1, n - 1)))));
    }
    case 'float': return Array.from({ length: steps }, (_, i) => d.min + ((d.max - d.min) * i) / Math.max(1, steps - 1));
    case 'log-float': return Array.from({ length: steps }, (_, i) => Math.exp(Math.log(d.min) + ((Math.log(d.max) - Math.log(d.min)) * i) / Math.max(1, steps - 1)));
    default: { const never: never = d; return never; }
  }
}

function sample(d: Dimension, r: Random): string | number | boolean | null {
  switch (d.type) {
    case 'categorical': return d.values[r.int(d.values.length)];
    case 'int': return d.min + r.int(d.max - d.min + 1);
    case 'float': return d.min + (d.max - d.min) * r.next();
    case 'log-float': return Math.exp(Math.log(d.min) + (Math.log(d.max) - Math.log(d.min)) * r.next());
    default: { const never: never = d; return never; }
  }
}

function checkSpace(space: SearchSpace): void {
  if (Object.keys(space).length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'space must declare at least 1 dimension');
  for (const [name, d] of Object.entries(space)) {
    if (d.type === 'categorical') {
      if (d.values.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: categorical values must be non-empty`);
    } else if (!(d.min <= d.max) || (d.type === 'log-float' && !(d.min > 0)) || (d.type === 'int' && !(Number.isInteger(d.min) && Number.isInteger(d.max)))) {
      throw new EdgeloopError('BAD_ARGUMENT', `space.${name}: ${d.type} needs ${d.type === 'log-float' ? '0 < ' : ''}min <= max${d.type === 'int' ? ' (integers)' : ''}, got [${d.min}, ${d.max}]`);
    }
  }
}

function folds(n: number, v: NonNullable<SearchOptions['validation']>, random: Random): { train: number[]; val: number[] }[] {
  const idx = shuffleInPlace(Array.from({ length: n }, (_, i) => i), random);
  if (v.kind === 'holdout') {
    if (!(v.valShare > 0 && v.valShare < 1)) throw new EdgeloopError('BAD_ARGUMENT', `validation.valShare must be in (0, 1), got ${v.valShare}`);
    const cut = Math.round(n * (1 - v.valShare));
    return [{ train: idx.slice(0, cut), val: idx.slice(cut) }];
  }
  if (!Number.isInteger(v.k) || v.k < 2 || v.k > n) throw new EdgeloopError('BAD_ARGUMENT', `validation.k must be an integer in [2, ${n}], got ${v.k}`);
  return Array.from({ length: v.k }, (_, f) => ({ train: idx.filter((_, i) => i % v.k !== f), val: idx.filter((_, i) => i % v.k === f) }));
}

/** Higher is better: accuracy for classifiers, R² for regressors. */
export function search(o: SearchOptions): SearchResult {
  checkSpace(o.space);
  const now = o.now ?? Date.now;
  const random = createRandom(o.seed ?? 0);
  const splits = folds(o.X.length, o.validation ?? { kind: 'holdout', valShare: 0.25 }, createRandom((o.seed ?? 0) ^ 0x5bd1e995));
  const names = Object.keys(o.space);
  let candidates: Params[];
  if (o.strategy === 'grid') {
    candidates = [{}];
    for (const name of names) {
      const vals = gridValues(o.space[name], o.gridSteps ?? 5);
      candidates = candidates.flatMap((c) => vals.map((v) => ({ ...c, [name]: v })));
    }
  } else {
    const n = o.maxTrials ?? 20;
    candidates = Array.from({ length: n }, () => Object.fromEntries(names.map((name) => [name, sample(o.space[name], random)])));
  }
  const key = (p: Params): string => JSON.stringify(names.map((n) => p[n]));
  const trials: Trial[] = [...(o.completed ?? [])];
  const done = new Set(trials.map((t) => key(t.params)));
  const todo = candidates.filter((c) => !done.has(key(c))).slice(0, Math.max(0, (o.maxTrials ?? Infinity) - trials.length));
  const total = trials.length + todo.length;
  const start = now();
  for (const params of todo) {
    if (o.maxTimeMs !== undefined && now() - start >= o.maxTimeMs) break;
    const t0 = now();
    const scores = splits.map(({ train, val }) => {
      const m = createModel(o.kind, { ...(o.fixed ?? {}), ...params }) as Classifier | Regressor;
      m.fit(train.map((i) => o.X[i]), train.map((i) => o.y[i]));
      return m.score(val.map((i) => o.X[i]), val.map((i) => o.y[i]));
    });
    const score = scores.reduce((a, b) => a + b, 0) / scores.length;
    const trial: Trial = { index: trials.length, params, score, metrics: { score, scoreStd: Math.sqrt(scores.reduce((a, s) => a + (s - score) ** 2, 0) / scores.length) }, durationMs: now() - t0 };
    trials.push(trial);
    o.onTrial?.(trial);
    o.onProgress?.(trials.length, total);
  }
  if (trials.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'search ran no trial: maxTrials or maxTimeMs is too small');
  const best = trials.reduce((a, b) => (b.score > a.score ? b : a));
  return { best, trials };
}
