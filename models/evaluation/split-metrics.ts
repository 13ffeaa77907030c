/**
 * The metrics of one split: label metrics from predict(), score metrics (ROC-AUC, PR-AUC,
 * calibration, Brier) from predictProba() when the model has it. Score metrics that are undefined
 * on a split (a class missing from it) are left out and the reason is listed in `notes`.
 */
import { EdgeloopError } from '../../src/errors.ts';
import * as m from '../metrics/index.ts';
import type { CalibrationCurve } from '../metrics/index.ts';

export type Rows = readonly (readonly number[])[];

/** What evaluate() needs of a fitted model (classical estimators and NeuralNet both fit). */
export interface EvaluatedModel {
  predict(X: Rows): number[];
  /** Class probabilities, columns in `classes` order. */
  predictProba?(X: Rows): number[][];
  readonly classes?: readonly number[];
}

export interface SplitData { X: Rows; y: readonly number[] }

export interface ClassificationMetrics {
  task: 'classification';
  n: number;
  accuracy: number;
  precisionMacro: number; recallMacro: number; f1Macro: number;
  precisionWeighted: number; recallWeighted: number; f1Weighted: number;
  /** Two classes only: positive class = the second label. */
  binary?: { posLabel: number; precision: number; recall: number; f1: number };
  /** Binary ROC-AUC, or one-vs-rest macro for more classes. */
  rocAuc?: number;
  /** Average precision (binary), or its one-vs-rest macro mean. */
  prAuc?: number;
  confusion: m.ConfusionMatrix;
  /** Two classes only: reliability curve (10 uniform bins) of P(posLabel). */
  calibration?: CalibrationCurve;
  /** Binary: sklearn's brier_score_loss; multiclass: mean over rows of Σ_k (p_k − [y = k])². */
  brier?: number;
  notes: string[];
}

export interface RegressionMetrics { task: 'regression'; n: number; mse: number; rmse: number; mae: number; r2: number }

export type SplitMetrics = ClassificationMetrics | RegressionMetrics;

export function checkSplit(name: string, d: SplitData | undefined): asserts d is SplitData {
  if (typeof d !== 'object' || d === null || !Array.isArray(d.X) || !Array.isArray(d.y)) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must be { X: number[][], y: number[] }`);
  }
  if (d.X.length === 0 || d.X.length !== d.y.length) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must have as many rows in X as values in y (≥ 1), got ${d.X.length} and ${d.y.length}`);
  }
}

export function classificationMetrics(model: EvaluatedModel, d: SplitData, classes: readonly number[], splitName: string): ClassificationMetrics {
  const yTrue = [...d.y];
  const known = new Set(classes);
  const stray = yTrue.find((v) => !known.has(v));
  if (stray !== undefined) throw new EdgeloopError('BAD_ARGUMENT', `${splitName}.y contains label ${stray}, which is not one of classes (${classes.join(', ')})`);
  const yPred = model.predict(d.X);
  const macro = m.precisionRecallF1(yTrue, yPred, { average: 'macro' });
  const weighted = m.precisionRecallF1(yTrue, yPred, { average: 'weighted' });
  const out: ClassificationMetrics = {
    task: 'classification', n: yTrue.length, accuracy: m.accuracy(yTrue, yPred),
    precisionMacro: macro.precision, recallMacro: macro.recall, f1Macro: macro.f1,
    precisionWeighted: weighted.precision, recallWeighted: weighted.recall, f1Weighted: weighted.f1,
    confusion: m.confusionMatrix(yTrue, yPred, classes), notes: [],
  };
  if (classes.length === 2) {
    const b = m.precisionRecallF1(yTrue, yPred, { average: 'binary', posLabel: classes[1] });
    out.binary = { posLabel: classes[1], ...b };
  }
  if (!model.predictProba) {
    out.notes.push('no predictProba: ROC-AUC, PR-AUC, calibration and Brier left out');
    return out;
  }
  const proba = model.predictProba(d.X);
  if (proba.length !== yTrue.length || proba.some((r) => r.length !== classes.length)) {
    throw new EdgeloopError('BAD_ARGUMENT', `predictProba must return ${yTrue.length} rows of ${classes.length} columns (one per class), got ${proba.length} rows of ${proba[0]?.length}`);
  }
  // Floating error can push a probability a hair outside [0, 1]; the metrics insist on the range.
  const p = proba.map((r) => r.map((v) => Math.min(1, Math.max(0, v))));
  const present = classes.filter((c) => yTrue.includes(c));
  if (classes.length === 2) {
    const pos = classes[1];
    const p1 = p.map((r) => r[1]);
    out.calibration = m.calibrationCurve(yTrue, p1, { nBins: 10, posLabel: pos });
    out.brier = m.brierScore(yTrue, p1, pos);
    if (present.length === 2) {
      out.rocAuc = m.rocAucBinary(yTrue, p1, pos);
      out.prAuc = m.averagePrecision(yTrue, p1, pos);
    } else {
      out.notes.push(`only class ${present[0]} in this split: ROC-AUC and PR-AUC are undefined`);
    }
  } else {
    out.brier = yTrue.reduce((s, v, i) => s + classes.reduce((a, c, k) => a + (p[i][k] - (c === v ? 1 : 0)) ** 2, 0), 0) / yTrue.length;
    if (present.length === classes.length) {
      out.rocAuc = m.rocAucOvr(yTrue, p, { labels: classes, average: 'macro' });
      out.prAuc = classes.reduce((s, c, k) => s + m.averagePrecision(yTrue, p.map((r) => r[k]), c), 0) / classes.length;
    } else {
      out.notes.push(`classes ${classes.filter((c) => !present.includes(c)).join(', ')} missing from this split: one-vs-rest ROC-AUC and PR-AUC are undefined`);
    }
  }
  return out;
}

export function regressionMetrics(model: EvaluatedModel, d: SplitData): RegressionMetrics {
  const yTrue = [...d.y];
  const yPred = model.predict(d.X);
  const mse = m.meanSquaredError(yTrue, yPred);
  return { task: 'regression', n: yTrue.length, mse, rmse: Math.sqrt(mse), mae: m.meanAbsoluteError(yTrue, yPred), r2: m.r2Score(yTrue, yPred) };
}

/** The headline metric (higher is better): accuracy or R². */
export function mainScore(task: 'classification' | 'regression', yTrue: readonly number[], yPred: readonly number[]): number {
  return task === 'classification' ? m.accuracy(yTrue, yPred) : m.r2Score(yTrue, yPred);
}
