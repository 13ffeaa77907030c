/**
 * What every linear classifier (logistic regression, LDA) shares once fitted: class probabilities from
 * linear scores (sigmoid for one score column, softmax otherwise) and its LinearIR.
 */
import type { ModelIR } from '../ir.ts';
import { sigmoid, softmaxInPlace, type DenseMatrix } from '../matrix.ts';
import { linearScores } from './linalg.ts';

export interface LinearClassifierState {
  nFeatures: number;
  classes: number[];
  coef: number[][];
  intercept: number[];
}

/** Row-major [nRows × nClasses] probabilities. */
export function linearProba(X: DenseMatrix, s: LinearClassifierState): Float64Array {
  const scores = linearScores(X.data, X.nRows, X.nCols, s.coef, s.intercept);
  const K = s.classes.length;
  if (s.coef.length === 1) {
    const out = new Float64Array(X.nRows * 2);
    for (let i = 0; i < X.nRows; i++) { const p = sigmoid(scores[i]); out[2 * i] = 1 - p; out[2 * i + 1] = p; }
    return out;
  }
  for (let i = 0; i < X.nRows; i++) softmaxInPlace(scores, i * K, K);
  return scores;
}

export function linearClassifierIR(s: LinearClassifierState): ModelIR {
  return {
    body: {
      kind: 'linear', task: 'classification', nFeatures: s.nFeatures, coef: s.coef.map((c) => [...c]), intercept: [...s.intercept],
      link: s.coef.length === 1 ? 'logistic' : 'softmax', classes: s.classes.map(String),
    },
  };
}
