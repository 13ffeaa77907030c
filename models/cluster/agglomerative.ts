/**
 * Agglomerative clustering by the nearest-neighbour chain algorithm (O(n²) time and memory) with
 * Lance–Williams updates; merges are sorted by height and applied until nClusters remain, as
 * scipy/scikit-learn do. Ward works on squared Euclidean distances.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseClusterer } from '../base.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';

export const AGGLOMERATIVE_SPECS = {
  nClusters: { type: 'int', min: 1, max: 1e6, default: 2, doc: 'clusters to keep' },
  linkage: { type: 'enum', values: ['ward', 'complete', 'average', 'single'], default: 'ward', doc: 'cluster distance' },
} as const satisfies ParamSpecs;
export interface AgglomerativeParams { nClusters: number; linkage: 'ward' | 'complete' | 'average' | 'single' }

export interface Merge { a: number; b: number; height: number }
interface State { nFeatures: number; labels: number[]; merges: Merge[] }

export class AgglomerativeClustering extends BaseClusterer<AgglomerativeParams, State> {
  readonly kind = 'agglomerative';
  constructor(params: Partial<AgglomerativeParams> = {}) {
    super(resolveParams('agglomerative', AGGLOMERATIVE_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix): State {
    const { nRows: n, nCols: d, data } = X;
    const { linkage, nClusters } = this.params;
    if (nClusters > n) throw new EdgeloopError('BAD_ARGUMENT', `agglomerative: param 'nClusters' must be at most the number of rows (${n}), got ${nClusters}`);
    const D = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let f = 0; f < d; f++) { const t = data[i * d + f] - data[j * d + f]; s += t * t; }
      const v = linkage === 'ward' ? s : Math.sqrt(s);
      D[i * n + j] = v; D[j * n + i] = v;
    }
    const size = new Float64Array(n).fill(1);
    const active = new Uint8Array(n).fill(1);
    const merges: Merge[] = [];
    const chain: number[] = [];
    while (merges.length < n - 1) {
      if (chain.length === 0) { for (let i = 0; i < n; i++) if (active[i]) { chain.push(i); break; } }
      let a = 0; let b = 0;
      for (;;) {
        a = chain[chain.length - 1];
        const prev = chain.length >= 2 ? chain[chain.length - 2] : -1;
        let best = prev; let bd = prev >= 0 ? D[a * n + prev] : Infinity;
        for (let k = 0; k < n; k++) if (active[k] && k !== a && D[a * n + k] < bd) { bd = D[a * n + k]; best = k; }
        b = best;
        if (b === prev) break;
        chain.push(b);
      }
      chain.pop(); chain.pop();
      const dab = D[a * n + b];
      merges.push({ a, b, height: linkage === 'ward' ? Math.sqrt(2 * dab) : dab });
      // The merged cluster lives in slot min(a, b); the other slot is retired.
      const keep = Math.min(a, b); const drop = Math.max(a, b);
      for (let k = 0; k < n; k++) {
        if (!active[k] || k === a || k === b) continue;
        const dak = D[a * n + k]; const dbk = D[b * n + k];
        let v: number;
        switch (linkage) {
          case 'single': v = Math.min(dak, dbk); break;
          case 'complete': v = Math.max(dak, dbk); break;
          case 'average': v = (size[a] * dak + size[b] * dbk) / (size[a] + size[b]); break;
          case 'ward': v = ((size[a] + size[k]) * dak + (size[b] + size[k]) * dbk - size[k] * dab) / (size[a] + size[b] + size[k]); break;
          default: { const never: never = linkage; throw new EdgeloopError('BAD_ARGUMENT', `unknown linkage ${String(never)}`); }
        }
        D[keep * n + k] = v; D[k * n + keep] = v;
      }
      size[keep] = size[a] + size[b];
      active[drop] = 0;
      // Chain entries still valid: slot reuse only touches a and b, both popped.
      if (chain.includes(drop)) chain.length = 0;
    }
    // Apply the lowest n − nClusters merges (stable by height) with union–find.
    const order = merges.map((_, i) => i).sort((x, y) => merges[x].height - merges[y].height || x - y);
    const parent = Int32Array.from({ length: n }, (_, i) => i);
    const find = (x: number): number => { while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; } return x; };
    for (let m = 0; m < n - nClusters; m++) {
      const { a, b } = merges[order[m]];
      parent[find(a)] = find(b);
    }
    const ids = new Map<number, number>();
    const labels = Array.from({ length: n }, (_, i) => {
      const r = find(i);
      if (!ids.has(r)) ids.set(r, ids.size);
      return ids.get(r)!;
    });
    return { nFeatures: d, labels, merges };
  }
}
