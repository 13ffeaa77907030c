/**
 * Input checks and conversion shared by every estimator: plain `number[][]` in, a row-major
 * Float64Array inside (one allocation, cache-friendly scans). Bad shapes and non-finite values
 * are rejected with the argument name, never silently coerced.
 */
import { EdgeloopError } from '../src/errors.ts';

export interface DenseMatrix {
  readonly nRows: number;
  readonly nCols: number;
  /** Row-major values, nRows * nCols. */
  readonly data: Float64Array;
}

/** Validates X (rectangular, finite, non-empty) and packs it row-major. */
export function toMatrix(X: readonly (readonly number[])[], name = 'X', expectedCols?: number): DenseMatrix {
  if (!Array.isArray(X) || X.length === 0) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must be a non-empty array of rows, got ${Array.isArray(X) ? '0 rows' : typeof X}`);
  }
  const nCols = X[0]?.length ?? 0;
  if (nCols === 0) throw new EdgeloopError('BAD_ARGUMENT', `${name} rows must have at least 1 column, got 0`);
  if (expectedCols !== undefined && nCols !== expectedCols) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must have ${expectedCols} columns (as at fit time), got ${nCols}`);
  }
  const data = new Float64Array(X.length * nCols);
  for (let i = 0; i < X.length; i++) {
    const row = X[i];
    if (!row || row.length !== nCols) {
      throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must have ${nCols} columns like ${name}[0], got ${row?.length ?? 'none'}`);
    }
    for (let j = 0; j < nCols; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}][${j}] must be a finite number, got ${String(v)}`);
      }
      data[i * nCols + j] = v;
    }
  }
  return { nRows: X.length, nCols, data };
}

/** Validates a target vector of the given length (finite numbers). */
export function toVector(y: readonly number[], n: number, name = 'y'): Float64Array {
  if (!Array.isArray(y)) throw new EdgeloopError('BAD_ARGUMENT', `${name} must be an array of numbers`);
  if (y.length !== n) throw new EdgeloopError('BAD_ARGUMENT', `${name} must have one value per row of X (${n}), got ${y.length}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new EdgeloopError('BAD_ARGUMENT', `${name}[${i}] must be a finite number, got ${String(v)}`);
    }
    out[i] = v;
  }
  return out;
}

/** Class labels of a classification target: sorted distinct values and each row's class index. */
export interface EncodedLabels {
  classes: number[];
  index: Int32Array;
}

export function encodeLabels(y: Float64Array, minClasses = 2, name = 'y'): EncodedLabels {
  const classes = Array.from(new Set(y)).sort((a, b) => a - b);
  if (classes.length < minClasses) {
    throw new EdgeloopError('BAD_ARGUMENT', `${name} must contain at least ${minClasses} distinct classes, got ${classes.length}`);
  }
  const pos = new Map(classes.map((c, i) => [c, i]));
  const index = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) index[i] = pos.get(y[i])!;
  return { classes, index };
}

/** Row-wise argmax into class labels. */
export function argmaxLabels(proba: number[][], classes: readonly number[]): number[] {
  return proba.map((p) => {
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    return classes[best];
  });
}

export function requireFitted<T>(state: T | undefined, kind: string): T {
  if (state === undefined) throw new EdgeloopError('BAD_ARGUMENT', `${kind} is not fitted: call fit(X, y) first`);
  return state;
}

/** Numerically stable in-place softmax of v[off .. off+k). */
export function softmaxInPlace(v: Float64Array | number[], off: number, k: number): void {
  let m = -Infinity;
  for (let j = 0; j < k; j++) if (v[off + j] > m) m = v[off + j];
  let s = 0;
  for (let j = 0; j < k; j++) { const e = Math.exp(v[off + j] - m); v[off + j] = e; s += e; }
  for (let j = 0; j < k; j++) v[off + j] /= s;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Selects rows of a dense matrix (used by bagging, CV and subsampling). */
export function takeRows(m: DenseMatrix, rows: ArrayLike<number>): DenseMatrix {
  const data = new Float64Array(rows.length * m.nCols);
  for (let i = 0; i < rows.length; i++) data.set(m.data.subarray(rows[i] * m.nCols, (rows[i] + 1) * m.nCols), i * m.nCols);
  return { nRows: rows.length, nCols: m.nCols, data };
}

export function matrixToRows(m: DenseMatrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.nRows; i++) out.push(Array.from(m.data.subarray(i * m.nCols, (i + 1) * m.nCols)));
  return out;
}
