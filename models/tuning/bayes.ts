/**
 * The Bayesian-optimization proposal step: fit a GP to the trials so far (in the unit cube), then
 * pick the untried point of highest expected improvement among seeded random candidates and local
 * perturbations of the best trials. The proposal depends only on (space, trials, seed, step), so a
 * resumed search proposes exactly what the uninterrupted one would have.
 */
import { createRandom, type Random } from '../../src/random.ts';
import { expectedImprovement, fitGp } from './gp.ts';
import { decode, encode, sampleParams, type Params, type SearchSpace } from './space.ts';

export interface BayesOptions {
  /** Seeded random trials before the GP takes over (default 5). */
  initialTrials: number;
  /** Uniform random candidates scored by EI per step. */
  candidates: number;
  /** Best trials whose neighbourhoods are searched, and perturbations per trial. */
  localBest: number;
  localPerTrial: number;
  /** Std of the Gaussian perturbation in unit-cube coordinates. */
  localScale: number;
  /** EI exploration margin, in standardized-score units. */
  xi: number;
}

export const BAYES_DEFAULTS: BayesOptions = { initialTrials: 5, candidates: 512, localBest: 3, localPerTrial: 64, localScale: 0.08, xi: 0.01 };

/** One seeded stream per step, so step k does not depend on how many numbers earlier steps drew. */
export function stepRandom(seed: number, step: number): Random {
  return createRandom((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0);
}

function gaussian(r: Random): number {
  const u = 1 - r.next(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

/**
 * The next params to try, or undefined when every candidate was already tried (a small discrete
 * space is exhausted). `key` identifies a params set (tried points are skipped).
 */
export function proposeBayes(space: SearchSpace, trials: readonly { params: Params; score: number }[], seed: number, o: BayesOptions, key: (p: Params) => string): Params | undefined {
  const step = trials.length;
  const r = stepRandom(seed, step);
  const tried = new Set(trials.map((t) => key(t.params)));
  const fresh = (p: Params): boolean => !tried.has(key(p));
  if (step < o.initialTrials) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const p = sampleParams(space, r);
      if (fresh(p)) return p;
    }
    return undefined;
  }
  const X = trials.map((t) => encode(space, t.params));
  const y = trials.map((t) => t.score);
  const gp = fitGp(X, y);
  const std = Math.sqrt(y.reduce((a, v) => a + (v - y.reduce((s, w) => s + w, 0) / y.length) ** 2, 0) / y.length) || 1;
  const bestScore = Math.max(...y);

  const pool: Params[] = [];
  for (let i = 0; i < o.candidates; i++) pool.push(sampleParams(space, r));
  const ranked = trials.map((t, i) => ({ t, x: X[i] })).sort((a, b) => b.t.score - a.t.score).slice(0, o.localBest);
  for (const { x } of ranked) {
    for (let i = 0; i < o.localPerTrial; i++) pool.push(decode(space, x.map((v) => v + o.localScale * gaussian(r))));
  }
  let best: Params | undefined;
  let bestEi = -Infinity;
  const seen = new Set<string>();
  for (const p of pool) {
    const k = key(p);
    if (tried.has(k) || seen.has(k)) continue;
    seen.add(k);
    // Score the decoded point (ints rounded, one category chosen): that is what will run.
    const { mean, variance } = gp.predict(encode(space, p));
    const ei = expectedImprovement(mean, variance, bestScore, o.xi * std);
    if (ei > bestEi) { bestEi = ei; best = p; }
  }
  return best;
}
