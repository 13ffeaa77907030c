/**
 * The estimator vocabulary (scikit-learn-like) shared by every model in models/.
 * X is rows of numbers, y is numbers (class labels or targets). Fitted state serializes through
 * `toJSON()` and loads back through `fromJSON()` in models/registry.ts.
 */
import type { ModelIR } from './ir.ts';

export type Task = 'classification' | 'regression' | 'clustering';

export interface ModelJSON {
  format: 'edgeloop-model';
  version: 1;
  kind: string;
  params: Record<string, unknown>;
  state: unknown;
}

interface EstimatorBase {
  readonly kind: string;
  /** Resolved hyper-parameters (defaults filled in). */
  readonly params: object;
  toJSON(): ModelJSON;
  /** The exportable IR; throws MODEL_UNSUPPORTED for models without one. */
  toIR(): ModelIR;
}

export interface Classifier extends EstimatorBase {
  readonly task: 'classification';
  /** Sorted distinct labels seen at fit time (empty before fit). */
  readonly classes: readonly number[];
  fit(X: readonly (readonly number[])[], y: readonly number[]): this;
  predict(X: readonly (readonly number[])[]): number[];
  /** Rows of class probabilities, columns in `classes` order. */
  predictProba(X: readonly (readonly number[])[]): number[][];
  /** Accuracy. */
  score(X: readonly (readonly number[])[], y: readonly number[]): number;
}

export interface Regressor extends EstimatorBase {
  readonly task: 'regression';
  fit(X: readonly (readonly number[])[], y: readonly number[]): this;
  predict(X: readonly (readonly number[])[]): number[];
  /** R². */
  score(X: readonly (readonly number[])[], y: readonly number[]): number;
}

export interface Clusterer extends EstimatorBase {
  readonly task: 'clustering';
  /** Cluster label per training row after fit; -1 is noise (DBSCAN). */
  readonly labels: readonly number[];
  fit(X: readonly (readonly number[])[], y?: readonly number[]): this;
  fitPredict(X: readonly (readonly number[])[]): number[];
  /** Silhouette score of the training labels on X. */
  score(X: readonly (readonly number[])[]): number;
}

export type Estimator = Classifier | Regressor | Clusterer;
export type SupervisedEstimator = Classifier | Regressor;
