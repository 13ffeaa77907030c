/** Small dense linear algebra for the linear models (row-major Float64Array, n ≤ a few hundred). */

/**
 * Cholesky factor of a symmetric positive (semi)definite matrix, returned as lower-triangular L.
 * When A is only semidefinite (collinear features), a jitter growing from 1e-12·max(diag) is added
 * until the factorization succeeds; the jitter used is returned so callers can report it.
 */
export function cholesky(A: Float64Array, n: number): { L: Float64Array; jitter: number } {
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(A[i * n + i]));
  let jitter = 0;
  for (let attempt = 0; attempt < 12; attempt++) {
    const L = new Float64Array(n * n);
    let ok = true;
    for (let j = 0; j < n && ok; j++) {
      let s = A[j * n + j] + jitter;
      for (let k = 0; k < j; k++) s -= L[j * n + k] * L[j * n + k];
      if (!(s > 0)) { ok = false; break; }
      const d = Math.sqrt(s);
      L[j * n + j] = d;
      for (let i = j + 1; i < n; i++) {
        let t = A[i * n + j];
        for (let k = 0; k < j; k++) t -= L[i * n + k] * L[j * n + k];
        L[i * n + j] = t / d;
      }
    }
    if (ok) return { L, jitter };
    jitter = jitter === 0 ? 1e-12 * Math.max(maxDiag, 1e-300) : jitter * 10;
  }
  throw new RangeError(`matrix is not positive definite even with jitter ${jitter}`);
}

/** Solves L Lᵀ x = b. */
export function choleskySolve(L: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * z[k];
    z[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

export interface ColumnStats {
  mean: Float64Array;
  /** Population std; 1 for constant columns so scaling is a no-op there. */
  scale: Float64Array;
}

export function columnStats(data: Float64Array, nRows: number, nCols: number): ColumnStats {
  const mean = new Float64Array(nCols);
  const scale = new Float64Array(nCols);
  for (let i = 0; i < nRows; i++) for (let j = 0; j < nCols; j++) mean[j] += data[i * nCols + j];
  for (let j = 0; j < nCols; j++) mean[j] /= nRows;
  for (let i = 0; i < nRows; i++) for (let j = 0; j < nCols; j++) scale[j] += (data[i * nCols + j] - mean[j]) ** 2;
  for (let j = 0; j < nCols; j++) { const s = Math.sqrt(scale[j] / nRows); scale[j] = s > 1e-300 ? s : 1; }
  return { mean, scale };
}

/** (X − mean) / scale, row-major copy. */
export function standardize(data: Float64Array, nRows: number, nCols: number, st: ColumnStats): Float64Array {
  const out = new Float64Array(nRows * nCols);
  for (let i = 0; i < nRows; i++) for (let j = 0; j < nCols; j++) out[i * nCols + j] = (data[i * nCols + j] - st.mean[j]) / st.scale[j];
  return out;
}

/** scores[i][k] = Σ_j X[i][j]·coef[k][j] + intercept[k]. */
export function linearScores(data: Float64Array, nRows: number, nCols: number, coef: readonly (readonly number[])[], intercept: readonly number[]): Float64Array {
  const K = coef.length;
  const out = new Float64Array(nRows * K);
  for (let i = 0; i < nRows; i++) {
    for (let k = 0; k < K; k++) {
      let s = intercept[k];
      const c = coef[k];
      for (let j = 0; j < nCols; j++) s += data[i * nCols + j] * c[j];
      out[i * K + k] = s;
    }
  }
  return out;
}
