/**
 * The CART builder shared by decision trees, random forests and gradient boosting.
 *
 * Speed comes from presorting: each feature's sample order is sorted once per dataset
 * (`presort`), and every node owns the same contiguous segment [start, end) of all the
 * per-feature order arrays. A split scans the segment of a feature in order (O(m) per feature,
 * no sorting at nodes), then each feature's segment is stably partitioned into left then right
 * so children stay sorted. Sample weights carry bootstrap counts (0 = not drawn).
 */
import type { Random } from '../../src/random.ts';
import type { DenseMatrix } from '../matrix.ts';

export type Criterion = 'gini' | 'entropy' | 'squared_error';

export interface TreeGrowOptions {
  criterion: Criterion;
  /** Number of classes (classification) or 1 (regression). */
  nOutputs: number;
  maxDepth: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  /** Features examined per node (at least; more when none of them splits). */
  maxFeatures: number;
  random: Random;
}

/** A fitted tree in typed arrays. Leaves have feature -1; value has nOutputs entries per node. */
export interface Tree {
  nOutputs: number;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
}

/** Column-major copy of X plus each column's ascending sample order, computed once per dataset. */
export interface Presorted {
  nRows: number;
  nCols: number;
  columns: Float64Array[];
  order: Int32Array[];
}

export function presort(X: DenseMatrix): Presorted {
  const columns: Float64Array[] = [];
  const order: Int32Array[] = [];
  for (let f = 0; f < X.nCols; f++) {
    const col = new Float64Array(X.nRows);
    for (let i = 0; i < X.nRows; i++) col[i] = X.data[i * X.nCols + f];
    const idx = new Int32Array(X.nRows);
    for (let i = 0; i < X.nRows; i++) idx[i] = i;
    idx.sort((a, b) => col[a] - col[b] || a - b);
    columns.push(col);
    order.push(idx);
  }
  return { nRows: X.nRows, nCols: X.nCols, columns, order };
}

/** Target of a tree: class index per row (classification) or a value per row (regression). */
export type TreeTarget = { kind: 'class'; index: Int32Array } | { kind: 'value'; y: Float64Array };

/** Values closer than this are not separated (as scikit-learn's FEATURE_THRESHOLD). */
const FEATURE_EPS = 1e-7;

export interface GrownTree {
  tree: Tree;
  /** Leaf node of each training row with weight > 0 (-1 for rows not in the sample). */
  leafOf: Int32Array;
}

export function growTree(data: Presorted, target: TreeTarget, weight: Float64Array, opt: TreeGrowOptions): GrownTree {
  const d = data.nCols;
  const K = opt.nOutputs;
  const isClass = target.kind === 'class';
  const cls = target.kind === 'class' ? target.index : new Int32Array(0);
  const yv = target.kind === 'value' ? target.y : new Float64Array(0);

  // Per-feature orders restricted to rows in the sample.
  let m = 0;
  for (let i = 0; i < data.nRows; i++) if (weight[i] > 0) m++;
  const ord: Int32Array[] = [];
  for (let f = 0; f < d; f++) {
    const src = data.order[f];
    const dst = new Int32Array(m);
    let p = 0;
    for (let r = 0; r < src.length; r++) { const s = src[r]; if (weight[s] > 0) dst[p++] = s; }
    ord.push(dst);
  }

  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const value: number[] = [];
  const leafOf = new Int32Array(data.nRows).fill(-1);

  const goLeft = new Uint8Array(data.nRows);
  const buf = new Int32Array(m);
  const totals = new Float64Array(K);
  const leftAcc = new Float64Array(K);
  const features = Array.from({ length: d }, (_, i) => i);

  const stack: { start: number; end: number; depth: number; parent: number; isLeft: boolean }[] = [{ start: 0, end: m, depth: 0, parent: -1, isLeft: false }];

  const xlogx = (v: number): number => (v > 0 ? v * Math.log(v) : 0);

  while (stack.length > 0) {
    const node = stack.pop()!;
    const { start, end, depth } = node;
    const id = feature.length;
    if (node.parent >= 0) { if (node.isLeft) left[node.parent] = id; else right[node.parent] = id; }

    // Node totals (weighted) and impurity.
    totals.fill(0);
    let wTotal = 0;
    let sum2 = 0;
    const seg0 = ord[0];
    for (let r = start; r < end; r++) {
      const s = seg0[r];
      const w = weight[s];
      wTotal += w;
      if (isClass) totals[cls[s]] += w;
      else { totals[0] += w * yv[s]; sum2 += w * yv[s] * yv[s]; }
    }
    let impurity: number;
    if (isClass) {
      if (opt.criterion === 'gini') {
        let g = 0;
        for (let k = 0; k < K; k++) g += (totals[k] / wTotal) ** 2;
        impurity = 1 - g;
      } else {
        let h = 0;
        for (let k = 0; k < K; k++) h -= xlogx(totals[k] / wTotal);
        impurity = h;
      }
    } else {
      impurity = sum2 / wTotal - (totals[0] / wTotal) ** 2;
    }

    feature.push(-1); threshold.push(0); left.push(-1); right.push(-1);
    if (isClass) for (let k = 0; k < K; k++) value.push(totals[k] / wTotal);
    else value.push(totals[0] / wTotal);

    const n = end - start;
    let bestF = -1;
    let bestThr = 0;
    let bestScore = -Infinity;
    let bestPos = -1;
    if (depth < opt.maxDepth && n >= opt.minSamplesSplit && n >= 2 * opt.minSamplesLeaf && impurity > 1e-12) {
      // Partial Fisher–Yates: a fresh random feature order per node.
      let visited = 0;
      for (let i = 0; i < d; i++) {
        const j = i + opt.random.int(d - i);
        const tmp = features[i]; features[i] = features[j]; features[j] = tmp;
        const f = features[i];
        const col = data.columns[f];
        const o = ord[f];
        if (col[o[end - 1]] <= col[o[start]] + FEATURE_EPS) continue; // constant here: does not count
        visited++;
        leftAcc.fill(0);
        let wL = 0;
        let nL = 0;
        const minLeaf = opt.minSamplesLeaf;
        for (let r = start; r < end - 1; r++) {
          const s = o[r];
          const w = weight[s];
          wL += w; nL++;
          if (isClass) leftAcc[cls[s]] += w; else leftAcc[0] += w * yv[s];
          const xNext = col[o[r + 1]];
          if (xNext <= col[s] + FEATURE_EPS) continue;
          if (nL < minLeaf || n - nL < minLeaf) continue;
          const wR = wTotal - wL;
          let score: number;
          if (isClass) {
            if (opt.criterion === 'gini') {
              let a = 0; let b = 0;
              for (let k = 0; k < K; k++) { const l = leftAcc[k]; const rr = totals[k] - l; a += l * l; b += rr * rr; }
              score = a / wL + b / wR;
            } else {
              // -(wL·H(L) + wR·H(R)) up to a constant: Σ c log c − w log w per side.
              let a = 0;
              for (let k = 0; k < K; k++) a += xlogx(leftAcc[k]) + xlogx(totals[k] - leftAcc[k]);
              score = a - xlogx(wL) - xlogx(wR);
            }
          } else {
            const sl = leftAcc[0]; const sr = totals[0] - sl;
            score = (sl * sl) / wL + (sr * sr) / wR;
          }
          if (bestF < 0 || score > bestScore + 1e-12 * Math.abs(bestScore)) {
            bestScore = score; bestF = f; bestPos = r;
            let thr = (col[s] + xNext) / 2;
            if (thr >= xNext || thr < col[s]) thr = col[s];
            bestThr = thr;
          }
        }
        if (visited >= opt.maxFeatures && bestF >= 0) break;
      }
    }
    if (bestF < 0) {
      for (let r = start; r < end; r++) leafOf[seg0[r]] = id;
      continue;
    }
    feature[id] = bestF;
    threshold[id] = bestThr;
    const mid = bestPos + 1;
    const ob = ord[bestF];
    for (let r = start; r < end; r++) goLeft[ob[r]] = r < mid ? 1 : 0;
    for (let f = 0; f < d; f++) {
      if (f === bestF) continue;
      const o = ord[f];
      let l = start; let rr = 0;
      for (let r = start; r < end; r++) { const s = o[r]; if (goLeft[s]) o[l++] = s; else buf[rr++] = s; }
      o.set(buf.subarray(0, rr), l);
    }
    // Right pushed first so the left subtree is numbered first (depth-first, left to right).
    stack.push({ start: mid, end, depth: depth + 1, parent: id, isLeft: false });
    stack.push({ start, end: mid, depth: depth + 1, parent: id, isLeft: true });
  }

  return {
    tree: {
      nOutputs: K,
      feature: Int32Array.from(feature),
      threshold: Float64Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      value: Float64Array.from(value),
    },
    leafOf,
  };
}

/** Leaf node reached by row `row` of a row-major matrix. */
export function leafIndex(tree: Tree, data: Float64Array, offset: number): number {
  let node = 0;
  while (tree.feature[node] >= 0) {
    node = data[offset + tree.feature[node]] <= tree.threshold[node] ? tree.left[node] : tree.right[node];
  }
  return node;
}

export interface TreeJSON {
  nOutputs: number;
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export function treeToJSON(t: Tree): TreeJSON {
  return { nOutputs: t.nOutputs, feature: Array.from(t.feature), threshold: Array.from(t.threshold), left: Array.from(t.left), right: Array.from(t.right), value: Array.from(t.value) };
}

export function treeFromJSON(j: TreeJSON): Tree {
  return { nOutputs: j.nOutputs, feature: Int32Array.from(j.feature), threshold: Float64Array.from(j.threshold), left: Int32Array.from(j.left), right: Int32Array.from(j.right), value: Float64Array.from(j.value) };
}

/** IR form of one tree; `scale` multiplies the values (shrinkage folded in), `expand` maps them to outputs. */
export function treeToIR(t: Tree, valueOf: (node: number) => number[]): { feature: number[]; threshold: number[]; left: number[]; right: number[]; value: number[][] } {
  return {
    feature: Array.from(t.feature),
    threshold: Array.from(t.threshold),
    left: Array.from(t.left),
    right: Array.from(t.right),
    value: Array.from(t.feature, (_, node) => valueOf(node)),
  };
}

/** Depth of the deepest leaf (a single-leaf tree has depth 0). */
export function treeDepth(t: Tree): number {
  let best = 0;
  const stack: [number, number][] = [[0, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (t.feature[node] < 0) { best = Math.max(best, depth); continue; }
    stack.push([t.left[node], depth + 1], [t.right[node], depth + 1]);
  }
  return best;
}
