/**
 * Logistic regression, binary and multinomial, with scikit-learn's objective
 *   C · Σ log-loss + ½‖w‖²  (penalty 'l2'),  C · Σ log-loss + ‖w‖₁  ('l1'),  Σ log-loss ('none');
 * the intercept is not penalized. Solver: (proximal) Newton. Each outer step builds the exact
 * Hessian; L2/none solve it by Cholesky, L1 minimizes the quadratic model plus the L1 term by
 * coordinate descent (glmnet's scheme); a backtracking line search keeps every step a descent.
 * Features are standardized internally with the penalty rescaled to match, so the solution is
 * the raw-scale optimum while the Hessian stays well conditioned (occupancy mixes 1e-3 and 8e4).
 * Starts from the class log-odds intercept; stops when a step gains less than tol or the Newton
 * decrement (the full step's predicted gain) is below tol. The data passes (column-major, no
 * per-row allocation) are in logistic-passes.ts.
 * Cost per step is O(n·p²) with p = outputs × (features + 1): meant for tens of features.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseClassifier } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import type { DenseMatrix } from '../matrix.ts';
import { linearProba, linearClassifierIR } from './linear-classifier.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { cholesky, choleskySolve, columnStats } from './linalg.ts';
import { logisticDerivatives, logisticObjective, logisticProblem } from './logistic-passes.ts';

export const LOGISTIC_REGRESSION_SPECS = {
  penalty: { type: 'enum', values: ['l2', 'l1', 'none'], default: 'l2', doc: 'regularization of the coefficients' },
  C: { type: 'float', min: 0, max: 1e12, exclusiveMin: true, default: 1, doc: 'inverse regularization strength' },
  maxIter: { type: 'int', min: 1, max: 10000, default: 100, doc: 'Newton steps' },
  tol: { type: 'float', min: 0, max: 1, exclusiveMin: true, default: 1e-8, doc: 'stop when the objective improves by less than tol (relative)' },
} as const satisfies ParamSpecs;

export interface LogisticRegressionParams { penalty: 'l2' | 'l1' | 'none'; C: number; maxIter: number; tol: number }

interface State { nFeatures: number; classes: number[]; coef: number[][]; intercept: number[]; nIter: number; converged: boolean }

export class LogisticRegression extends BaseClassifier<LogisticRegressionParams, State> {
  readonly kind = 'logistic-regression';

  constructor(params: Partial<LogisticRegressionParams> = {}) {
    super(resolveParams('logistic-regression', LOGISTIC_REGRESSION_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): State {
    const { nRows: n, nCols: d } = X;
    const K = classes.length;
    const out = K === 2 ? 1 : K;
    const q = d + 1; // per-output block: d coefficients then the intercept
    const P = out * q;
    const { penalty, C, maxIter, tol } = this.params;
    const st = columnStats(X.data, n, d);
    // Penalty weight per standardized coefficient: w_raw = w_s / scale.
    const l2 = new Float64Array(P);
    const l1 = new Float64Array(P);
    for (let k = 0; k < out; k++) for (let j = 0; j < d; j++) {
      if (penalty === 'l2') l2[k * q + j] = 1 / (st.scale[j] * st.scale[j]);
      if (penalty === 'l1') l1[k * q + j] = 1 / st.scale[j];
    }
    const theta = new Float64Array(P);
    // Start from the best intercept-only model (class log-odds): the optimum when every coefficient
    // is zero, so Newton starts closer than from θ = 0 (with the same unique optimum).
    const counts = new Float64Array(K);
    for (let i = 0; i < n; i++) counts[yIndex[i]]++;
    for (let k = 0; k < out; k++) theta[k * q + d] = out === 1 ? Math.log(counts[1] / counts[0]) : Math.log(counts[k] / n);
    const problem = logisticProblem(X.data, n, d, st.mean, st.scale, yIndex, K, C, l1, l2);

    let f = logisticObjective(problem, theta);
    let nIter = 0;
    let converged = false;
    const g = new Float64Array(P);
    const H = new Float64Array(P * P);
    const trial = new Float64Array(P);
    for (; nIter < maxIter; nIter++) {
      logisticDerivatives(problem, theta, g, H); // at theta: problem holds theta's probabilities
      const delta = penalty === 'l1' ? l1Direction(H, g, theta, l1, P) : negate(choleskySolve(cholesky(H, P).L, P, g));
      // Directional derivative of the objective along delta (with the L1 term's change).
      let slope = 0;
      for (let a = 0; a < P; a++) slope += g[a] * delta[a] + l1[a] * (Math.abs(theta[a] + delta[a]) - Math.abs(theta[a]));
      if (slope > -1e-14 * Math.max(1, Math.abs(f))) { converged = true; break; }
      // The Newton decrement −slope/2 is what the full step gains on the quadratic model; once it is
      // below tol the iterate is in Newton's quadratic phase, where the full step is always taken:
      // take it without the line search's pass over the data and stop.
      if (-slope / 2 <= tol * Math.max(1, Math.abs(f))) {
        for (let a = 0; a < P; a++) theta[a] += delta[a];
        converged = true; nIter++; break;
      }
      let t = 1;
      let fNew = f;
      for (let ls = 0; ls < 40; ls++) {
        for (let a = 0; a < P; a++) trial[a] = theta[a] + t * delta[a];
        fNew = logisticObjective(problem, trial);
        if (fNew <= f + 1e-4 * t * slope) break;
        t /= 2;
      }
      if (!(fNew <= f)) { converged = true; break; }
      theta.set(trial);
      const improvement = f - fNew;
      f = fNew;
      if (improvement <= tol * Math.max(1, Math.abs(f))) { converged = true; nIter++; break; }
    }
    if (!Number.isFinite(f)) throw new EdgeloopError('BAD_DATA', 'logistic-regression diverged: the objective is not finite');

    const coef: number[][] = [];
    const intercept: number[] = [];
    for (let k = 0; k < out; k++) {
      const c = Array.from({ length: d }, (_, j) => theta[k * q + j] / st.scale[j]);
      coef.push(c);
      intercept.push(theta[k * q + d] - c.reduce((s, w, j) => s + w * st.mean[j], 0));
    }
    if (out > 1) {
      // Softmax is unchanged by a common shift; centre like scikit-learn (sum of intercepts 0).
      const shift = intercept.reduce((a, b) => a + b, 0) / out;
      for (let k = 0; k < out; k++) intercept[k] -= shift;
      if (penalty === 'none') {
        for (let j = 0; j < d; j++) {
          const m = coef.reduce((s, c) => s + c[j], 0) / out;
          for (const c of coef) c[j] -= m;
        }
      }
    }
    return { nFeatures: d, classes, coef, intercept, nIter, converged };
  }

  protected probaMatrix(X: DenseMatrix, s: State): Float64Array {
    return linearProba(X, s);
  }

  override toIR(): ModelIR {
    return linearClassifierIR(this.fitted());
  }

  get coef(): number[][] { return this.fitted().coef.map((c) => [...c]); }
  get intercept(): number[] { return [...this.fitted().intercept]; }
  /** Newton steps taken and whether the tolerance was met. */
  get convergence(): { nIter: number; converged: boolean } { const s = this.fitted(); return { nIter: s.nIter, converged: s.converged }; }
}

function negate(v: Float64Array): Float64Array {
  for (let i = 0; i < v.length; i++) v[i] = -v[i];
  return v;
}

/** argmin_δ gᵀδ + ½δᵀHδ + Σ λ_a |θ_a + δ_a| by cyclic coordinate descent. */
function l1Direction(H: Float64Array, g: Float64Array, theta: Float64Array, lambda: Float64Array, P: number): Float64Array {
  const delta = new Float64Array(P);
  const Hd = new Float64Array(P);
  for (let sweep = 0; sweep < 200; sweep++) {
    let maxStep = 0;
    for (let a = 0; a < P; a++) {
      const h = H[a * P + a];
      if (!(h > 0)) continue;
      const grad = g[a] + Hd[a];
      const z = theta[a] + delta[a];
      const u = z - grad / h;
      const next = lambda[a] === 0 ? u : Math.sign(u) * Math.max(Math.abs(u) - lambda[a] / h, 0);
      const step = next - z;
      if (step === 0) continue;
      delta[a] += step;
      for (let b = 0; b < P; b++) Hd[b] += H[b * P + a] * step;
      maxStep = Math.max(maxStep, Math.abs(step));
    }
    if (maxStep < 1e-12) break;
  }
  return delta;
}
