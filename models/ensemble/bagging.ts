/** Bagging: copies of one base model, each fitted on a bootstrap sample; votes (soft) or averages. */
import { createRandom } from '../../src/random.ts';
import { BaseClassifier, BaseRegressor } from '../base.ts';
import { matrixToRows, takeRows, type DenseMatrix } from '../matrix.ts';
import { resolveParams, type NestedModel, type ParamSpecs } from '../params.ts';
import { createModel, fromJSON, modelSpecs } from '../registry.ts';
import type { Classifier, ModelJSON, Regressor } from '../types.ts';
import { asClassifier } from './voting.ts';
import { EdgeloopError } from '../../src/errors.ts';

const BAGGING_SPECS_BASE = {
  nEstimators: { type: 'int', min: 1, max: 10000, default: 10, doc: 'bootstrap copies' },
  maxSamples: { type: 'float', min: 0, max: 1, exclusiveMin: true, default: 1, doc: 'rows drawn per copy, as a share of n' },
  seed: { type: 'int', min: 0, max: 4294967295, default: 0, doc: 'PRNG seed (draws; members get seed + i when they take one)' },
} as const satisfies ParamSpecs;
export const BAGGING_CLASSIFIER_SPECS = { ...BAGGING_SPECS_BASE, base: { type: 'model', default: { kind: 'decision-tree-classifier' }, doc: 'base classifier' } } as const satisfies ParamSpecs;
export const BAGGING_REGRESSOR_SPECS = { ...BAGGING_SPECS_BASE, base: { type: 'model', default: { kind: 'decision-tree-regressor' }, doc: 'base regressor' } } as const satisfies ParamSpecs;
export interface BaggingParams { nEstimators: number; maxSamples: number; seed: number; base: NestedModel }

function memberParams(p: BaggingParams, i: number): Record<string, unknown> {
  const params = { ...(p.base.params ?? {}) };
  if ('seed' in modelSpecs(p.base.kind)) params.seed = (p.seed + i) >>> 0;
  return params;
}

function drawRows(n: number, share: number, seed: number, i: number): Int32Array {
  const random = createRandom((seed * 7919 + i) >>> 0);
  const m = Math.max(1, Math.floor(share * n));
  return Int32Array.from({ length: m }, () => random.int(n));
}

interface ClassState { nFeatures: number; classes: number[]; members: Classifier[] }
interface RegState { nFeatures: number; members: Regressor[] }

export class BaggingClassifier extends BaseClassifier<BaggingParams, ClassState> {
  readonly kind = 'bagging-classifier';
  constructor(params: Partial<BaggingParams> = {}) {
    super(resolveParams('bagging-classifier', BAGGING_CLASSIFIER_SPECS, params));
    asClassifier(createModel(this.params.base.kind, this.params.base.params), this.kind);
  }
  protected fitMatrix(X: DenseMatrix, yIndex: Int32Array, classes: number[]): ClassState {
    const members: Classifier[] = [];
    for (let i = 0; i < this.params.nEstimators; i++) {
      const rows = drawRows(X.nRows, this.params.maxSamples, this.params.seed, i);
      const y = Array.from(rows, (r) => classes[yIndex[r]]);
      if (new Set(y).size < 2) continue; // a one-class draw cannot train a classifier
      members.push(asClassifier(createModel(this.params.base.kind, memberParams(this.params, i)), this.kind).fit(matrixToRows(takeRows(X, rows)), y));
    }
    if (members.length === 0) throw new EdgeloopError('BAD_DATA', 'bagging-classifier: every bootstrap draw held a single class');
    return { nFeatures: X.nCols, classes, members };
  }
  protected probaMatrix(X: DenseMatrix, s: ClassState): Float64Array {
    const rows = matrixToRows(X);
    const K = s.classes.length;
    const out = new Float64Array(X.nRows * K);
    for (const m of s.members) {
      const proba = m.predictProba(rows);
      m.classes.forEach((label, c) => {
        const k = s.classes.indexOf(label);
        for (let i = 0; i < X.nRows; i++) out[i * K + k] += proba[i][c] / s.members.length;
      });
    }
    return out;
  }
  protected override encodeState(s: ClassState): unknown {
    return { ...s, members: s.members.map((m) => m.toJSON()) };
  }
  protected override decodeState(state: unknown): ClassState {
    const s = state as { nFeatures: number; classes: number[]; members: ModelJSON[] };
    return { ...s, members: s.members.map((j) => asClassifier(fromJSON(j), this.kind)) };
  }
}

function asRegressor(model: ReturnType<typeof createModel>, owner: string): Regressor {
  if (model.task !== 'regression') throw new EdgeloopError('BAD_ARGUMENT', `${owner}: base must be a regressor, got ${model.kind} (${model.task})`);
  return model;
}

export class BaggingRegressor extends BaseRegressor<BaggingParams, RegState> {
  readonly kind = 'bagging-regressor';
  constructor(params: Partial<BaggingParams> = {}) {
    super(resolveParams('bagging-regressor', BAGGING_REGRESSOR_SPECS, params));
    asRegressor(createModel(this.params.base.kind, this.params.base.params), this.kind);
  }
  protected fitMatrix(X: DenseMatrix, y: Float64Array): RegState {
    const members: Regressor[] = [];
    for (let i = 0; i < this.params.nEstimators; i++) {
      const rows = drawRows(X.nRows, this.params.maxSamples, this.params.seed, i);
      members.push(asRegressor(createModel(this.params.base.kind, memberParams(this.params, i)), this.kind).fit(matrixToRows(takeRows(X, rows)), Array.from(rows, (r) => y[r])));
    }
    return { nFeatures: X.nCols, members };
  }
  protected predictMatrix(X: DenseMatrix, s: RegState): Float64Array {
    const rows = matrixToRows(X);
    const out = new Float64Array(X.nRows);
    for (const m of s.members) m.predict(rows).forEach((v, i) => { out[i] += v / s.members.length; });
    return out;
  }
  protected override encodeState(s: RegState): unknown {
    return { ...s, members: s.members.map((m) => m.toJSON()) };
  }
  protected override decodeState(state: unknown): RegState {
    const s = state as { nFeatures: number; members: ModelJSON[] };
    return { ...s, members: s.members.map((j) => asRegressor(fromJSON(j), this.kind)) };
  }
}
