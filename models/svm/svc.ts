/**
 * Support vector classifier: the C-SVM dual solved by SMO with libsvm's second-order working-set
 * selection (Fan, Chen, Lin 2005), kernel rows computed on demand behind a bounded LRU cache.
 * Multiclass is one-vs-rest (so a linear SVM stays one LinearIR). predictProba is a softmax /
 * sigmoid of the decision values: it ranks correctly but is not calibrated (no Platt scaling).
 */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseClassifier } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import { sigmoid, softmaxInPlace, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';

export const SVC_SPECS = {
  kernel: { type: 'enum', values: ['linear', 'rbf'], default: 'rbf', doc: 'kernel function' },
  C: { type: 'float', min: 0, max: 1e9, exclusiveMin: true, default: 1, doc: 'box constraint (inverse regularization)' },
  gamma: { type: 'float', min: 0, max: 1e9, exclusiveMin: true, default: null, nullable: true, doc: 'RBF width; null = 1 / (features × variance of X) as scikit-learn\'s \'scale\'' },
  tol: { type: 'float', min: 0, max: 1, exclusiveMin: true, default: 1e-3, doc: 'KKT violation tolerance' },
  maxIter: { type: 'int', min: 1, max: 1e9, default: 1000000, doc: 'SMO steps per binary problem' },
  cacheMb: { type: 'int', min: 1, max: 4096, default: 200, doc: 'kernel row cache' },
} as const satisfies ParamSpecs;
export interface SvcParams { kernel: 'linear' | 'rbf'; C: number; gamma: number | null; tol: number; maxIter: number; cacheMb: number }

interface Machine { /** Support vector row indices into the stored X, with their αᵢyᵢ. */ sv: number[]; coef: number[]; rho: number }
interface State { nFeatures: number; classes: number[]; gamma: number; X: number[]; machines: Machine[]; /** linear kernel: w per machine */ w?: number[][] }

export class SVC extends BaseClassifier<SvcParams, State> {
  readonly kind = 'svc';
  constructor(params: Partial<SvcParams> = {}) {
    super(resolveParams('svc', SVC_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): State {
    const { nRows: n, nCols: d, data } = X;
    let gamma = this.params.gamma ?? 0;
    if (this.params.gamma === null) {
      let mean = 0; let sq = 0;
      for (const v of data) { mean += v; sq += v * v; }
      mean /= data.length;
      const variance = sq / data.length - mean * mean;
      gamma = variance > 0 ? 1 / (d * variance) : 1;
    }
    const kernel = (a: number, b: number): number => {
      let s = 0;
      if (this.params.kernel === 'linear') { for (let j = 0; j < d; j++) s += data[a * d + j] * data[b * d + j]; return s; }
      for (let j = 0; j < d; j++) { const t = data[a * d + j] - data[b * d + j]; s += t * t; }
      return Math.exp(-gamma * s);
    };
    const cacheRows = Math.max(2, Math.floor((this.params.cacheMb * 1024 * 1024) / (8 * n)));
    const cache = new Map<number, Float64Array>();
    const row = (i: number): Float64Array => {
      let r = cache.get(i);
      if (r) { cache.delete(i); cache.set(i, r); return r; }
      r = new Float64Array(n);
      for (let k = 0; k < n; k++) r[k] = kernel(i, k);
      cache.set(i, r);
      if (cache.size > cacheRows) cache.delete(cache.keys().next().value!);
      return r;
    };
    const diag = Float64Array.from({ length: n }, (_, i) => kernel(i, i));
    const K = classes.length;
    const targets = K === 2 ? [1] : classes.map((_, k) => k);
    const machines = targets.map((t) => this.solve(n, Int8Array.from(yIndex, (c) => (c === t ? 1 : -1)), row, diag));
    const state: State = { nFeatures: d, classes, gamma, X: Array.from(data), machines };
    if (this.params.kernel === 'linear') {
      state.w = machines.map((m) => {
        const w = new Array<number>(d).fill(0);
        m.sv.forEach((i, s) => { for (let j = 0; j < d; j++) w[j] += m.coef[s] * data[i * d + j]; });
        return w;
      });
    }
    return state;
  }

  private solve(n: number, y: Int8Array, row: (i: number) => Float64Array, diag: Float64Array): Machine {
    const C = this.params.C;
    const TAU = 1e-12;
    const alpha = new Float64Array(n);
    const G = new Float64Array(n).fill(-1);
    const upper = (t: number): boolean => alpha[t] >= C;
    const lower = (t: number): boolean => alpha[t] <= 0;
    let iter = 0;
    for (; iter < this.params.maxIter; iter++) {
      let gmax = -Infinity; let i = -1;
      for (let t = 0; t < n; t++) {
        if (y[t] === 1) { if (!upper(t) && -G[t] >= gmax) { gmax = -G[t]; i = t; } }
        else if (!lower(t) && G[t] >= gmax) { gmax = G[t]; i = t; }
      }
      if (i < 0) break;
      const Ki = row(i);
      let gmax2 = -Infinity; let j = -1; let best = Infinity;
      for (let t = 0; t < n; t++) {
        let gradDiff: number;
        if (y[t] === 1) {
          if (lower(t)) continue;
          gmax2 = Math.max(gmax2, G[t]);
          gradDiff = gmax + G[t];
        } else {
          if (upper(t)) continue;
          gmax2 = Math.max(gmax2, -G[t]);
          gradDiff = gmax - G[t];
        }
        if (gradDiff > 0) {
          const quad = Math.max(diag[i] + diag[t] - 2 * Ki[t], TAU);
          const obj = -(gradDiff * gradDiff) / quad;
          if (obj <= best) { best = obj; j = t; }
        }
      }
      if (gmax + gmax2 < this.params.tol || j < 0) break;
      const Kj = row(j);
      const oldI = alpha[i]; const oldJ = alpha[j];
      const quad = Math.max(diag[i] + diag[j] - 2 * Ki[j], TAU);
      if (y[i] !== y[j]) {
        const delta = (-G[i] - G[j]) / quad;
        const diff = alpha[i] - alpha[j];
        alpha[i] += delta; alpha[j] += delta;
        if (diff > 0) { if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = diff; } } else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = -diff; }
        if (diff > 0) { if (alpha[i] > C) { alpha[i] = C; alpha[j] = C - diff; } } else if (alpha[j] > C) { alpha[j] = C; alpha[i] = C + diff; }
      } else {
        const delta = (G[i] - G[j]) / quad;
        const sum = alpha[i] + alpha[j];
        alpha[i] -= delta; alpha[j] += delta;
        if (sum > C) { if (alpha[i] > C) { alpha[i] = C; alpha[j] = sum - C; } } else if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = sum; }
        if (sum > C) { if (alpha[j] > C) { alpha[j] = C; alpha[i] = sum - C; } } else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = sum; }
      }
      const dI = alpha[i] - oldI; const dJ = alpha[j] - oldJ;
      for (let t = 0; t < n; t++) G[t] += y[t] * (y[i] * Ki[t] * dI + y[j] * Kj[t] * dJ);
    }
    if (iter >= this.params.maxIter) {
      throw new EdgeloopError('BAD_DATA', `svc: SMO did not converge in maxIter ${this.params.maxIter} steps; raise maxIter (up to 1e9) or scale the features`);
    }
    let ub = Infinity; let lb = -Infinity; let free = 0; let sumFree = 0;
    for (let t = 0; t < n; t++) {
      const yG = y[t] * G[t];
      if (upper(t)) { if (y[t] === -1) ub = Math.min(ub, yG); else lb = Math.max(lb, yG); }
      else if (lower(t)) { if (y[t] === 1) ub = Math.min(ub, yG); else lb = Math.max(lb, yG); }
      else { free++; sumFree += yG; }
    }
    const rho = free > 0 ? sumFree / free : (ub + lb) / 2;
    const sv: number[] = []; const coef: number[] = [];
    for (let t = 0; t < n; t++) if (alpha[t] > 0) { sv.push(t); coef.push(alpha[t] * y[t]); }
    return { sv, coef, rho };
  }

  /** Decision values, n × machines (one machine for binary problems). */
  private decisions(X: DenseMatrix, s: State): Float64Array {
    const d = s.nFeatures;
    const M = s.machines.length;
    const out = new Float64Array(X.nRows * M);
    for (let q = 0; q < X.nRows; q++) {
      s.machines.forEach((m, k) => {
        let f = -m.rho;
        if (s.w) { for (let j = 0; j < d; j++) f += s.w[k][j] * X.data[q * d + j]; }
        else {
          m.sv.forEach((i, r) => {
            let dist = 0;
            for (let j = 0; j < d; j++) { const t = s.X[i * d + j] - X.data[q * d + j]; dist += t * t; }
            f += m.coef[r] * Math.exp(-s.gamma * dist);
          });
        }
        out[q * M + k] = f;
      });
    }
    return out;
  }

  protected probaMatrix(X: DenseMatrix, s: State): Float64Array {
    const dec = this.decisions(X, s);
    const K = s.classes.length;
    if (s.machines.length === 1) {
      const out = new Float64Array(X.nRows * 2);
      for (let i = 0; i < X.nRows; i++) { const p = sigmoid(dec[i]); out[2 * i] = 1 - p; out[2 * i + 1] = p; }
      return out;
    }
    for (let i = 0; i < X.nRows; i++) softmaxInPlace(dec, i * K, K);
    return dec;
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    if (!s.w) return super.toIR();
    return {
      body: {
        kind: 'linear', task: 'classification', nFeatures: s.nFeatures, coef: s.w.map((w) => [...w]), intercept: s.machines.map((m) => -m.rho),
        link: s.machines.length === 1 ? 'logistic' : 'softmax', classes: s.classes.map(String),
      },
    };
  }

  get supportVectorCount(): number {
    return new Set(this.fitted().machines.flatMap((m) => m.sv)).size;
  }
}
