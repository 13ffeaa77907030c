/**
 * The Tree-structured Parzen Estimator proposal step (Bergstra, Bardenet, Bengio, Kégl, "Algorithms
 * for Hyper-Parameter Optimization", NeurIPS 2011), in the univariate form of hyperopt and Optuna's
 * TPESampler: after `initialTrials` seeded random trials, the trials are split into the best
 * ⌈γ·n⌉ ("good") and the rest; each dimension gets one density per group — a mixture of Gaussians
 * truncated to the dimension's range (in the unit coordinates of space.ts: log-float in log space,
 * ints rounded on decode), one component per trial plus a wide prior component, or smoothed counts
 * for a categorical — and the next trial is the candidate, among `candidates` drawn from the good
 * densities, with the highest Σ_dims log l(x) − log g(x) (the ratio EI is monotone in). Like bayes.ts
 * the step draws from its own seeded stream, so a resumed search proposes what an uninterrupted one
 * would have.
 */
import type { Random } from '../../src/random.ts';
import { stepRandom } from './bayes.ts';
import { normalCdf } from './gp.ts';
import { decode, encode, encodedWidth, sampleParams, type Params, type SearchSpace } from './space.ts';

export interface TpeOptions {
  /** Seeded random trials before the densities take over (default 10, as Optuna). */
  initialTrials: number;
  /** Candidates drawn from the good densities per step (default 24, as hyperopt and Optuna). */
  candidates: number;
  /** Share of the trials, by score, in the good group (default 0.25, hyperopt's γ). */
  gamma: number;
  /** Weight of the prior component (uniform-ish over the range) in each density (default 1). */
  priorWeight: number;
}

export const TPE_DEFAULTS: TpeOptions = { initialTrials: 10, candidates: 24, gamma: 0.25, priorWeight: 1 };

/** A mixture of Gaussians truncated to [0, 1]. */
export interface Parzen {
  mus: number[];
  sigmas: number[];
  /** Normalized mixture weights. */
  weights: number[];
}

/**
 * The Parzen estimator of observations in [0, 1]: one component per observation (weight 1) plus
 * the prior N(0.5, 1) (weight priorWeight). Bandwidths as hyperopt's adaptive Parzen estimator: the
 * larger gap to the sorted neighbours (the range's ends count as neighbours), clipped to
 * [1 / min(100, 1 + n), 1]; the prior keeps σ = 1 (the range's width).
 */
export function parzen(observations: readonly number[], priorWeight: number): Parzen {
  const points = [...observations.map((mu) => ({ mu, prior: false })), { mu: 0.5, prior: true }].sort((a, b) => a.mu - b.mu || Number(a.prior) - Number(b.prior));
  const minSigma = 1 / Math.min(100, 1 + points.length);
  const mus: number[] = [];
  const sigmas: number[] = [];
  const weights: number[] = [];
  points.forEach((p, i) => {
    const left = i === 0 ? p.mu - 0 : p.mu - points[i - 1]!.mu;
    const right = i === points.length - 1 ? 1 - p.mu : points[i + 1]!.mu - p.mu;
    mus.push(p.mu);
    sigmas.push(p.prior ? 1 : Math.min(1, Math.max(minSigma, left, right)));
    weights.push(p.prior ? priorWeight : 1);
  });
  const total = weights.reduce((a, b) => a + b, 0);
  return { mus, sigmas, weights: weights.map((w) => w / total) };
}

/** log of the mixture density at x ∈ [0, 1] (each component renormalized to [0, 1]). */
export function parzenLogPdf(p: Parzen, x: number): number {
  let density = 0;
  for (let i = 0; i < p.mus.length; i++) {
    const mu = p.mus[i]!;
    const sigma = p.sigmas[i]!;
    const mass = normalCdf((1 - mu) / sigma) - normalCdf((0 - mu) / sigma);
    const z = (x - mu) / sigma;
    density += (p.weights[i]! * Math.exp(-0.5 * z * z)) / (sigma * Math.sqrt(2 * Math.PI) * mass);
  }
  return Math.log(Math.max(density, 1e-300));
}

/** One draw from the truncated mixture: a component by weight, then its Gaussian until it lands in [0, 1]. */
export function parzenSample(p: Parzen, r: Random): number {
  let u = r.next();
  let k = 0;
  while (k < p.weights.length - 1 && u >= p.weights[k]!) u -= p.weights[k++]!;
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = p.mus[k]! + p.sigmas[k]! * gaussian(r);
    if (x >= 0 && x <= 1) return x;
  }
  return Math.min(1, Math.max(0, p.mus[k]!)); // a component almost wholly outside the range (not reachable with σ ≤ 1 and μ in [0, 1])
}

function gaussian(r: Random): number {
  const u = 1 - r.next(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

/** Category probabilities from counts, each smoothed by priorWeight / k. */
export function categoricalDensity(indices: readonly number[], k: number, priorWeight: number): number[] {
  const counts = new Array<number>(k).fill(priorWeight / k);
  for (const i of indices) counts[i]!++;
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / total);
}

type DimensionModel =
  | { kind: 'numeric'; at: number; good: Parzen; bad: Parzen }
  | { kind: 'categorical'; at: number; good: number[]; bad: number[] };

/**
 * The next params to try, or undefined when no untried point could be found (a small discrete space
 * is exhausted). `key` identifies a params set (tried points are skipped).
 */
export function proposeTpe(space: SearchSpace, trials: readonly { params: Params; score: number }[], seed: number, o: TpeOptions, key: (p: Params) => string): Params | undefined {
  const step = trials.length;
  // A stream of its own, distinct from bayes' for the same seed and step.
  const r = stepRandom(seed ^ 0x7e9e0001, step);
  const tried = new Set(trials.map((t) => key(t.params)));
  const randomFresh = (): Params | undefined => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const p = sampleParams(space, r);
      if (!tried.has(key(p))) return p;
    }
    return undefined;
  };
  if (step < o.initialTrials) return randomFresh();

  // Best first; ties keep trial order, so the split does not depend on the sort's stability.
  const ranked = trials.map((t, i) => ({ t, i, x: encode(space, t.params) })).sort((a, b) => b.t.score - a.t.score || a.i - b.i);
  const nGood = Math.max(1, Math.ceil(o.gamma * ranked.length));
  const good = ranked.slice(0, nGood);
  const bad = ranked.slice(nGood);
  const models: DimensionModel[] = [];
  let at = 0;
  for (const d of Object.values(space)) {
    if (d.type === 'categorical') {
      const index = (x: number[]): number => x.slice(at, at + d.values.length).indexOf(1);
      models.push({ kind: 'categorical', at, good: categoricalDensity(good.map((g) => index(g.x)), d.values.length, o.priorWeight), bad: categoricalDensity(bad.map((b) => index(b.x)), d.values.length, o.priorWeight) });
    } else {
      models.push({ kind: 'numeric', at, good: parzen(good.map((g) => g.x[at]!), o.priorWeight), bad: parzen(bad.map((b) => b.x[at]!), o.priorWeight) });
    }
    at += encodedWidth(d);
  }
  const width = at;

  let best: Params | undefined;
  let bestScore = -Infinity;
  const seen = new Set<string>();
  for (let c = 0; c < o.candidates; c++) {
    const x = new Array<number>(width).fill(0);
    for (const m of models) {
      if (m.kind === 'numeric') {
        x[m.at] = parzenSample(m.good, r);
      } else {
        let u = r.next();
        let k = 0;
        while (k < m.good.length - 1 && u >= m.good[k]!) u -= m.good[k++]!;
        x[m.at + k] = 1;
      }
    }
    const p = decode(space, x);
    const k = key(p);
    if (tried.has(k) || seen.has(k)) continue;
    seen.add(k);
    // Score what will run: ints are rounded on decode, so the densities see the rounded value.
    const score = logRatio(models, encode(space, p));
    if (score > bestScore) { bestScore = score; best = p; }
  }
  return best ?? randomFresh();
}

/** Σ_dims log l(x) − log g(x) at a unit-cube point. */
function logRatio(models: readonly DimensionModel[], x: readonly number[]): number {
  let s = 0;
  for (const m of models) {
    if (m.kind === 'numeric') {
      s += parzenLogPdf(m.good, x[m.at]!) - parzenLogPdf(m.bad, x[m.at]!);
    } else {
      const k = x.slice(m.at, m.at + m.good.length).indexOf(1);
      s += Math.log(m.good[k]!) - Math.log(m.bad[k]!);
    }
  }
  return s;
}
