/** Probability calibration: reliability curve (binned) and the Brier score, as scikit-learn. */
import { EdgeloopError } from '../../src/errors.ts';
import { checkPair, checkProbability } from './check.ts';

export interface CalibrationCurve {
  /** Fraction of positives per non-empty bin. */
  probTrue: number[];
  /** Mean predicted probability per non-empty bin. */
  probPred: number[];
  /** Rows per non-empty bin. */
  count: number[];
}

/** Linear-interpolated percentile (numpy's default method). */
function percentile(sorted: readonly number[], q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function calibrationCurve(yTrue: readonly number[], prob: readonly number[], options: { nBins?: number; strategy?: 'uniform' | 'quantile'; posLabel?: number } = {}): CalibrationCurve {
  checkPair(yTrue, prob, 'yTrue', 'prob');
  checkProbability(prob, 'prob');
  const nBins = options.nBins ?? 5;
  if (!Number.isInteger(nBins) || nBins < 1 || nBins > 10_000) throw new EdgeloopError('BAD_ARGUMENT', `nBins must be an integer in [1, 10000], got ${nBins}`);
  const posLabel = options.posLabel ?? 1;
  const strategy = options.strategy ?? 'uniform';
  let edges: number[];
  if (strategy === 'uniform') {
    edges = Array.from({ length: nBins + 1 }, (_, i) => i / nBins);
  } else if (strategy === 'quantile') {
    const sorted = [...prob].sort((a, b) => a - b);
    edges = Array.from({ length: nBins + 1 }, (_, i) => percentile(sorted, (100 * i) / nBins));
  } else {
    throw new EdgeloopError('BAD_ARGUMENT', `strategy must be 'uniform' or 'quantile', got ${String(strategy)}`);
  }
  const inner = edges.slice(1, -1);
  const sums = new Float64Array(nBins);
  const trues = new Float64Array(nBins);
  const totals = new Float64Array(nBins);
  for (let i = 0; i < prob.length; i++) {
    // numpy searchsorted(side='left'): the number of inner edges strictly below the value.
    let b = 0;
    while (b < inner.length && inner[b] < prob[i]) b++;
    sums[b] += prob[i];
    trues[b] += yTrue[i] === posLabel ? 1 : 0;
    totals[b] += 1;
  }
  const out: CalibrationCurve = { probTrue: [], probPred: [], count: [] };
  for (let b = 0; b < nBins; b++) {
    if (totals[b] === 0) continue;
    out.probTrue.push(trues[b] / totals[b]);
    out.probPred.push(sums[b] / totals[b]);
    out.count.push(totals[b]);
  }
  return out;
}

export function brierScore(yTrue: readonly number[], prob: readonly number[], posLabel = 1): number {
  checkPair(yTrue, prob, 'yTrue', 'prob');
  checkProbability(prob, 'prob');
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += ((yTrue[i] === posLabel ? 1 : 0) - prob[i]) ** 2;
  return s / yTrue.length;
}
