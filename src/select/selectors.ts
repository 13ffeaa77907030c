/**
 * Feature selection on the train matrix. Each selector returns the indices of the columns it
 * keeps, ascending, so selections compose (the pipeline applies its steps in order).
 *
 * - variance: drop columns whose population variance (ddof 0) is ≤ `threshold`.
 * - correlation: walk columns in order; drop a column whose |Pearson r| with an already kept
 *   column exceeds `maxAbsR` (the earlier column wins, so the result is deterministic).
 * - mutual-info: histogram estimator for classification. Each feature is cut into `bins`
 *   equal-frequency bins (train quantiles; ties share a bin), then
 *   MI = Σ p(b, c) · ln(p(b, c) / (p(b) p(c))) in nats. Keeps the `keep` highest (ties: column order).
 *   Biased upward by ~(bins − 1)(classes − 1)/(2n) like every plug-in estimator; fine for ranking.
 * - rfe: recursive feature elimination around any model with importances (see FeatureModel).
 */
import { EdgeloopError } from '../errors.ts';

/** What RFE needs from a model: fit, then one non-negative-comparable importance per column. */
export interface FeatureModel {
  fit(X: number[][], y: number[]): void;
  importances(): number[];
}

export type SelectStep =
  | { type: 'variance'; threshold: number }
  | { type: 'correlation'; maxAbsR: number }
  | { type: 'mutual-info'; bins: number; keep: number }
  | { type: 'rfe'; keep: number; step: number };

function col(X: readonly (readonly number[])[], j: number): Float64Array {
  const c = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) c[i] = X[i][j];
  return c;
}

function width(X: readonly (readonly number[])[]): number {
  return X.length > 0 ? X[0].length : 0;
}

function meanVar(c: Float64Array): { mean: number; variance: number } {
  let m = 0;
  for (const v of c) m += v;
  m /= c.length;
  let ss = 0;
  for (const v of c) ss += (v - m) * (v - m);
  return { mean: m, variance: ss / c.length };
}

export function varianceThreshold(X: readonly (readonly number[])[], threshold: number): number[] {
  if (!(threshold >= 0)) throw new EdgeloopError('BAD_ARGUMENT', `threshold must be ≥ 0, got ${threshold}`);
  const keep: number[] = [];
  for (let j = 0; j < width(X); j++) if (meanVar(col(X, j)).variance > threshold) keep.push(j);
  return keep;
}

export function pearson(a: Float64Array, b: Float64Array): number {
  const ma = meanVar(a);
  const mb = meanVar(b);
  if (ma.variance === 0 || mb.variance === 0) return 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - ma.mean) * (b[i] - mb.mean);
  return s / a.length / Math.sqrt(ma.variance * mb.variance);
}

export function correlationFilter(X: readonly (readonly number[])[], maxAbsR: number): number[] {
  if (!(maxAbsR > 0 && maxAbsR <= 1)) throw new EdgeloopError('BAD_ARGUMENT', `maxAbsR must be in (0, 1], got ${maxAbsR}`);
  const keep: number[] = [];
  const cols: Float64Array[] = [];
  for (let j = 0; j < width(X); j++) {
    const c = col(X, j);
    if (cols.every((k) => Math.abs(pearson(k, c)) <= maxAbsR)) {
      keep.push(j);
      cols.push(c);
    }
  }
  return keep;
}

/**
 * Bin index per value, equal-frequency: a value whose rank (number of smaller values) is r goes to
 * bin floor(r · bins / n), so equal values always share a bin.
 */
export function quantileBins(c: Float64Array, bins: number): Int32Array {
  const n = c.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => c[a] - c[b]);
  const out = new Int32Array(n);
  let runStart = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && c[order[k]] !== c[order[k - 1]]) runStart = k;
    out[order[k]] = Math.floor((runStart * bins) / n);
  }
  return out;
}

/** Plug-in mutual information (nats) between a discrete feature and discrete labels. */
export function discreteMutualInfo(x: Int32Array, y: readonly number[]): number {
  const n = x.length;
  const joint = new Map<string, number>();
  const px = new Map<number, number>();
  const py = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${x[i]},${y[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    px.set(x[i], (px.get(x[i]) ?? 0) + 1);
    py.set(y[i], (py.get(y[i]) ?? 0) + 1);
  }
  let mi = 0;
  for (const [key, c] of joint) {
    const [a, b] = key.split(',').map(Number);
    mi += (c / n) * Math.log((c * n) / (px.get(a)! * py.get(b)!));
  }
  return Math.max(0, mi);
}

export function mutualInfoScores(X: readonly (readonly number[])[], y: readonly number[], bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 2 || bins > 256) throw new EdgeloopError('BAD_ARGUMENT', `bins must be an integer in [2, 256], got ${bins}`);
  if (y.length !== X.length) throw new EdgeloopError('BAD_ARGUMENT', `y must have one label per row (${X.length}), got ${y.length}`);
  return Array.from({ length: width(X) }, (_, j) => discreteMutualInfo(quantileBins(col(X, j), bins), y));
}

function topK(scores: readonly number[], keep: number): number[] {
  return scores
    .map((s, j) => ({ s, j }))
    .sort((a, b) => b.s - a.s || a.j - b.j)
    .slice(0, keep)
    .map((e) => e.j)
    .sort((a, b) => a - b);
}

export function mutualInfoSelect(X: readonly (readonly number[])[], y: readonly number[], bins: number, keep: number): number[] {
  checkKeep(keep, width(X));
  return topK(mutualInfoScores(X, y, bins), keep);
}

function checkKeep(keep: number, available: number): void {
  if (!Number.isInteger(keep) || keep < 1 || keep > available) throw new EdgeloopError('BAD_ARGUMENT', `keep must be an integer in [1, ${available}], got ${keep}`);
}

/**
 * Recursive feature elimination: fit on the remaining columns, drop the `step` least important
 * (by |importance|; ties: the later column), repeat until `keep` remain.
 */
export function recursiveElimination(X: readonly (readonly number[])[], y: readonly number[], keep: number, step: number, makeModel: () => FeatureModel): number[] {
  checkKeep(keep, width(X));
  if (!Number.isInteger(step) || step < 1) throw new EdgeloopError('BAD_ARGUMENT', `step must be an integer ≥ 1, got ${step}`);
  let remaining = Array.from({ length: width(X) }, (_, j) => j);
  while (remaining.length > keep) {
    const model = makeModel();
    model.fit(X.map((r) => remaining.map((j) => r[j])), [...y]);
    const imp = model.importances();
    if (imp.length !== remaining.length) throw new EdgeloopError('BAD_ARGUMENT', `model.importances() must return ${remaining.length} values, got ${imp.length}`);
    const drop = Math.min(step, remaining.length - keep);
    const order = imp.map((v, k) => ({ v: Math.abs(v), k })).sort((a, b) => a.v - b.v || b.k - a.k);
    const dropped = new Set(order.slice(0, drop).map((e) => e.k));
    remaining = remaining.filter((_, k) => !dropped.has(k));
  }
  return remaining;
}
