/**
 * AdaBoost (SAMME, multiclass) over weighted CART trees (stumps by default). A member whose
 * weighted error reaches chance (1 − 1/K) ends boosting, as in scikit-learn.
 */
import { createRandom } from '../../src/random.ts';
import { BaseClassifier } from '../base.ts';
import { softmaxInPlace, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type ParamSpecs } from '../params.ts';
import { growTree, leafIndex, presort, treeFromJSON, treeToJSON, type Tree, type TreeJSON } from '../tree/cart.ts';

export const ADABOOST_SPECS = {
  nEstimators: { type: 'int', min: 1, max: 10000, default: 50, doc: 'boosting rounds' },
  learningRate: { type: 'float', min: 0, max: 10, exclusiveMin: true, default: 1, doc: 'shrinks each member\'s vote' },
  maxDepth: { type: 'int', min: 1, max: 100, default: 1, doc: 'depth of each tree (1 = stumps)' },
  seed: { type: 'int', min: 0, max: 4294967295, default: 0, doc: 'PRNG seed (feature order ties)' },
} as const satisfies ParamSpecs;
export interface AdaBoostParams { nEstimators: number; learningRate: number; maxDepth: number; seed: number }

interface State { nFeatures: number; classes: number[]; trees: Tree[]; alphas: number[] }

export class AdaBoostClassifier extends BaseClassifier<AdaBoostParams, State> {
  readonly kind = 'adaboost-classifier';
  constructor(params: Partial<AdaBoostParams> = {}) {
    super(resolveParams('adaboost-classifier', ADABOOST_SPECS, params));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): State {
    const n = X.nRows;
    const K = classes.length;
    const data = presort(X);
    const random = createRandom(this.params.seed);
    const w = new Float64Array(n).fill(1 / n);
    const trees: Tree[] = [];
    const alphas: number[] = [];
    for (let m = 0; m < this.params.nEstimators; m++) {
      const { tree } = growTree(data, { kind: 'class', index: yIndex }, w, {
        criterion: 'gini', nOutputs: K, maxDepth: this.params.maxDepth, minSamplesSplit: 2, minSamplesLeaf: 1, maxFeatures: X.nCols, random,
      });
      const pred = new Int32Array(n);
      let err = 0;
      for (let i = 0; i < n; i++) {
        const leaf = leafIndex(tree, X.data, i * X.nCols);
        let best = 0;
        for (let k = 1; k < K; k++) if (tree.value[leaf * K + k] > tree.value[leaf * K + best]) best = k;
        pred[i] = best;
        if (best !== yIndex[i]) err += w[i];
      }
      if (err <= 0) { trees.push(tree); alphas.push(1); break; } // perfect member: it alone decides
      if (err >= 1 - 1 / K) { if (trees.length === 0) { trees.push(tree); alphas.push(1); } break; }
      const alpha = this.params.learningRate * (Math.log((1 - err) / err) + Math.log(K - 1));
      let total = 0;
      for (let i = 0; i < n; i++) { if (pred[i] !== yIndex[i]) w[i] *= Math.exp(alpha); total += w[i]; }
      for (let i = 0; i < n; i++) w[i] /= total;
      trees.push(tree); alphas.push(alpha);
    }
    return { nFeatures: X.nCols, classes, trees, alphas };
  }

  protected probaMatrix(X: DenseMatrix, s: State): Float64Array {
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    const total = s.alphas.reduce((a, b) => a + b, 0);
    s.trees.forEach((tree, m) => {
      for (let i = 0; i < X.nRows; i++) {
        const leaf = leafIndex(tree, X.data, i * X.nCols);
        let best = 0;
        for (let k = 1; k < K; k++) if (tree.value[leaf * K + k] > tree.value[leaf * K + best]) best = k;
        out[i * K + best] += s.alphas[m] / total;
      }
    });
    // Vote shares → probabilities via softmax of the (K−1)-scaled shares, as scikit-learn's SAMME.
    for (let i = 0; i < X.nRows; i++) {
      for (let k = 0; k < K; k++) out[i * K + k] *= 1 / (K - 1);
      softmaxInPlace(out, i * K, K);
    }
    return out;
  }

  protected override encodeState(s: State): unknown {
    return { ...s, trees: s.trees.map(treeToJSON) };
  }
  protected override decodeState(state: unknown): State {
    const s = state as Omit<State, 'trees'> & { trees: TreeJSON[] };
    return { ...s, trees: s.trees.map(treeFromJSON) };
  }
}
