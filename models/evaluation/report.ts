/**
 * The evaluation report of a fitted model: metrics per split, a learning curve (refits through a
 * model factory on 10 … 100 % of train, seeded), permutation feature importance on held-out rows,
 * and an over/underfitting diagnosis in words. `formatReport()` renders it for the CLI.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { DIAGNOSIS_DEFAULTS, diagnose, learningCurve, LEARNING_CURVE_FRACTIONS, type Diagnosis, type DiagnosisThresholds, type EvalTask, type FittableModel, type LearningPoint } from './diagnosis.ts';
import { permutationImportance, type FeatureImportance } from './importance.ts';
import { checkSplit, classificationMetrics, regressionMetrics, type EvaluatedModel, type SplitData, type SplitMetrics } from './split-metrics.ts';

export { formatReport } from './format.ts';
export type { Diagnosis, DiagnosisThresholds, EvalTask, FittableModel, LearningPoint } from './diagnosis.ts';
export type { FeatureImportance } from './importance.ts';
export type { ClassificationMetrics, EvaluatedModel, RegressionMetrics, SplitData, SplitMetrics } from './split-metrics.ts';

export interface EvaluateOptions {
  task: EvalTask;
  train: SplitData;
  val?: SplitData;
  tests?: Record<string, SplitData>;
  /** Class labels in predictProba column order (default: model.classes, else the sorted train labels). */
  classes?: readonly number[];
  featureNames?: readonly string[];
  /** Fresh unfitted models for the learning curve; without it the curve (and its sentence) is left out. */
  factory?: () => FittableModel;
  /** Training-set fractions of the learning curve (default 0.1, 0.25, 0.5, 0.75, 1). */
  fractions?: readonly number[];
  /** Permutation-importance repeats (default 5); 0 leaves importance out. */
  importanceRepeats?: number;
  seed?: number;
  thresholds?: Partial<DiagnosisThresholds>;
}

export interface EvaluationReport {
  task: EvalTask;
  classes?: number[];
  /** Split name → metrics; 'train', 'val' and the test names, in that order. */
  splits: Record<string, SplitMetrics>;
  /** The split the diagnosis, curve and importance use: 'val', else the first test. */
  referenceSplit?: string;
  mainMetric: 'accuracy' | 'r2';
  learningCurve?: LearningPoint[];
  importance?: { split: string; repeats: number; features: FeatureImportance[] };
  diagnosis: Diagnosis;
}

const main = (s: SplitMetrics): number => (s.task === 'classification' ? s.accuracy : s.r2);

export async function evaluate(model: EvaluatedModel, o: EvaluateOptions): Promise<EvaluationReport> {
  if (o.task !== 'classification' && o.task !== 'regression') throw new EdgeloopError('BAD_ARGUMENT', `task must be 'classification' or 'regression', got ${JSON.stringify(o.task)}`);
  checkSplit('train', o.train);
  if (o.val !== undefined) checkSplit('val', o.val);
  const tests = Object.entries(o.tests ?? {});
  for (const [name, d] of tests) {
    if (name === 'train' || name === 'val') throw new EdgeloopError('BAD_ARGUMENT', `tests.${name}: 'train' and 'val' are reserved split names`);
    checkSplit(`tests.${name}`, d);
  }
  const nFeatures = o.train.X[0].length;
  for (const [name, d] of [['train', o.train], ['val', o.val], ...tests.map(([n, d]) => [`tests.${n}`, d] as const)] as const) {
    const bad = d?.X.findIndex((row) => row.length !== nFeatures) ?? -1;
    if (bad >= 0) throw new EdgeloopError('BAD_ARGUMENT', `${name}.X[${bad}] has ${d!.X[bad].length} features, train has ${nFeatures}`);
  }
  const fractions = o.fractions ?? LEARNING_CURVE_FRACTIONS;
  if (fractions.length === 0 || fractions.some((f, i) => !(f > 0 && f <= 1) || (i > 0 && !(f > fractions[i - 1])))) {
    throw new EdgeloopError('BAD_ARGUMENT', `fractions must be increasing values in (0, 1], got [${fractions.join(', ')}]`);
  }
  const repeats = o.importanceRepeats ?? 5;
  const seed = o.seed ?? 0;
  const thresholds = { ...DIAGNOSIS_DEFAULTS, ...(o.thresholds ?? {}) };

  let classes: number[] | undefined;
  if (o.task === 'classification') {
    classes = [...(o.classes ?? (model.classes && model.classes.length > 0 ? model.classes : Array.from(new Set(o.train.y)).sort((a, b) => a - b)))];
    if (classes.length < 2) throw new EdgeloopError('BAD_ARGUMENT', `classification needs at least 2 classes, got [${classes.join(', ')}]`);
  }
  const all: [string, SplitData][] = [['train', o.train], ...(o.val ? [['val', o.val] as [string, SplitData]] : []), ...tests];
  const splits: Record<string, SplitMetrics> = {};
  for (const [name, d] of all) {
    splits[name] = classes ? classificationMetrics(model, d, classes, name) : regressionMetrics(model, d);
  }
  const referenceSplit = o.val ? 'val' : tests[0]?.[0];
  const ref = o.val ?? tests[0]?.[1];
  const refLabel = referenceSplit === 'val' ? 'validation' : referenceSplit !== undefined ? `test '${referenceSplit}'` : 'validation';

  let curve: LearningPoint[] | undefined;
  if (o.factory && ref) curve = await learningCurve(o.factory, o.train, ref, { task: o.task, fractions, seed });
  let importance: EvaluationReport['importance'];
  if (repeats > 0 && ref && referenceSplit) {
    importance = { split: referenceSplit, repeats, features: permutationImportance(model, ref, { task: o.task, repeats, seed, featureNames: o.featureNames }) };
  } else if (!Number.isInteger(repeats) || repeats < 0) {
    throw new EdgeloopError('BAD_ARGUMENT', `importanceRepeats must be an integer >= 0, got ${repeats}`);
  }
  const diagnosis = diagnose({
    task: o.task, trainScore: main(splits.train), valScore: referenceSplit ? main(splits[referenceSplit]) : undefined,
    valName: refLabel, trainY: o.train.y, curve, thresholds,
  });
  return { task: o.task, classes, splits, referenceSplit, mainMetric: o.task === 'classification' ? 'accuracy' : 'r2', learningCurve: curve, importance, diagnosis };
}
