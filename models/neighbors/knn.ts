/** k-nearest neighbours (brute force over the training rows; fine for the few thousand rows of a device fleet). */
import { BaseClassifier, BaseRegressor } from '../base.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';

export const KNN_SPECS = {
  k: { type: 'int', min: 1, max: 10000, default: 5, doc: 'neighbours consulted' },
  weights: { type: 'enum', values: ['uniform', 'distance'], default: 'uniform', doc: 'vote weight: equal or 1/distance' },
  metric: { type: 'enum', values: ['euclidean', 'manhattan'], default: 'euclidean', doc: 'distance' },
} as const satisfies ParamSpecs;
export interface KnnParams { k: number; weights: 'uniform' | 'distance'; metric: 'euclidean' | 'manhattan' }

interface Neighbour { index: number; dist: number }

/** The k nearest training rows of query row q (ties broken by lower training index, as a stable sort). */
function nearest(train: DenseMatrix, X: DenseMatrix, q: number, p: KnnParams): Neighbour[] {
  const d = train.nCols;
  const k = Math.min(p.k, train.nRows);
  const best: Neighbour[] = [];
  for (let i = 0; i < train.nRows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = train.data[i * d + j] - X.data[q * d + j];
      s += p.metric === 'euclidean' ? t * t : Math.abs(t);
    }
    if (best.length === k && s >= best[k - 1].dist) continue;
    let pos = best.length;
    while (pos > 0 && best[pos - 1].dist > s) pos--;
    best.splice(pos, 0, { index: i, dist: s });
    if (best.length > k) best.pop();
  }
  if (p.metric === 'euclidean') for (const b of best) b.dist = Math.sqrt(b.dist);
  return best;
}

/** Neighbour weights; with 'distance', exact matches take all the weight (as scikit-learn). */
function weightsOf(nb: Neighbour[], mode: 'uniform' | 'distance'): number[] {
  if (mode === 'uniform') return nb.map(() => 1);
  if (nb.some((n) => n.dist === 0)) return nb.map((n) => (n.dist === 0 ? 1 : 0));
  return nb.map((n) => 1 / n.dist);
}

interface ClassState { nFeatures: number; classes: number[]; X: number[]; yIndex: number[] }
interface RegState { nFeatures: number; X: number[]; y: number[] }

export class KNeighborsClassifier extends BaseClassifier<KnnParams, ClassState> {
  readonly kind = 'knn-classifier';
  constructor(params: Partial<KnnParams> = {}) {
    super(resolveParams('knn-classifier', KNN_SPECS, params));
  }
  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): ClassState {
    return { nFeatures: X.nCols, classes, X: Array.from(X.data), yIndex: Array.from(yIndex) };
  }
  protected probaMatrix(X: DenseMatrix, s: ClassState): Float64Array {
    const train: DenseMatrix = { nRows: s.yIndex.length, nCols: s.nFeatures, data: Float64Array.from(s.X) };
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    for (let q = 0; q < X.nRows; q++) {
      const nb = nearest(train, X, q, this.params);
      const w = weightsOf(nb, this.params.weights);
      const total = w.reduce((a, b) => a + b, 0);
      nb.forEach((n, r) => { out[q * K + s.yIndex[n.index]] += w[r] / total; });
    }
    return out;
  }
}

export class KNeighborsRegressor extends BaseRegressor<KnnParams, RegState> {
  readonly kind = 'knn-regressor';
  constructor(params: Partial<KnnParams> = {}) {
    super(resolveParams('knn-regressor', KNN_SPECS, params));
  }
  protected fitMatrix(X: DenseMatrix, y: Float64Array): RegState {
    return { nFeatures: X.nCols, X: Array.from(X.data), y: Array.from(y) };
  }
  protected predictMatrix(X: DenseMatrix, s: RegState): Float64Array {
    const train: DenseMatrix = { nRows: s.y.length, nCols: s.nFeatures, data: Float64Array.from(s.X) };
    const out = new Float64Array(X.nRows);
    for (let q = 0; q < X.nRows; q++) {
      const nb = nearest(train, X, q, this.params);
      const w = weightsOf(nb, this.params.weights);
      const total = w.reduce((a, b) => a + b, 0);
      out[q] = nb.reduce((acc, n, r) => acc + (w[r] * s.y[n.index]) / total, 0);
    }
    return out;
  }
}
