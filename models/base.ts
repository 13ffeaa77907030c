/**
 * Base classes doing the common work once: input validation, label encoding, argmax predict,
 * score, JSON envelope and the MODEL_UNSUPPORTED default for toIR().
 */
import { EdgeloopError } from '../src/errors.ts';
import type { ModelIR } from './ir.ts';
import { encodeLabels, requireFitted, toMatrix, toVector, type DenseMatrix } from './matrix.ts';
import { accuracy, r2Score, silhouetteScore } from './metrics/index.ts';
import type { Classifier, Clusterer, ModelJSON, Regressor } from './types.ts';

abstract class Base<P extends object, S> {
  abstract readonly kind: string;
  readonly params: P;
  protected state: S | undefined;

  constructor(params: P) {
    this.params = params;
  }

  protected fitted(): S {
    return requireFitted(this.state, this.kind);
  }

  toJSON(): ModelJSON {
    return { format: 'edgeloop-model', version: 1, kind: this.kind, params: { ...this.params } as Record<string, unknown>, state: this.encodeState(this.fitted()) };
  }

  /** Restores fitted state from toJSON() output (called by the registry's fromJSON). */
  loadState(state: unknown): this {
    this.state = this.decodeState(state);
    return this;
  }

  /** Live state to JSON-safe state; override when the state holds typed arrays. */
  protected encodeState(state: S): unknown {
    return state;
  }

  /** JSON state back to live state; the default suits states that are plain JSON already. */
  protected decodeState(state: unknown): S {
    return state as S;
  }

  toIR(): ModelIR {
    throw new EdgeloopError('MODEL_UNSUPPORTED', `${this.kind} has no IR form: only linear models (linear-regression, ridge, lasso, logistic-regression, lda, linear svm) and trees (decision tree, random forest, gradient boosting) export`);
  }
}

export interface ClassifierCore {
  nFeatures: number;
  classes: number[];
}

export abstract class BaseClassifier<P extends object, S extends ClassifierCore> extends Base<P, S> implements Classifier {
  readonly task = 'classification' as const;

  get classes(): readonly number[] {
    return this.state?.classes ?? [];
  }

  fit(X: readonly (readonly number[])[], y: readonly number[]): this {
    const m = toMatrix(X);
    const labels = encodeLabels(toVector(y, m.nRows));
    this.state = this.fitMatrix(m, labels.index, labels.classes);
    return this;
  }

  protected abstract fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): S;
  /** Row-major probabilities, nRows × classes.length. */
  protected abstract probaMatrix(X: DenseMatrix, state: S): Float64Array;

  predictProba(X: readonly (readonly number[])[]): number[][] {
    const s = this.fitted();
    const p = this.probaMatrix(toMatrix(X, 'X', s.nFeatures), s);
    const K = s.classes.length;
    const out: number[][] = [];
    for (let i = 0; i < p.length / K; i++) out.push(Array.from(p.subarray(i * K, (i + 1) * K)));
    return out;
  }

  predict(X: readonly (readonly number[])[]): number[] {
    const s = this.fitted();
    return this.predictIndex(toMatrix(X, 'X', s.nFeatures), s).map((k) => s.classes[k]);
  }

  /** Class index per row; the default is the argmax of the probabilities. */
  protected predictIndex(X: DenseMatrix, s: S): number[] {
    const p = this.probaMatrix(X, s);
    const K = s.classes.length;
    const out = new Array<number>(X.nRows);
    for (let i = 0; i < X.nRows; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
      out[i] = best;
    }
    return out;
  }

  score(X: readonly (readonly number[])[], y: readonly number[]): number {
    return accuracy(y as number[], this.predict(X));
  }
}

export interface RegressorCore {
  nFeatures: number;
}

export abstract class BaseRegressor<P extends object, S extends RegressorCore> extends Base<P, S> implements Regressor {
  readonly task = 'regression' as const;

  fit(X: readonly (readonly number[])[], y: readonly number[]): this {
    const m = toMatrix(X);
    this.state = this.fitMatrix(m, toVector(y, m.nRows));
    return this;
  }

  protected abstract fitMatrix(X: DenseMatrix, y: Float64Array): S;
  protected abstract predictMatrix(X: DenseMatrix, state: S): Float64Array;

  predict(X: readonly (readonly number[])[]): number[] {
    const s = this.fitted();
    return Array.from(this.predictMatrix(toMatrix(X, 'X', s.nFeatures), s));
  }

  score(X: readonly (readonly number[])[], y: readonly number[]): number {
    return r2Score(y as number[], this.predict(X));
  }
}

export interface ClustererCore {
  nFeatures: number;
  labels: number[];
}

export abstract class BaseClusterer<P extends object, S extends ClustererCore> extends Base<P, S> implements Clusterer {
  readonly task = 'clustering' as const;

  get labels(): readonly number[] {
    return this.state?.labels ?? [];
  }

  fit(X: readonly (readonly number[])[], _y?: readonly number[]): this {
    this.state = this.fitMatrix(toMatrix(X));
    return this;
  }

  protected abstract fitMatrix(X: DenseMatrix): S;

  fitPredict(X: readonly (readonly number[])[]): number[] {
    return [...this.fit(X).labels];
  }

  score(X: readonly (readonly number[])[]): number {
    return silhouetteScore(X, this.fitted().labels);
  }
}
