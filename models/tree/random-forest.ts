/**
 * Random forests: bootstrap rows (as integer sample weights) and a random feature subset per
 * split; classification averages per-tree class probabilities, regression averages values —
 * scikit-learn's semantics. The dataset is presorted once and shared by every tree.
 */
import { createRandom, type Random } from '../../src/random.ts';
import { BaseClassifier, BaseRegressor } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { growTree, leafIndex, presort, treeFromJSON, treeToIR, treeToJSON, type Tree, type TreeJSON, type TreeTarget } from './cart.ts';
import { featureCount, TREE_SPECS, type TreeParams } from './tree-params.ts';

const FOREST_SPECS = {
  nEstimators: { type: 'int', min: 1, max: 10000, default: 100, doc: 'number of trees' },
  bootstrap: { type: 'bool', default: true, doc: 'draw each tree\'s rows with replacement' },
  ...TREE_SPECS,
} as const satisfies ParamSpecs;

export const RANDOM_FOREST_CLASSIFIER_SPECS = {
  ...FOREST_SPECS,
  criterion: { type: 'enum', values: ['gini', 'entropy'], default: 'gini', doc: 'impurity measure' },
  maxFeatures: { ...TREE_SPECS.maxFeatures, default: 'sqrt' },
} as const satisfies ParamSpecs;
export const RANDOM_FOREST_REGRESSOR_SPECS = { ...FOREST_SPECS } as const satisfies ParamSpecs;

export interface ForestParams extends TreeParams { nEstimators: number; bootstrap: boolean }
export interface RandomForestClassifierParams extends ForestParams { criterion: 'gini' | 'entropy' }
export type RandomForestRegressorParams = ForestParams;

function bootstrapWeights(n: number, random: Random, bootstrap: boolean): Float64Array {
  const w = new Float64Array(n);
  if (!bootstrap) return w.fill(1);
  for (let i = 0; i < n; i++) w[random.int(n)] += 1;
  return w;
}

function growForest(X: DenseMatrix, target: TreeTarget, nOutputs: number, criterion: 'gini' | 'entropy' | 'squared_error', p: ForestParams): Tree[] {
  const data = presort(X);
  const random = createRandom(p.seed);
  const trees: Tree[] = [];
  for (let t = 0; t < p.nEstimators; t++) {
    const weight = bootstrapWeights(X.nRows, random, p.bootstrap);
    trees.push(growTree(data, target, weight, {
      criterion, nOutputs, maxDepth: p.maxDepth ?? Infinity, minSamplesSplit: p.minSamplesSplit, minSamplesLeaf: p.minSamplesLeaf,
      maxFeatures: featureCount(p.maxFeatures, X.nCols), random,
    }).tree);
  }
  return trees;
}

interface ClassState { nFeatures: number; classes: number[]; trees: Tree[] }
interface RegState { nFeatures: number; trees: Tree[] }

export class RandomForestClassifier extends BaseClassifier<RandomForestClassifierParams, ClassState> {
  readonly kind = 'random-forest-classifier';

  constructor(params: Partial<RandomForestClassifierParams> = {}) {
    super(resolveParams('random-forest-classifier', RANDOM_FOREST_CLASSIFIER_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): ClassState {
    return { nFeatures: X.nCols, classes, trees: growForest(X, { kind: 'class', index: yIndex }, classes.length, this.params.criterion, this.params) };
  }

  protected probaMatrix(X: DenseMatrix, s: ClassState): Float64Array {
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    for (const tree of s.trees) {
      for (let i = 0; i < X.nRows; i++) {
        const leaf = leafIndex(tree, X.data, i * X.nCols);
        for (let k = 0; k < K; k++) out[i * K + k] += tree.value[leaf * K + k];
      }
    }
    for (let i = 0; i < out.length; i++) out[i] /= s.trees.length;
    return out;
  }

  protected override encodeState(s: ClassState): unknown {
    return { ...s, trees: s.trees.map(treeToJSON) };
  }

  protected override decodeState(state: unknown): ClassState {
    const s = state as { nFeatures: number; classes: number[]; trees: TreeJSON[] };
    return { ...s, trees: s.trees.map(treeFromJSON) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    const K = s.classes.length;
    return {
      body: {
        kind: 'tree-ensemble', task: 'classification', nFeatures: s.nFeatures, aggregate: 'average', link: 'identity',
        base: new Array<number>(K).fill(0), classes: s.classes.map(String),
        trees: s.trees.map((t) => treeToIR(t, (n) => Array.from(t.value.subarray(n * K, (n + 1) * K)))),
      },
    };
  }
}

export class RandomForestRegressor extends BaseRegressor<RandomForestRegressorParams, RegState> {
  readonly kind = 'random-forest-regressor';

  constructor(params: Partial<RandomForestRegressorParams> = {}) {
    super(resolveParams('random-forest-regressor', RANDOM_FOREST_REGRESSOR_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, y: Float64Array): RegState {
    return { nFeatures: X.nCols, trees: growForest(X, { kind: 'value', y }, 1, 'squared_error', this.params) };
  }

  protected predictMatrix(X: DenseMatrix, s: RegState): Float64Array {
    const out = new Float64Array(X.nRows);
    for (const tree of s.trees) for (let i = 0; i < X.nRows; i++) out[i] += tree.value[leafIndex(tree, X.data, i * X.nCols)];
    for (let i = 0; i < out.length; i++) out[i] /= s.trees.length;
    return out;
  }

  protected override encodeState(s: RegState): unknown {
    return { ...s, trees: s.trees.map(treeToJSON) };
  }

  protected override decodeState(state: unknown): RegState {
    const s = state as { nFeatures: number; trees: TreeJSON[] };
    return { ...s, trees: s.trees.map(treeFromJSON) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    return {
      body: {
        kind: 'tree-ensemble', task: 'regression', nFeatures: s.nFeatures, aggregate: 'average', link: 'identity', base: [0],
        trees: s.trees.map((t) => treeToIR(t, (n) => [t.value[n]])),
      },
    };
  }
}
