/**
 * Least squares: OLS and ridge (closed form on centered, scaled normal equations, solved by
 * Cholesky), and lasso (cyclic coordinate descent). Objectives as scikit-learn:
 * ridge ‖y − Xw − b‖² + α‖w‖²; lasso (1/2n)‖y − Xw − b‖² + α‖w‖₁. The intercept is never penalized.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseRegressor } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { cholesky, choleskySolve, columnStats, linearScores, standardize } from './linalg.ts';

interface LinState { nFeatures: number; coef: number[]; intercept: number; nIter?: number }

abstract class LinearRegressorBase<P extends object> extends BaseRegressor<P, LinState> {
  protected predictMatrix(X: DenseMatrix, s: LinState): Float64Array {
    return linearScores(X.data, X.nRows, X.nCols, [s.coef], [s.intercept]);
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    return { body: { kind: 'linear', task: 'regression', nFeatures: s.nFeatures, coef: [[...s.coef]], intercept: [s.intercept], link: 'identity' } };
  }

  get coef(): number[] { return [...this.fitted().coef]; }
  get intercept(): number { return this.fitted().intercept; }
}

/** Solves (XsᵀXs + α·diag(1/scale²)) w = Xsᵀyc on standardized X, so α applies to raw-scale w. */
function solveRidge(X: DenseMatrix, y: Float64Array, alpha: number): LinState {
  const { nRows: n, nCols: d } = X;
  const st = columnStats(X.data, n, d);
  const Xs = standardize(X.data, n, d, st);
  let yMean = 0;
  for (const v of y) yMean += v / n;
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const r = y[i] - yMean;
    for (let j = 0; j < d; j++) {
      const xj = Xs[i * d + j];
      b[j] += xj * r;
      for (let k = 0; k <= j; k++) A[j * d + k] += xj * Xs[i * d + k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) A[k * d + j] = A[j * d + k];
    A[j * d + j] += alpha / (st.scale[j] * st.scale[j]);
  }
  const ws = choleskySolve(cholesky(A, d).L, d, b);
  const coef = Array.from(ws, (w, j) => w / st.scale[j]);
  const intercept = yMean - coef.reduce((s, w, j) => s + w * st.mean[j], 0);
  return { nFeatures: d, coef, intercept };
}

export const LINEAR_REGRESSION_SPECS = {} as const satisfies ParamSpecs;
export type LinearRegressionParams = Record<string, never>;

export class LinearRegression extends LinearRegressorBase<LinearRegressionParams> {
  readonly kind = 'linear-regression';
  constructor(params: Partial<LinearRegressionParams> = {}) {
    super(resolveParams('linear-regression', LINEAR_REGRESSION_SPECS, params));
  }
  protected fitMatrix(X: DenseMatrix, y: Float64Array): LinState {
    return solveRidge(X, y, 0);
  }
}

export const RIDGE_SPECS = {
  alpha: { type: 'float', min: 0, max: 1e12, default: 1, doc: 'L2 penalty strength' },
} as const satisfies ParamSpecs;
export interface RidgeParams { alpha: number }

export class Ridge extends LinearRegressorBase<RidgeParams> {
  readonly kind = 'ridge';
  constructor(params: Partial<RidgeParams> = {}) {
    super(resolveParams('ridge', RIDGE_SPECS, params));
  }
  protected fitMatrix(X: DenseMatrix, y: Float64Array): LinState {
    return solveRidge(X, y, this.params.alpha);
  }
}

export const LASSO_SPECS = {
  alpha: { type: 'float', min: 0, max: 1e12, default: 1, doc: 'L1 penalty strength' },
  maxIter: { type: 'int', min: 1, max: 1e6, default: 1000, doc: 'coordinate descent sweeps' },
  tol: { type: 'float', min: 0, max: 1, exclusiveMin: true, default: 1e-4, doc: 'stop when the largest coefficient change is below tol × max |w|' },
} as const satisfies ParamSpecs;
export interface LassoParams { alpha: number; maxIter: number; tol: number }

export class Lasso extends LinearRegressorBase<LassoParams> {
  readonly kind = 'lasso';
  constructor(params: Partial<LassoParams> = {}) {
    super(resolveParams('lasso', LASSO_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, y: Float64Array): LinState {
    const { nRows: n, nCols: d } = X;
    const { alpha, maxIter, tol } = this.params;
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X.data[i * d + j] / n;
    let yMean = 0;
    for (const v of y) yMean += v / n;
    // Column-major centered copy: each coordinate update scans one contiguous column.
    const cols: Float64Array[] = [];
    const sq = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const c = new Float64Array(n);
      for (let i = 0; i < n; i++) { c[i] = X.data[i * d + j] - mean[j]; sq[j] += c[i] * c[i]; }
      cols.push(c);
    }
    const resid = Float64Array.from(y, (v) => v - yMean);
    const w = new Float64Array(d);
    const thresh = alpha * n;
    let iter = 0;
    for (; iter < maxIter; iter++) {
      let maxChange = 0; let maxW = 0;
      for (let j = 0; j < d; j++) {
        if (sq[j] === 0) continue;
        const c = cols[j];
        let rho = 0;
        for (let i = 0; i < n; i++) rho += c[i] * resid[i];
        rho += sq[j] * w[j];
        const next = Math.sign(rho) * Math.max(Math.abs(rho) - thresh, 0) / sq[j];
        const delta = next - w[j];
        if (delta !== 0) {
          for (let i = 0; i < n; i++) resid[i] -= delta * c[i];
          w[j] = next;
        }
        maxChange = Math.max(maxChange, Math.abs(delta));
        maxW = Math.max(maxW, Math.abs(next));
      }
      if (maxW === 0 || maxChange / maxW < tol) { iter++; break; }
    }
    if (!Number.isFinite(w.reduce((a, b) => a + b, 0))) throw new EdgeloopError('BAD_DATA', 'lasso diverged: coefficients are not finite');
    const coef = Array.from(w);
    return { nFeatures: d, coef, intercept: yMean - coef.reduce((s, v, j) => s + v * mean[j], 0), nIter: iter };
  }
}
