/** Model-based imputation: k-nearest-neighbours and linear regression on the other columns. */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { withNum } from './frame-ops.ts';
import { mean, present } from './stats.ts';
import type { StepImpl } from './step-impl.ts';

export function knnDistanceColumns(frame: Frame, step: { columns: string[]; features?: string[] }): string[] {
  const extra = step.features ?? Object.keys(frame.num);
  return [...new Set([...step.columns, ...extra])];
}

/**
 * scikit-learn's nan_euclidean distance: over the coordinates present in both rows, scaled up by
 * (all coordinates / present coordinates); NaN when no coordinate is shared.
 */
function nanEuclidean(a: readonly (number | null)[], b: readonly (number | null)[]): number {
  let sum = 0;
  let shared = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j];
    const y = b[j];
    if (x === null || y === null) continue;
    sum += (x - y) * (x - y);
    shared++;
  }
  return shared === 0 ? Number.NaN : Math.sqrt((a.length / shared) * sum);
}

export const knnImpute: StepImpl<'knn-impute'> = {
  fit(frame, step) {
    const columns = knnDistanceColumns(frame, step);
    const n = frame.ts.length;
    // An even stride keeps the sample deterministic and spread over the whole training period.
    const m = Math.min(n, step.maxReferenceRows);
    const reference: (number | null)[][] = [];
    for (let r = 0; r < m; r++) {
      const i = Math.floor((r * n) / m);
      reference.push(columns.map((c) => frame.num[c][i]));
    }
    const fallback = columns.map((c) => mean(present(frame.num[c])));
    return { op: 'knn-impute', columns, reference, fallback };
  },
  apply(frame, step, state, rec) {
    const absent = state.columns.filter((c) => frame.num[c] === undefined);
    if (absent.length > 0) {
      throw new EdgeloopError('BAD_DATA', `knn-impute: numeric column(s) ${absent.map((c) => `'${c}'`).join(', ')} used for the distance at fit time are missing from the frame`);
    }
    const cols = state.columns.map((c) => frame.num[c]);
    const targets = step.columns.map((c) => state.columns.indexOf(c));
    const outCols = cols.map((c) => c.slice());
    const counts = new Array<number>(cols.length).fill(0);
    for (let i = 0; i < frame.ts.length; i++) {
      if (!targets.some((j) => cols[j][i] === null)) continue;
      const row = cols.map((c) => c[i]);
      const dist = state.reference.map((ref) => nanEuclidean(row, ref));
      for (const j of targets) {
        if (row[j] !== null) continue;
        const donors: number[] = [];
        for (let r = 0; r < state.reference.length; r++) if (state.reference[r][j] !== null && !Number.isNaN(dist[r])) donors.push(r);
        // Stable order on ties: nearer first, then earlier reference row.
        donors.sort((a, b) => dist[a] - dist[b] || a - b);
        const chosen = donors.slice(0, step.k);
        const value = chosen.length > 0 ? chosen.reduce((s, r) => s + (state.reference[r][j] as number), 0) / chosen.length : state.fallback[j];
        if (value === null) continue;
        outCols[j][i] = value;
        counts[j]++;
      }
    }
    let out = frame;
    for (const j of targets) {
      rec.count(state.columns[j], 'imputed', counts[j]);
      if (counts[j] > 0) out = withNum(out, state.columns[j], outCols[j]);
    }
    return out;
  },
};

/** Solves A x = b (A square) by Gaussian elimination with partial pivoting; null when singular. */
export function solveLinear(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  const scale = Math.max(1e-300, ...A.map((row) => Math.max(...row.map(Math.abs))));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (Math.abs(M[p][c]) <= 1e-12 * scale) return null;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

export const regressionImpute: StepImpl<'regression-impute'> = {
  fit(frame, step) {
    const y = frame.num[step.column];
    const X = step.features.map((f) => frame.num[f]);
    const rows: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] !== null && X.every((c) => c[i] !== null)) rows.push(i);
    const p = X.length;
    if (rows.length <= p) {
      throw new EdgeloopError('BAD_DATA', `regression-impute of '${step.column}': needs more than ${p} complete training rows (column and features all present), found ${rows.length}`);
    }
    // Centered normal equations: the intercept drops out and the system is better conditioned.
    const xMean = X.map((c) => rows.reduce((s, i) => s + (c[i] as number), 0) / rows.length);
    const yMean = rows.reduce((s, i) => s + (y[i] as number), 0) / rows.length;
    const A = X.map(() => new Array<number>(p).fill(0));
    const b = new Array<number>(p).fill(0);
    for (const i of rows) {
      const yc = (y[i] as number) - yMean;
      for (let a = 0; a < p; a++) {
        const xa = (X[a][i] as number) - xMean[a];
        b[a] += xa * yc;
        for (let c = 0; c < p; c++) A[a][c] += xa * ((X[c][i] as number) - xMean[c]);
      }
    }
    const coefficients = solveLinear(A, b);
    if (coefficients === null) {
      throw new EdgeloopError('BAD_DATA', `regression-impute of '${step.column}': features ${step.features.join(', ')} are constant or collinear on the training rows`);
    }
    const intercept = yMean - coefficients.reduce((s, w, a) => s + w * xMean[a], 0);
    return { op: 'regression-impute', intercept, coefficients, rowsFitted: rows.length };
  },
  apply(frame, step, state, rec) {
    const y = frame.num[step.column];
    const X = step.features.map((f) => frame.num[f]);
    let imputed = 0;
    let missed = 0;
    const values = y.map((v, i) => {
      if (v !== null) return v;
      if (X.some((c) => c[i] === null)) {
        missed++;
        return null;
      }
      imputed++;
      return state.coefficients.reduce((s, w, a) => s + w * (X[a][i] as number), state.intercept);
    });
    rec.count(step.column, 'imputed', imputed);
    rec.count(step.column, 'unimputable', missed);
    return imputed > 0 ? withNum(frame, step.column, values) : frame;
  },
};
