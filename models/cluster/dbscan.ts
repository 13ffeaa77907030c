/** DBSCAN: density-based clusters, -1 for noise; clusters numbered in order of discovery (as scikit-learn). */
import { BaseClusterer } from '../base.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';

export const DBSCAN_SPECS = {
  eps: { type: 'float', min: 0, max: 1e12, exclusiveMin: true, default: 0.5, doc: 'neighbourhood radius (Euclidean)' },
  minSamples: { type: 'int', min: 1, max: 1e9, default: 5, doc: 'neighbours (including the point) that make a core point' },
} as const satisfies ParamSpecs;
export interface DbscanParams { eps: number; minSamples: number }

interface State { nFeatures: number; labels: number[]; core: number[] }

export class Dbscan extends BaseClusterer<DbscanParams, State> {
  readonly kind = 'dbscan';
  constructor(params: Partial<DbscanParams> = {}) {
    super(resolveParams('dbscan', DBSCAN_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix): State {
    const { nRows: n, nCols: d, data } = X;
    const eps2 = this.params.eps ** 2;
    // O(n²) neighbour lists; memory is the lists themselves.
    const neighbours: number[][] = Array.from({ length: n }, () => []);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let f = 0; f < d; f++) { const t = data[i * d + f] - data[j * d + f]; s += t * t; }
        if (s <= eps2) { neighbours[i].push(j); if (j !== i) neighbours[j].push(i); }
      }
    }
    const isCore = neighbours.map((nb) => nb.length >= this.params.minSamples);
    const labels = new Array<number>(n).fill(-1);
    let cluster = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] !== -1 || !isCore[i]) continue;
      const stack = [i];
      labels[i] = cluster;
      while (stack.length) {
        const p = stack.pop()!;
        if (!isCore[p]) continue;
        for (const q of neighbours[p]) if (labels[q] === -1) { labels[q] = cluster; stack.push(q); }
      }
      cluster++;
    }
    return { nFeatures: d, labels, core: isCore.flatMap((c, i) => (c ? [i] : [])) };
  }

  get coreSampleIndices(): number[] { return [...this.fitted().core]; }
}
