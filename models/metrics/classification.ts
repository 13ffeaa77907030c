/**
 * Label-based classification metrics with scikit-learn's definitions: labels are the sorted
 * union of yTrue and yPred, and a 0/0 precision or recall counts as 0 (sklearn's zero_division=0).
 */
import { EdgeloopError } from '../../src/errors.ts';
import { checkPair } from './check.ts';

export type Average = 'binary' | 'macro' | 'weighted' | 'micro';

export function accuracy(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair(yTrue, yPred, 'yTrue', 'yPred');
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

export interface ConfusionMatrix {
  labels: number[];
  /** matrix[i][j]: rows with true label labels[i] predicted as labels[j]. */
  matrix: number[][];
}

export function confusionMatrix(yTrue: readonly number[], yPred: readonly number[], labels?: readonly number[]): ConfusionMatrix {
  checkPair(yTrue, yPred, 'yTrue', 'yPred');
  const labs = labels ? [...labels] : Array.from(new Set([...yTrue, ...yPred])).sort((a, b) => a - b);
  if (labs.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'labels must be non-empty');
  const pos = new Map(labs.map((l, i) => [l, i]));
  const matrix = labs.map(() => new Array<number>(labs.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const a = pos.get(yTrue[i]);
    const b = pos.get(yPred[i]);
    if (a !== undefined && b !== undefined) matrix[a][b]++;
  }
  return { labels: labs, matrix };
}

export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

export interface AverageOptions {
  average?: Average;
  /** The positive class for average 'binary' (default 1). */
  posLabel?: number;
}

const div = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function precisionRecallF1(yTrue: readonly number[], yPred: readonly number[], options: AverageOptions = {}): PrecisionRecallF1 {
  const average = options.average ?? 'binary';
  const { labels, matrix } = confusionMatrix(yTrue, yPred);
  const k = labels.length;
  const tp = labels.map((_, i) => matrix[i][i]);
  const predicted = labels.map((_, j) => matrix.reduce((s, row) => s + row[j], 0));
  const support = matrix.map((row) => row.reduce((s, v) => s + v, 0));
  const f1Of = (p: number, r: number): number => div(2 * p * r, p + r);
  switch (average) {
    case 'binary': {
      const posLabel = options.posLabel ?? 1;
      if (k > 2) throw new EdgeloopError('BAD_ARGUMENT', `average 'binary' needs at most 2 labels, got ${k} (${labels.join(', ')}); use 'macro', 'weighted' or 'micro'`);
      const i = labels.indexOf(posLabel);
      if (i < 0) {
        if (k === 2) throw new EdgeloopError('BAD_ARGUMENT', `posLabel ${posLabel} is not one of the labels (${labels.join(', ')})`);
        return { precision: 0, recall: 0, f1: 0 };
      }
      const p = div(tp[i], predicted[i]);
      const r = div(tp[i], support[i]);
      return { precision: p, recall: r, f1: f1Of(p, r) };
    }
    case 'micro': {
      const t = tp.reduce((a, b) => a + b, 0);
      const p = div(t, yTrue.length);
      return { precision: p, recall: p, f1: p };
    }
    case 'macro':
    case 'weighted': {
      let P = 0; let R = 0; let F = 0; let W = 0;
      for (let i = 0; i < k; i++) {
        const w = average === 'macro' ? 1 : support[i];
        const p = div(tp[i], predicted[i]);
        const r = div(tp[i], support[i]);
        P += w * p; R += w * r; F += w * f1Of(p, r); W += w;
      }
      return { precision: div(P, W), recall: div(R, W), f1: div(F, W) };
    }
    default: {
      const never: never = average;
      throw new EdgeloopError('BAD_ARGUMENT', `average must be one of binary, macro, weighted, micro, got ${String(never)}`);
    }
  }
}

export const precision = (yTrue: readonly number[], yPred: readonly number[], options?: AverageOptions): number =>
  precisionRecallF1(yTrue, yPred, options).precision;
export const recall = (yTrue: readonly number[], yPred: readonly number[], options?: AverageOptions): number =>
  precisionRecallF1(yTrue, yPred, options).recall;
export const f1Score = (yTrue: readonly number[], yPred: readonly number[], options?: AverageOptions): number =>
  precisionRecallF1(yTrue, yPred, options).f1;
