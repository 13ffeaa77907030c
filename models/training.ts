/**
 * Training orchestration shared by `edgeloop train`, the demo and automatic retraining: pick the
 * splits out of a prepared dataset, build the model (classical from models/registry.ts or a neural
 * net from models/nn/), optionally tune it, fit on the train split, and measure every split.
 */
import { EdgeloopError } from '../src/errors.ts';
import type { FeatureMatrix } from '../src/frame.ts';
import { createModel, fromJSON, MODEL_KINDS } from './registry.ts';
import { search, STRATEGIES, type BayesOptions, type SearchSpace, type TpeOptions, type Strategy, type Trial } from './tuning/search.ts';
import { NeuralNet, mlp } from './nn/index.ts';
import { evaluate, type EvaluationReport, type FittableModel } from './evaluation/report.ts';
import * as metrics from './metrics/index.ts';
import type { ModelIR } from './ir.ts';
import type { Estimator, ModelJSON } from './types.ts';

/** Short names accepted on the command line. */
export const MODEL_ALIASES: Record<string, string> = {
  rf: 'random-forest-classifier',
  'rf-reg': 'random-forest-regressor',
  logreg: 'logistic-regression',
  gbm: 'gradient-boosting-classifier',
  'gbm-reg': 'gradient-boosting-regressor',
  tree: 'decision-tree-classifier',
  knn: 'knn-classifier',
  svm: 'svc',
  ols: 'linear-regression',
};

export type Task = 'classification' | 'regression';

export interface SplitData {
  X: number[][];
  y: number[];
}

export interface DatasetSplits {
  train: SplitData;
  val?: SplitData;
  /** Every other split, by name (e.g. test, test1, test2). */
  tests: Record<string, SplitData>;
}

/** Separates a prepared matrix by its split labels; `trainSplit` names the training split. */
function valOf(data: DatasetSplits): SplitData {
  if (!data.val || data.val.X.length === 0) throw new EdgeloopError('BAD_ARGUMENT', "tune.scoreOn 'val' needs a validation split with rows (splitsOf(matrix, train, val))");
  return data.val;
}

export function splitsOf(m: FeatureMatrix, trainSplit = 'train', valSplit = 'val'): DatasetSplits {
  if (!m.split || !m.y) throw new EdgeloopError('BAD_DATA', 'the dataset has no split labels or no targets: prepare it with a label column and a split');
  const by = new Map<string, SplitData>();
  m.split.forEach((s, i) => {
    let d = by.get(s);
    if (!d) by.set(s, (d = { X: [], y: [] }));
    d.X.push(m.X[i]!);
    d.y.push(m.y![i]!);
  });
  const train = by.get(trainSplit);
  if (!train || train.X.length === 0) throw new EdgeloopError('BAD_DATA', `the dataset has no rows in its train split '${trainSplit}' (splits: ${[...by.keys()].join(', ')})`);
  const val = by.get(valSplit);
  const tests: Record<string, SplitData> = {};
  for (const [name, d] of by) if (name !== trainSplit && name !== valSplit) tests[name] = d;
  return { train, val, tests };
}

/** What training returns, whatever the family. */
export interface TrainedModel {
  kind: string;
  task: Task;
  predict(X: number[][]): number[];
  predictProba(X: number[][]): number[][] | null;
  toIR(): ModelIR;
  /** Native save: classical models' ModelJSON or the neural net's JSON, tagged. */
  toJSON(): NativeModel;
}

export type NativeModel = { family: 'classical'; model: ModelJSON } | { family: 'nn'; model: unknown };

export interface TuneOptions {
  /**
   * grid, random, bayes (Gaussian process + expected improvement, models/tuning/bayes.ts) or tpe
   * (Tree-structured Parzen Estimator, models/tuning/tpe.ts).
   */
  strategy: Strategy;
  space: SearchSpace;
  /** Budget: trials (completed ones count) and/or wall time of this call. */
  maxTrials?: number;
  maxTimeMs?: number;
  /** Trials of an earlier search on the same data (resume): not run again; bayes refits its GP on them, tpe its densities. */
  completed?: Trial[];
  /** Folds of the cross-validation on the train split that scores each trial (default 3). */
  cvFolds?: number;
  /** 'cv' (default): k-fold cross-validation on train; 'val': fit on train, score on the validation split. */
  scoreOn?: 'cv' | 'val';
  bayes?: Partial<BayesOptions>;
  tpe?: Partial<TpeOptions>;
}

/** The evaluation report (models/evaluation/report.ts) computed after the fit. */
export interface TrainEvaluationOptions {
  /** Refit on 10 … 100 % of train for the learning curve (default: true for classical models, false for mlp). */
  learningCurve?: boolean;
  /** Permutation-importance repeats (default 5; 0 leaves it out). */
  importanceRepeats?: number;
  /** Column names for the importance table (default x0, x1, …). */
  featureNames?: readonly string[];
}

export interface TrainOptions {
  kind: string;
  task: Task;
  params?: Record<string, unknown>;
  tune?: TuneOptions;
  /** Compute the evaluation report (TrainResult.report); `true` = defaults. */
  evaluate?: boolean | TrainEvaluationOptions;
  seed?: number;
  classes?: string[];
  onTrial?: (t: Trial) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface TrainResult {
  model: TrainedModel;
  kind: string;
  params: Record<string, unknown>;
  metrics: Record<string, Record<string, number>>;
  confusion: Record<string, number[][]>;
  trials: Trial[];
  durationMs: number;
  /** With options.evaluate: the evaluation report (metrics, confusion, calibration, diagnosis, importance). */
  report?: EvaluationReport;
}

export function resolveKind(kind: string): string {
  const k = MODEL_ALIASES[kind] ?? kind;
  if (k !== 'mlp' && !(MODEL_KINDS as readonly string[]).includes(k)) {
    throw new EdgeloopError('BAD_ARGUMENT', `--model ${JSON.stringify(kind)} must be one of mlp, ${[...Object.keys(MODEL_ALIASES), ...MODEL_KINDS].join(', ')}`);
  }
  return k;
}

function wrapClassical(est: Estimator, task: Task): TrainedModel {
  if (est.task === 'clustering') throw new EdgeloopError('MODEL_UNSUPPORTED', `'${est.kind}' is a clustering model: edgeloop train needs a classifier or regressor`);
  return {
    kind: est.kind,
    task,
    predict: (X) => est.predict(X),
    predictProba: (X) => (est.task === 'classification' ? est.predictProba(X) : null),
    toIR: () => est.toIR(),
    toJSON: () => ({ family: 'classical', model: est.toJSON() }),
  };
}

function wrapNet(net: NeuralNet, task: Task): TrainedModel {
  return {
    kind: 'mlp',
    task,
    predict: (X) => net.predict(X),
    predictProba: (X) => (task === 'classification' ? net.predictProba(X) : null),
    toIR: () => ({ body: net.toIR() }),
    toJSON: () => ({ family: 'nn', model: net.toJSON() }),
  };
}

/** Reloads a natively saved model. */
export async function loadNative(native: NativeModel, task: Task): Promise<TrainedModel> {
  if (native.family === 'classical') return wrapClassical(fromJSON(native.model), task);
  return wrapNet(await NeuralNet.fromJSON(native.model), task);
}

export function measure(model: TrainedModel, data: SplitData, task: Task): { metrics: Record<string, number>; confusion?: number[][] } {
  const pred = model.predict(data.X);
  if (task === 'regression') {
    return { metrics: { mse: metrics.meanSquaredError(data.y, pred), rmse: Math.sqrt(metrics.meanSquaredError(data.y, pred)), mae: metrics.meanAbsoluteError(data.y, pred), r2: metrics.r2Score(data.y, pred) } };
  }
  const out: Record<string, number> = {
    accuracy: metrics.accuracy(data.y, pred),
    f1_macro: metrics.f1Score(data.y, pred, { average: 'macro' }),
    f1_weighted: metrics.f1Score(data.y, pred, { average: 'weighted' }),
  };
  const proba = model.predictProba(data.X);
  const labels = [...new Set(data.y)];
  if (proba && labels.length === 2 && proba[0]!.length === 2) {
    try {
      out.roc_auc = metrics.rocAucBinary(data.y, proba.map((p) => p[1]!));
    } catch {
      // A split with one class has no ROC-AUC.
    }
  }
  return { metrics: out, confusion: metrics.confusionMatrix(data.y, pred).matrix };
}

export async function trainModel(data: DatasetSplits, o: TrainOptions): Promise<TrainResult> {
  const kind = resolveKind(o.kind);
  const started = Date.now();
  let params: Record<string, unknown> = { ...(o.params ?? {}) };
  let trials: Trial[] = [];
  let model: TrainedModel;
  let classesOf: () => number[] | undefined = () => undefined;
  if (o.tune && !STRATEGIES.includes(o.tune.strategy)) throw new EdgeloopError('BAD_ARGUMENT', `tune.strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(o.tune.strategy)}`);
  let factory: (() => FittableModel) | undefined;
  if (kind === 'mlp') {
    if (o.tune) throw new EdgeloopError('BAD_ARGUMENT', '--tune is available for the classical models; tune an mlp through its --params');
    const hidden = (params.hidden as number[] | undefined) ?? [16, 8];
    const { hidden: _h, ...rest } = params;
    const netOptions = { task: o.task, layers: mlp(hidden), epochs: 20, batchSize: 64, l2: 0.01, seed: o.seed ?? 1, classes: o.classes, ...rest };
    const net = new NeuralNet(netOptions);
    await net.fit(data.train.X, data.train.y, data.val ? { validation: { X: data.val.X, y: data.val.y } } : {});
    params = { hidden, ...rest };
    model = wrapNet(net, o.task);
    factory = () => new NeuralNet(netOptions) as unknown as FittableModel;
  } else {
    if (o.tune) {
      const k = o.tune.cvFolds ?? 3;
      const result = search({
        kind, fixed: params, space: o.tune.space, strategy: o.tune.strategy, X: data.train.X, y: data.train.y,
        validation: o.tune.scoreOn === 'val' ? { kind: 'given', X: valOf(data).X, y: valOf(data).y } : { kind: 'kfold', k }, maxTrials: o.tune.maxTrials, maxTimeMs: o.tune.maxTimeMs, seed: o.seed ?? 0,
        completed: o.tune.completed, bayes: o.tune.bayes, tpe: o.tune.tpe, onTrial: o.onTrial, onProgress: o.onProgress,
      });
      trials = result.trials;
      params = { ...params, ...result.best.params };
    }
    const est = createModel(kind, params);
    if (est.task === 'clustering') throw new EdgeloopError('MODEL_UNSUPPORTED', `'${kind}' is a clustering model: edgeloop train needs a classifier or regressor`);
    est.fit(data.train.X, data.train.y);
    params = { ...(est.params as Record<string, unknown>) };
    model = wrapClassical(est, o.task);
    const fitted = { ...params };
    factory = () => createModel(kind, fitted) as unknown as FittableModel;
    classesOf = () => (est.task === 'classification' ? [...est.classes] : undefined);
  }
  const out: Record<string, Record<string, number>> = {};
  const confusion: Record<string, number[][]> = {};
  const all: [string, SplitData | undefined][] = [['train', data.train], ['val', data.val], ...Object.entries(data.tests)];
  for (const [name, d] of all) {
    if (!d || d.X.length === 0) continue;
    const m = measure(model, d, o.task);
    out[name] = m.metrics;
    if (m.confusion) confusion[name] = m.confusion;
  }
  const durationMs = Date.now() - started;
  let report: EvaluationReport | undefined;
  if (o.evaluate) {
    const e = o.evaluate === true ? {} : o.evaluate;
    const curve = e.learningCurve ?? kind !== 'mlp';
    const evaluated = { predict: (X: readonly (readonly number[])[]) => model.predict(X as number[][]), predictProba: o.task === 'classification' ? (X: readonly (readonly number[])[]) => model.predictProba(X as number[][]) ?? [] : undefined };
    report = await evaluate(evaluated, {
      task: o.task, train: data.train, val: data.val && data.val.X.length > 0 ? data.val : undefined,
      tests: Object.fromEntries(Object.entries(data.tests).filter(([, d]) => d.X.length > 0)),
      classes: o.task === 'classification' ? (classesOf() ?? (o.classes ? o.classes.map((_, i) => i) : undefined)) : undefined,
      featureNames: e.featureNames, factory: curve ? factory : undefined, importanceRepeats: e.importanceRepeats, seed: o.seed ?? 0,
    });
  }
  return { model, kind, params, metrics: out, confusion, trials, durationMs, report };
}
