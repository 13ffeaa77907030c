/** CART decision trees (classification: gini/entropy; regression: squared error). */
import { createRandom } from '../../src/random.ts';
import { BaseClassifier, BaseRegressor } from '../base.ts';
import type { ModelIR } from '../ir.ts';
import type { DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { growTree, leafIndex, presort, treeFromJSON, treeToIR, treeToJSON, type Tree, type TreeJSON } from './cart.ts';
import { featureCount, TREE_SPECS, type TreeParams } from './tree-params.ts';

export const DECISION_TREE_CLASSIFIER_SPECS = {
  criterion: { type: 'enum', values: ['gini', 'entropy'], default: 'gini', doc: 'impurity measure' },
  ...TREE_SPECS,
} as const satisfies ParamSpecs;
export const DECISION_TREE_REGRESSOR_SPECS = { ...TREE_SPECS } as const satisfies ParamSpecs;

export interface DecisionTreeClassifierParams extends TreeParams { criterion: 'gini' | 'entropy' }
export type DecisionTreeRegressorParams = TreeParams;

interface ClassState { nFeatures: number; classes: number[]; tree: Tree }
interface RegState { nFeatures: number; tree: Tree }

export class DecisionTreeClassifier extends BaseClassifier<DecisionTreeClassifierParams, ClassState> {
  readonly kind = 'decision-tree-classifier';

  constructor(params: Partial<DecisionTreeClassifierParams> = {}) {
    super(resolveParams('decision-tree-classifier', DECISION_TREE_CLASSIFIER_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): ClassState {
    const p = this.params;
    const { tree } = growTree(presort(X), { kind: 'class', index: yIndex }, new Float64Array(X.nRows).fill(1), {
      criterion: p.criterion, nOutputs: classes.length, maxDepth: p.maxDepth ?? Infinity, minSamplesSplit: p.minSamplesSplit,
      minSamplesLeaf: p.minSamplesLeaf, maxFeatures: featureCount(p.maxFeatures, X.nCols), random: createRandom(p.seed),
    });
    return { nFeatures: X.nCols, classes, tree };
  }

  protected probaMatrix(X: DenseMatrix, s: ClassState): Float64Array {
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    for (let i = 0; i < X.nRows; i++) {
      const leaf = leafIndex(s.tree, X.data, i * X.nCols);
      out.set(s.tree.value.subarray(leaf * K, (leaf + 1) * K), i * K);
    }
    return out;
  }

  protected override encodeState(s: ClassState): unknown {
    return { ...s, tree: treeToJSON(s.tree) };
  }

  protected override decodeState(state: unknown): ClassState {
    const s = state as { nFeatures: number; classes: number[]; tree: TreeJSON };
    return { ...s, tree: treeFromJSON(s.tree) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    const K = s.classes.length;
    return {
      body: {
        kind: 'tree-ensemble', task: 'classification', nFeatures: s.nFeatures, aggregate: 'average', link: 'identity',
        base: new Array<number>(K).fill(0), classes: s.classes.map(String),
        trees: [treeToIR(s.tree, (n) => Array.from(s.tree.value.subarray(n * K, (n + 1) * K)))],
      },
    };
  }

  /** Node count of the fitted tree. */
  get nodeCount(): number {
    return this.fitted().tree.feature.length;
  }
}

export class DecisionTreeRegressor extends BaseRegressor<DecisionTreeRegressorParams, RegState> {
  readonly kind = 'decision-tree-regressor';

  constructor(params: Partial<DecisionTreeRegressorParams> = {}) {
    super(resolveParams('decision-tree-regressor', DECISION_TREE_REGRESSOR_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, y: Float64Array): RegState {
    const p = this.params;
    const { tree } = growTree(presort(X), { kind: 'value', y }, new Float64Array(X.nRows).fill(1), {
      criterion: 'squared_error', nOutputs: 1, maxDepth: p.maxDepth ?? Infinity, minSamplesSplit: p.minSamplesSplit,
      minSamplesLeaf: p.minSamplesLeaf, maxFeatures: featureCount(p.maxFeatures, X.nCols), random: createRandom(p.seed),
    });
    return { nFeatures: X.nCols, tree };
  }

  protected predictMatrix(X: DenseMatrix, s: RegState): Float64Array {
    const out = new Float64Array(X.nRows);
    for (let i = 0; i < X.nRows; i++) out[i] = s.tree.value[leafIndex(s.tree, X.data, i * X.nCols)];
    return out;
  }

  protected override encodeState(s: RegState): unknown {
    return { ...s, tree: treeToJSON(s.tree) };
  }

  protected override decodeState(state: unknown): RegState {
    const s = state as { nFeatures: number; tree: TreeJSON };
    return { ...s, tree: treeFromJSON(s.tree) };
  }

  override toIR(): ModelIR {
    const s = this.fitted();
    return {
      body: {
        kind: 'tree-ensemble', task: 'regression', nFeatures: s.nFeatures, aggregate: 'average', link: 'identity', base: [0],
        trees: [treeToIR(s.tree, (n) => [s.tree.value[n]])],
      },
    };
  }
}
