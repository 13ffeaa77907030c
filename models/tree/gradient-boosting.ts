/**
 * Gradient boosting as scikit-learn's GradientBoosting*: regression trees fitted to the negative
 * gradient, leaves re-estimated by one Newton step (log-loss) or the mean residual (squared
 * error), shrunk by learningRate. Binary: one tree per stage, logistic link. Multiclass: one tree
 * per class per stage, softmax link, leaves scaled by (K−1)/K (Friedman's multinomial step).
 */
import { createRandom, type Random } from '../../src/random.ts';
import { BaseClassifier, BaseRegressor } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import { sigmoid, softmaxInPlace, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { growTree, leafIndex, presort, treeFromJSON, treeToIR, treeToJSON, type Presorted, type Tree, type TreeJSON } from './cart.ts';
import { featureCount, TREE_SPECS } from './tree-params.ts';

export const GRADIENT_BOOSTING_SPECS = {
  nEstimators: { type: 'int', min: 1, max: 100000, default: 100, doc: 'boosting stages' },
  learningRate: { type: 'float', min: 0, max: 10, exclusiveMin: true, default: 0.1, doc: 'shrinkage of each stage' },
  subsample: { type: 'float', min: 0, max: 1, exclusiveMin: true, default: 1, doc: 'share of rows drawn (without replacement) per stage' },
  maxDepth: { ...TREE_SPECS.maxDepth, default: 3 },
  minSamplesSplit: TREE_SPECS.minSamplesSplit,
  minSamplesLeaf: TREE_SPECS.minSamplesLeaf,
  maxFeatures: TREE_SPECS.maxFeatures,
  seed: TREE_SPECS.seed,
} as const satisfies ParamSpecs;

export interface GradientBoostingParams {
  nEstimators: number;
  learningRate: number;
  subsample: number;
  maxDepth: number | null;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  maxFeatures: 'all' | 'sqrt' | 'log2';
  seed: number;
}

function stageWeights(n: number, subsample: number, random: Random): Float64Array {
  const w = new Float64Array(n);
  if (subsample >= 1) return w.fill(1);
  const take = Math.max(1, Math.floor(subsample * n));
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < take; i++) {
    const j = i + random.int(n - i);
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    w[idx[i]] = 1;
  }
  return w;
}

/** One regression tree on `residual`; leaf values replaced by `leafValue(rowsOfLeaf)`. */
function stageTree(data: Presorted, residual: Float64Array, weight: Float64Array, p: GradientBoostingParams, random: Random,
  leafValue: (num: number, den: number) => number, den: (i: number) => number): Tree {
  const { tree, leafOf } = growTree(data, { kind: 'value', y: residual }, weight, {
    criterion: 'squared_error', nOutputs: 1, maxDepth: p.maxDepth ?? Infinity, minSamplesSplit: p.minSamplesSplit,
    minSamplesLeaf: p.minSamplesLeaf, maxFeatures: featureCount(p.maxFeatures, data.nCols), random,
  });
  const num = new Float64Array(tree.feature.length);
  const dd = new Float64Array(tree.feature.length);
  for (let i = 0; i < leafOf.length; i++) {
    const leaf = leafOf[i];
    if (leaf < 0) continue;
    num[leaf] += residual[i];
    dd[leaf] += den(i);
  }
  for (let n = 0; n < tree.feature.length; n++) if (tree.feature[n] < 0) tree.value[n] = leafValue(num[n], dd[n]);
  return tree;
}

interface ClassState { nFeatures: number; classes: number[]; base: number[]; /** stages × outputs trees, values already shrunk. */ trees: Tree[][] }
interface RegState { nFeatures: number; base: number; trees: Tree[] }

export class GradientBoostingClassifier extends BaseClassifier<GradientBoostingParams, ClassState> {
  readonly kind = 'gradient-boosting-classifier';

  constructor(params: Partial<GradientBoostingParams> = {}) {
    super(resolveParams('gradient-boosting-classifier', GRADIENT_BOOSTING_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): ClassState {
    const p = this.params;
    const n = X.nRows;
    const K = classes.length;
    const outputs = K === 2 ? 1 : K;
    const data = presort(X);
    const random = createRandom(p.seed);
    const prior = new Float64Array(K);
    for (let i = 0; i < n; i++) prior[yIndex[i]] += 1 / n;
    const base = K === 2 ? [Math.log(prior[1] / prior[0])] : Array.from(prior, (q) => Math.log(q));
    const raw = new Float64Array(n * outputs);
    for (let i = 0; i < n; i++) for (let k = 0; k < outputs; k++) raw[i * outputs + k] = base[k];
    const residual = new Float64Array(n);
    const prob = new Float64Array(n * outputs);
    const trees: Tree[][] = [];
    const safe = (num: number, den: number): number => (Math.abs(den) < 1e-150 ? 0 : num / den);
    for (let stage = 0; stage < p.nEstimators; stage++) {
      const weight = stageWeights(n, p.subsample, random);
      if (outputs === 1) for (let i = 0; i < n; i++) prob[i] = sigmoid(raw[i]);
      else { prob.set(raw); for (let i = 0; i < n; i++) softmaxInPlace(prob, i * K, K); }
      const stageTrees: Tree[] = [];
      for (let k = 0; k < outputs; k++) {
        const target = outputs === 1 ? 1 : k;
        for (let i = 0; i < n; i++) residual[i] = (yIndex[i] === target ? 1 : 0) - prob[i * outputs + k];
        const scale = outputs === 1 ? 1 : (K - 1) / K;
        const tree = stageTree(data, residual, weight, p, random, (num, den) => scale * safe(num, den), (i) => {
          const r = Math.abs(residual[i]);
          return outputs === 1 ? prob[i] * (1 - prob[i]) : r * (1 - r);
        });
        for (let j = 0; j < tree.value.length; j++) tree.value[j] *= p.learningRate;
        for (let i = 0; i < n; i++) raw[i * outputs + k] += tree.value[leafIndex(tree, X.data, i * X.nCols)];
        stageTrees.push(tree);
      }
      trees.push(stageTrees);
    }
    return { nFeatures: X.nCols, classes, base, trees };
  }

  /** Raw scores (log-odds or per-class logits), row-major n × outputs. */
  decisionFunction(X: DenseMatrix, s: ClassState): Float64Array {
    const outputs = s.base.length;
    const raw = new Float64Array(X.nRows * outputs);
    for (let i = 0; i < X.nRows; i++) for (let k = 0; k < outputs; k++) raw[i * outputs + k] = s.base[k];
    for (const stage of s.trees) {
      stage.forEach((tree, k) => {
        for (let i = 0; i < X.nRows; i++) raw[i * outputs + k] += tree.value[leafIndex(tree, X.data, i * X.nCols)];
      });
    }
    return raw;
  }

  protected probaMatrix(X: DenseMatrix, s: ClassState): Float64Array {
    const raw = this.decisionFunction(X, s);
    const K = s.classes.length;
    if (s.base.length === 1) {
      const out = new Float64Array(X.nRows * 2);
      for (let i = 0; i < X.nRows; i++) { const q = sigmoid(raw[i]); out[2 * i] = 1 - q; out[2 * i + 1] = q; }
      return out;
    }
    for (let i = 0; i < X.nRows; i++) softmaxInPlace(raw, i * K, K);
    return raw;
  }

  protected override encodeState(s: ClassState): unknown {
    return { ...s, trees: s.trees.map((st) => st.map(treeToJSON)) };
  }

  protected override decodeState(state: unknown): ClassState {
    const s = state as Omit<ClassState, 'trees'> & { trees: TreeJSON[][] };
    return { ...s, trees: s.trees.map((st) => st.map(treeFromJSON)) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    const outputs = s.base.length;
    const trees = s.trees.flatMap((stage) => stage.map((t, k) => treeToIR(t, (n) => {
      const v = new Array<number>(outputs).fill(0);
      v[k] = t.value[n];
      return v;
    })));
    return {
      body: {
        kind: 'tree-ensemble', task: 'classification', nFeatures: s.nFeatures, aggregate: 'sum', base: [...s.base],
        link: outputs === 1 ? 'logistic' : 'softmax', classes: s.classes.map(String), trees,
      },
    };
  }
}

export class GradientBoostingRegressor extends BaseRegressor<GradientBoostingParams, RegState> {
  readonly kind = 'gradient-boosting-regressor';

  constructor(params: Partial<GradientBoostingParams> = {}) {
    super(resolveParams('gradient-boosting-regressor', GRADIENT_BOOSTING_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, y: Float64Array): RegState {
    const p = this.params;
    const n = X.nRows;
    const data = presort(X);
    const random = createRandom(p.seed);
    let base = 0;
    for (const v of y) base += v / n;
    const raw = new Float64Array(n).fill(base);
    const residual = new Float64Array(n);
    const trees: Tree[] = [];
    for (let stage = 0; stage < p.nEstimators; stage++) {
      const weight = stageWeights(n, p.subsample, random);
      for (let i = 0; i < n; i++) residual[i] = y[i] - raw[i];
      const tree = stageTree(data, residual, weight, p, random, (num, den) => (den === 0 ? 0 : num / den), () => 1);
      for (let j = 0; j < tree.value.length; j++) tree.value[j] *= p.learningRate;
      for (let i = 0; i < n; i++) raw[i] += tree.value[leafIndex(tree, X.data, i * X.nCols)];
      trees.push(tree);
    }
    return { nFeatures: X.nCols, base, trees };
  }

  protected predictMatrix(X: DenseMatrix, s: RegState): Float64Array {
    const out = new Float64Array(X.nRows).fill(s.base);
    for (const tree of s.trees) for (let i = 0; i < X.nRows; i++) out[i] += tree.value[leafIndex(tree, X.data, i * X.nCols)];
    return out;
  }

  protected override encodeState(s: RegState): unknown {
    return { ...s, trees: s.trees.map(treeToJSON) };
  }

  protected override decodeState(state: unknown): RegState {
    const s = state as Omit<RegState, 'trees'> & { trees: TreeJSON[] };
    return { ...s, trees: s.trees.map(treeFromJSON) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    return {
      body: {
        kind: 'tree-ensemble', task: 'regression', nFeatures: s.nFeatures, aggregate: 'sum', base: [s.base], link: 'identity',
        trees: s.trees.map((t) => treeToIR(t, (n) => [t.value[n]])),
      },
    };
  }
}
