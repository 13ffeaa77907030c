/**
 * Score-based metrics: ROC-AUC (binary and one-vs-rest) and average precision, both computed
 * on the curve through every distinct score threshold, so ties count half as in scikit-learn.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { checkPair } from './check.ts';

interface Counts {
  /** Cumulative true/false positives at each distinct threshold, descending score. */
  tps: number[];
  fps: number[];
}

function cumulativeCounts(positive: readonly boolean[], score: readonly number[]): Counts {
  const order = score.map((_, i) => i).sort((a, b) => score[b] - score[a]);
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0; let fp = 0;
  for (let r = 0; r < order.length; r++) {
    const i = order[r];
    if (positive[i]) tp++; else fp++;
    if (r === order.length - 1 || score[order[r + 1]] !== score[i]) { tps.push(tp); fps.push(fp); }
  }
  return { tps, fps };
}

function binaryMask(yTrue: readonly number[], posLabel: number, what: string): boolean[] {
  const mask = yTrue.map((v) => v === posLabel);
  const nPos = mask.filter(Boolean).length;
  if (nPos === 0 || nPos === mask.length) {
    throw new EdgeloopError('BAD_ARGUMENT', `${what} is undefined when yTrue has only one class: yTrue must contain posLabel ${posLabel} and another label`);
  }
  return mask;
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
}

export function rocCurve(yTrue: readonly number[], score: readonly number[], posLabel = 1): RocCurve {
  checkPair(yTrue, score, 'yTrue', 'score');
  const { tps, fps } = cumulativeCounts(binaryMask(yTrue, posLabel, 'ROC-AUC'), score);
  const P = tps[tps.length - 1];
  const N = fps[fps.length - 1];
  return { fpr: [0, ...fps.map((f) => f / N)], tpr: [0, ...tps.map((t) => t / P)] };
}

/** Binary ROC-AUC: trapezoidal area under the ROC curve of `score` (higher means posLabel). */
export function rocAucBinary(yTrue: readonly number[], score: readonly number[], posLabel = 1): number {
  const { fpr, tpr } = rocCurve(yTrue, score, posLabel);
  let area = 0;
  for (let i = 1; i < fpr.length; i++) area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
  return area;
}

/**
 * One-vs-rest ROC-AUC for a probability matrix whose columns follow `labels` (default: sorted
 * distinct yTrue). 'macro' averages classes equally, 'weighted' by their support.
 */
export function rocAucOvr(yTrue: readonly number[], proba: readonly (readonly number[])[], options: { labels?: readonly number[]; average?: 'macro' | 'weighted' } = {}): number {
  const labels = options.labels ? [...options.labels] : Array.from(new Set(yTrue)).sort((a, b) => a - b);
  if (!Array.isArray(proba) || proba.length !== yTrue.length) {
    throw new EdgeloopError('BAD_ARGUMENT', `proba must have one row per yTrue value (${yTrue.length}), got ${Array.isArray(proba) ? proba.length : typeof proba}`);
  }
  if (proba.some((row) => row.length !== labels.length)) {
    throw new EdgeloopError('BAD_ARGUMENT', `proba rows must have one column per label (${labels.length}: ${labels.join(', ')})`);
  }
  const average = options.average ?? 'macro';
  let total = 0; let weight = 0;
  labels.forEach((label, k) => {
    const w = average === 'macro' ? 1 : yTrue.filter((v) => v === label).length;
    total += w * rocAucBinary(yTrue, proba.map((row) => row[k]), label);
    weight += w;
  });
  return total / weight;
}

/** Average precision as scikit-learn: Σ (Rₙ − Rₙ₋₁) Pₙ over distinct thresholds (no interpolation). */
export function averagePrecision(yTrue: readonly number[], score: readonly number[], posLabel = 1): number {
  checkPair(yTrue, score, 'yTrue', 'score');
  const { tps, fps } = cumulativeCounts(binaryMask(yTrue, posLabel, 'average precision'), score);
  const P = tps[tps.length - 1];
  let ap = 0; let prevRecall = 0;
  for (let i = 0; i < tps.length; i++) {
    const r = tps[i] / P;
    ap += (r - prevRecall) * (tps[i] / (tps[i] + fps[i]));
    prevRecall = r;
  }
  return ap;
}
