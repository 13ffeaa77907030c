/** Voting over heterogeneous classifiers: 'hard' counts predicted labels, 'soft' averages probabilities. */
import { EdgeloopError } from '../../src/errors.ts';
import { BaseClassifier } from '../base.ts';
import { matrixToRows, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type NestedModel, type ParamSpecs } from '../params.ts';
import { createModel, fromJSON } from '../registry.ts';
import type { Classifier, ModelJSON } from '../types.ts';

export const VOTING_SPECS = {
  estimators: { type: 'models', default: [{ kind: 'logistic-regression' }, { kind: 'random-forest-classifier' }, { kind: 'knn-classifier' }], doc: 'member classifiers { kind, params }' },
  voting: { type: 'enum', values: ['hard', 'soft'], default: 'hard', doc: 'label majority or mean probability' },
} as const satisfies ParamSpecs;
export interface VotingParams { estimators: NestedModel[]; voting: 'hard' | 'soft' }

interface State { nFeatures: number; classes: number[]; members: Classifier[] }

export function asClassifier(model: ReturnType<typeof createModel>, owner: string): Classifier {
  if (model.task !== 'classification') throw new EdgeloopError('BAD_ARGUMENT', `${owner}: members must be classifiers, got ${model.kind} (${model.task})`);
  return model;
}

export class VotingClassifier extends BaseClassifier<VotingParams, State> {
  readonly kind = 'voting-classifier';
  constructor(params: Partial<VotingParams> = {}) {
    super(resolveParams('voting-classifier', VOTING_SPECS, params));
    this.params.estimators.forEach((e) => asClassifier(createModel(e.kind, e.params), 'voting-classifier'));
  }

  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): State {
    const rows = matrixToRows(X);
    const y = Array.from(yIndex, (k) => classes[k]);
    const members = this.params.estimators.map((e) => asClassifier(createModel(e.kind, e.params), this.kind).fit(rows, y));
    return { nFeatures: X.nCols, classes, members };
  }

  protected probaMatrix(X: DenseMatrix, s: State): Float64Array {
    const rows = matrixToRows(X);
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    for (const m of s.members) {
      if (this.params.voting === 'soft') {
        m.predictProba(rows).forEach((p, i) => p.forEach((v, k) => { out[i * K + k] += v / s.members.length; }));
      } else {
        m.predict(rows).forEach((label, i) => { out[i * K + s.classes.indexOf(label)] += 1 / s.members.length; });
      }
    }
    return out;
  }

  protected override encodeState(s: State): unknown {
    return { nFeatures: s.nFeatures, classes: s.classes, members: s.members.map((m) => m.toJSON()) };
  }

  protected override decodeState(state: unknown): State {
    const s = state as { nFeatures: number; classes: number[]; members: ModelJSON[] };
    return { ...s, members: s.members.map((j) => asClassifier(fromJSON(j), this.kind)) };
  }
}
