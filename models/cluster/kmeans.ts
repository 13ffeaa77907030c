/** k-means (Lloyd) with k-means++ seeding, the best of nInit seeded runs by inertia. */
import { createRandom, type Random } from '../../src/random.ts';
import { BaseClusterer } from '../base.ts';
import { toMatrix, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { EdgeloopError } from '../../src/errors.ts';

export const KMEANS_SPECS = {
  nClusters: { type: 'int', min: 1, max: 100000, default: 8, doc: 'clusters' },
  nInit: { type: 'int', min: 1, max: 1000, default: 10, doc: 'seeded restarts; the lowest inertia wins' },
  maxIter: { type: 'int', min: 1, max: 100000, default: 300, doc: 'Lloyd iterations per run' },
  tol: { type: 'float', min: 0, max: 1, default: 1e-4, doc: 'stop when centres move less than tol × mean feature variance' },
  seed: { type: 'int', min: 0, max: 4294967295, default: 0, doc: 'PRNG seed' },
} as const satisfies ParamSpecs;
export interface KMeansParams { nClusters: number; nInit: number; maxIter: number; tol: number; seed: number }

interface State { nFeatures: number; labels: number[]; centers: number[][]; inertia: number }

function sqDist(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) { const t = a[ao + j] - b[bo + j]; s += t * t; }
  return s;
}

function plusPlus(X: DenseMatrix, k: number, random: Random): Float64Array {
  const { nRows: n, nCols: d, data } = X;
  const centers = new Float64Array(k * d);
  const first = random.int(n);
  centers.set(data.subarray(first * d, (first + 1) * d), 0);
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = sqDist(data, i * d, centers, 0, d);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (const v of closest) total += v;
    let r = random.next() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) { r -= closest[i]; if (r < 0) { pick = i; break; } }
    centers.set(data.subarray(pick * d, (pick + 1) * d), c * d);
    for (let i = 0; i < n; i++) closest[i] = Math.min(closest[i], sqDist(data, i * d, centers, c * d, d));
  }
  return centers;
}

export class KMeans extends BaseClusterer<KMeansParams, State> {
  readonly kind = 'kmeans';
  constructor(params: Partial<KMeansParams> = {}) {
    super(resolveParams('kmeans', KMEANS_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix): State {
    const { nRows: n, nCols: d, data } = X;
    const k = this.params.nClusters;
    if (k > n) throw new EdgeloopError('BAD_ARGUMENT', `kmeans: param 'nClusters' must be at most the number of rows (${n}), got ${k}`);
    const random = createRandom(this.params.seed);
    let varMean = 0;
    for (let j = 0; j < d; j++) {
      let m = 0; let s = 0;
      for (let i = 0; i < n; i++) { m += data[i * d + j]; s += data[i * d + j] ** 2; }
      varMean += (s / n - (m / n) ** 2) / d;
    }
    const tol = this.params.tol * varMean;
    let best: { centers: Float64Array; labels: Int32Array; inertia: number } | undefined;
    for (let run = 0; run < this.params.nInit; run++) {
      const centers = plusPlus(X, k, random);
      const labels = new Int32Array(n);
      let inertia = 0;
      for (let iter = 0; iter < this.params.maxIter; iter++) {
        inertia = 0;
        for (let i = 0; i < n; i++) {
          let bc = 0; let bd = Infinity;
          for (let c = 0; c < k; c++) { const dd = sqDist(data, i * d, centers, c * d, d); if (dd < bd) { bd = dd; bc = c; } }
          labels[i] = bc; inertia += bd;
        }
        const sums = new Float64Array(k * d);
        const counts = new Float64Array(k);
        for (let i = 0; i < n; i++) { counts[labels[i]]++; for (let j = 0; j < d; j++) sums[labels[i] * d + j] += data[i * d + j]; }
        let shift = 0;
        for (let c = 0; c < k; c++) {
          if (counts[c] === 0) continue; // an empty cluster keeps its centre
          for (let j = 0; j < d; j++) {
            const v = sums[c * d + j] / counts[c];
            shift += (v - centers[c * d + j]) ** 2;
            centers[c * d + j] = v;
          }
        }
        if (shift <= tol) {
          inertia = 0;
          for (let i = 0; i < n; i++) {
            let bc = 0; let bd = Infinity;
            for (let c = 0; c < k; c++) { const dd = sqDist(data, i * d, centers, c * d, d); if (dd < bd) { bd = dd; bc = c; } }
            labels[i] = bc; inertia += bd;
          }
          break;
        }
      }
      if (!best || inertia < best.inertia) best = { centers: centers.slice(), labels: labels.slice(), inertia };
    }
    const b = best!;
    return {
      nFeatures: d, labels: Array.from(b.labels), inertia: b.inertia,
      centers: Array.from({ length: k }, (_, c) => Array.from(b.centers.subarray(c * d, (c + 1) * d))),
    };
  }

  /** Nearest centre of each row. */
  predict(X: readonly (readonly number[])[]): number[] {
    const s = this.fitted();
    const m = toMatrix(X, 'X', s.nFeatures);
    const flat = Float64Array.from(s.centers.flat());
    return Array.from({ length: m.nRows }, (_, i) => {
      let bc = 0; let bd = Infinity;
      s.centers.forEach((_, c) => { const dd = sqDist(m.data, i * m.nCols, flat, c * m.nCols, m.nCols); if (dd < bd) { bd = dd; bc = c; } });
      return bc;
    });
  }

  get centers(): number[][] { return this.fitted().centers.map((c) => [...c]); }
  get inertia(): number { return this.fitted().inertia; }
}
