/**
 * Logistic regression, binary and multinomial, with scikit-learn's objective
 *   C · Σ log-loss + ½‖w‖²  (penalty 'l2'),  C · Σ log-loss + ‖w‖₁  ('l1'),  Σ log-loss ('none');
 * the intercept is not penalized. Solver: (proximal) Newton. Each outer step builds the exact
 * Hessian; L2/none solve it by Cholesky, L1 minimizes the quadratic model plus the L1 term by
 * coordinate descent (glmnet's scheme); a backtracking line search keeps every step a descent.
 * Features are standardized internally with the penalty rescaled to match, so the solution is
 * the raw-scale optimum while the Hessian stays well conditioned (occupancy mixes 1e-3 and 8e4).
 * Cost per step is O(n·p²) with p = outputs × (features + 1): meant for tens of features.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseClassifier } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import { sigmoid, type DenseMatrix } from '../matrix.ts';
import { linearProba, linearClassifierIR } from './linear-classifier.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { cholesky, choleskySolve, columnStats, standardize } from './linalg.ts';

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
    const Xs = standardize(X.data, n, d, st);
    // Penalty weight per standardized coefficient: w_raw = w_s / scale.
    const l2 = new Float64Array(P);
    const l1 = new Float64Array(P);
    for (let k = 0; k < out; k++) for (let j = 0; j < d; j++) {
      if (penalty === 'l2') l2[k * q + j] = 1 / (st.scale[j] * st.scale[j]);
      if (penalty === 'l1') l1[k * q + j] = 1 / st.scale[j];
    }
    const theta = new Float64Array(P);
    const scores = new Float64Array(n * out);
    const prob = new Float64Array(n * (out === 1 ? 1 : K));

    const forward = (th: Float64Array): number => {
      let loss = 0;
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < out; k++) {
          let s = th[k * q + d];
          for (let j = 0; j < d; j++) s += Xs[i * d + j] * th[k * q + j];
          scores[i * out + k] = s;
        }
        if (out === 1) {
          const z = scores[i];
          // log(1 + e^{-z}) for y=1, log(1 + e^{z}) for y=0, computed stably.
          const t = yIndex[i] === 1 ? -z : z;
          loss += t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
          prob[i] = sigmoid(z);
        } else {
          let m = -Infinity;
          for (let k = 0; k < K; k++) m = Math.max(m, scores[i * K + k]);
          let s = 0;
          for (let k = 0; k < K; k++) s += Math.exp(scores[i * K + k] - m);
          loss += m + Math.log(s) - scores[i * K + yIndex[i]];
          for (let k = 0; k < K; k++) prob[i * K + k] = Math.exp(scores[i * K + k] - m) / s;
        }
      }
      let pen = 0;
      for (let a = 0; a < P; a++) pen += 0.5 * l2[a] * th[a] * th[a] + l1[a] * Math.abs(th[a]);
      return C * loss + pen;
    };

    let f = forward(theta);
    let nIter = 0;
    let converged = false;
    const g = new Float64Array(P);
    const H = new Float64Array(P * P);
    const xi = new Float64Array(q);
    for (; nIter < maxIter; nIter++) {
      g.fill(0); H.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) xi[j] = Xs[i * d + j];
        xi[d] = 1;
        for (let k = 0; k < out; k++) {
          const pk = prob[i * (out === 1 ? 1 : K) + k];
          const target = out === 1 ? (yIndex[i] === 1 ? 1 : 0) : (yIndex[i] === k ? 1 : 0);
          const r = C * (pk - target);
          for (let a = 0; a < q; a++) g[k * q + a] += r * xi[a];
          for (let l = 0; l <= k; l++) {
            const pl = prob[i * (out === 1 ? 1 : K) + l];
            const w = C * (out === 1 ? pk * (1 - pk) : (k === l ? pk * (1 - pk) : -pk * pl));
            if (w === 0) continue;
            for (let a = 0; a < q; a++) {
              const wa = w * xi[a];
              const row = (k * q + a) * P + l * q;
              for (let b = 0; b < q; b++) H[row + b] += wa * xi[b];
            }
          }
        }
      }
      for (let a = 0; a < P; a++) {
        for (let b = a + 1; b < P; b++) H[a * P + b] = H[b * P + a];
        g[a] += l2[a] * theta[a];
        H[a * P + a] += l2[a];
      }
      const delta = penalty === 'l1' ? l1Direction(H, g, theta, l1, P) : negate(choleskySolve(cholesky(H, P).L, P, g));
      // Directional derivative of the objective along delta (with the L1 term's change).
      let slope = 0;
      for (let a = 0; a < P; a++) slope += g[a] * delta[a] + l1[a] * (Math.abs(theta[a] + delta[a]) - Math.abs(theta[a]));
      if (slope > -1e-14 * Math.max(1, Math.abs(f))) { converged = true; break; }
      let t = 1;
      let fNew = f;
      const trial = new Float64Array(P);
      for (let ls = 0; ls < 40; ls++) {
        for (let a = 0; a < P; a++) trial[a] = theta[a] + t * delta[a];
        fNew = forward(trial);
        if (fNew <= f + 1e-4 * t * slope) break;
        t /= 2;
      }
      if (!(fNew <= f)) { forward(theta); converged = true; break; }
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
