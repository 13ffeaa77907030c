/** Internal cluster-quality metrics (Euclidean), as scikit-learn. */
import { EdgeloopError } from '../../src/errors.ts';
import { toMatrix } from '../matrix.ts';

function checkLabels(n: number, labels: readonly number[]): number[] {
  if (!Array.isArray(labels) || labels.length !== n) {
    throw new EdgeloopError('BAD_ARGUMENT', `labels must have one value per row of X (${n}), got ${Array.isArray(labels) ? labels.length : typeof labels}`);
  }
  const distinct = Array.from(new Set(labels)).sort((a, b) => a - b);
  if (distinct.length < 2 || distinct.length > n - 1) {
    throw new EdgeloopError('BAD_ARGUMENT', `labels must form between 2 and n-1 (${n - 1}) clusters, got ${distinct.length}`);
  }
  return distinct;
}

/** Mean silhouette coefficient; a sample alone in its cluster scores 0. O(n²) distances. */
export function silhouetteScore(X: readonly (readonly number[])[], labels: readonly number[]): number {
  const m = toMatrix(X);
  const distinct = checkLabels(m.nRows, labels);
  const k = distinct.length;
  const idx = labels.map((l) => distinct.indexOf(l));
  const size = new Float64Array(k);
  for (const c of idx) size[c]++;
  const d = m.nCols;
  const sums = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < m.nRows; i++) {
    sums.fill(0);
    for (let j = 0; j < m.nRows; j++) {
      if (j === i) continue;
      let s = 0;
      for (let f = 0; f < d; f++) { const t = m.data[i * d + f] - m.data[j * d + f]; s += t * t; }
      sums[idx[j]] += Math.sqrt(s);
    }
    const own = idx[i];
    if (size[own] <= 1) continue;
    const a = sums[own] / (size[own] - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own) b = Math.min(b, sums[c] / size[c]);
    total += (b - a) / Math.max(a, b);
  }
  return total / m.nRows;
}

export function daviesBouldinScore(X: readonly (readonly number[])[], labels: readonly number[]): number {
  const m = toMatrix(X);
  const distinct = checkLabels(m.nRows, labels);
  const k = distinct.length;
  const d = m.nCols;
  const idx = labels.map((l) => distinct.indexOf(l));
  const centroid = new Float64Array(k * d);
  const size = new Float64Array(k);
  for (let i = 0; i < m.nRows; i++) {
    size[idx[i]]++;
    for (let f = 0; f < d; f++) centroid[idx[i] * d + f] += m.data[i * d + f];
  }
  for (let c = 0; c < k; c++) for (let f = 0; f < d; f++) centroid[c * d + f] /= size[c];
  const dist = (a: Float64Array, ao: number, b: Float64Array, bo: number): number => {
    let s = 0;
    for (let f = 0; f < d; f++) { const t = a[ao + f] - b[bo + f]; s += t * t; }
    return Math.sqrt(s);
  };
  const scatter = new Float64Array(k);
  for (let i = 0; i < m.nRows; i++) scatter[idx[i]] += dist(m.data, i * d, centroid, idx[i] * d);
  for (let c = 0; c < k; c++) scatter[c] /= size[c];
  let total = 0;
  for (let a = 0; a < k; a++) {
    let worst = 0;
    for (let b = 0; b < k; b++) {
      if (a === b) continue;
      const sep = dist(centroid, a * d, centroid, b * d);
      // Coincident centroids: sklearn maps the resulting inf/nan ratio to 0.
      const r = sep === 0 ? 0 : (scatter[a] + scatter[b]) / sep;
      if (r > worst) worst = r;
    }
    total += worst;
  }
  return total / k;
}
