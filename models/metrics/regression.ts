/** Regression metrics with scikit-learn's definitions (uniform weights, single output). */
import { checkPair } from './check.ts';

export function meanSquaredError(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair(yTrue, yPred, 'yTrue', 'yPred');
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) { const d = yTrue[i] - yPred[i]; s += d * d; }
  return s / yTrue.length;
}

export function rootMeanSquaredError(yTrue: readonly number[], yPred: readonly number[]): number {
  return Math.sqrt(meanSquaredError(yTrue, yPred));
}

export function meanAbsoluteError(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair(yTrue, yPred, 'yTrue', 'yPred');
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return s / yTrue.length;
}

/**
 * Coefficient of determination. As in scikit-learn, a constant yTrue gives 1 for a perfect
 * prediction and 0 otherwise (instead of dividing by zero).
 */
export function r2Score(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair(yTrue, yPred, 'yTrue', 'yPred');
  let mean = 0;
  for (const v of yTrue) mean += v;
  mean /= yTrue.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < yTrue.length; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}
