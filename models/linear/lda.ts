/**
 * Linear discriminant analysis (scikit-learn's 'lsqr' solver): class means, the pooled
 * within-class covariance Σ = Σ_k π_k Cov_k (biased), optional Ledoit-style shrinkage toward
 * (trace Σ / d)·I, and discriminants δ_k(x) = xᵀΣ⁻¹μ_k − ½μ_kᵀΣ⁻¹μ_k + log π_k. Σ is factored
 * on standardized features so mixed units (lux next to kg/kg) do not ruin the Cholesky.
 */
import { BaseClassifier } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import type { DenseMatrix } from '../matrix.ts';
import { linearProba, linearClassifierIR } from './linear-classifier.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { cholesky, choleskySolve, columnStats } from './linalg.ts';

export const LDA_SPECS = {
  shrinkage: { type: 'float', min: 0, max: 1, default: null, nullable: true, doc: 'blend of Σ with (trace Σ / d)·I; null = none' },
} as const satisfies ParamSpecs;
export interface LdaParams { shrinkage: number | null }

interface State { nFeatures: number; classes: number[]; coef: number[][]; intercept: number[] }

export class LinearDiscriminantAnalysis extends BaseClassifier<LdaParams, State> {
  readonly kind = 'lda';

  constructor(params: Partial<LdaParams> = {}) {
    super(resolveParams('lda', LDA_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): State {
    const { nRows: n, nCols: d } = X;
    const K = classes.length;
    const st = columnStats(X.data, n, d);
    const count = new Float64Array(K);
    const means = new Float64Array(K * d); // standardized space
    for (let i = 0; i < n; i++) {
      const k = yIndex[i];
      count[k]++;
      for (let j = 0; j < d; j++) means[k * d + j] += (X.data[i * d + j] - st.mean[j]) / st.scale[j];
    }
    for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) means[k * d + j] /= count[k];
    const S = new Float64Array(d * d);
    const r = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const k = yIndex[i];
      for (let j = 0; j < d; j++) r[j] = (X.data[i * d + j] - st.mean[j]) / st.scale[j] - means[k * d + j];
      for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) S[a * d + b] += r[a] * r[b];
    }
    for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) { S[a * d + b] /= n; S[b * d + a] = S[a * d + b]; }
    const alpha = this.params.shrinkage;
    if (alpha !== null && alpha > 0) {
      // Shrinkage is defined on the raw covariance: Σ_raw = D S D; blend there, then rescale.
      let trace = 0;
      for (let j = 0; j < d; j++) trace += S[j * d + j] * st.scale[j] * st.scale[j];
      const mu = trace / d;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) {
        S[a * d + b] = (1 - alpha) * S[a * d + b] + (a === b ? (alpha * mu) / (st.scale[a] * st.scale[a]) : 0);
      }
    }
    const L = cholesky(S, d).L;
    const coefS: Float64Array[] = [];
    const intercept: number[] = [];
    for (let k = 0; k < K; k++) {
      const mk = means.subarray(k * d, (k + 1) * d);
      const c = choleskySolve(L, d, mk);
      coefS.push(c);
      let quad = 0;
      for (let j = 0; j < d; j++) quad += mk[j] * c[j];
      intercept.push(-0.5 * quad + Math.log(count[k] / n));
    }
    // Back to raw features: z = (x − m)/s ⇒ coef_raw = c/s, intercept −= Σ coef_raw·m.
    let coef = coefS.map((c) => Array.from(c, (v, j) => v / st.scale[j]));
    let b = intercept.map((v, k) => v - coef[k].reduce((s, w, j) => s + w * st.mean[j], 0));
    if (K === 2) {
      coef = [coef[1].map((v, j) => v - coef[0][j])];
      b = [b[1] - b[0]];
    }
    return { nFeatures: d, classes, coef, intercept: b };
  }

  protected probaMatrix(X: DenseMatrix, s: State): Float64Array {
    return linearProba(X, s);
  }

  override toIR(): ModelIR {
    return linearClassifierIR(this.fitted());
  }

  get coef(): number[][] { return this.fitted().coef.map((c) => [...c]); }
  get intercept(): number[] { return [...this.fitted().intercept]; }
}
