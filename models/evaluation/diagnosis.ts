/**
 * Learning curve and the over/underfitting diagnosis, stated in words.
 *
 * Rules (thresholds in DIAGNOSIS_DEFAULTS, all in points = 100 × the main metric):
 * - underfitting: the train skill is below minSkill — skill is R² for regression and, for
 *   classification, how far train accuracy goes from the majority-class rate to 1
 *   ((acc − majority) / (1 − majority)), so a model no better than "always the majority" has 0;
 * - overfitting: otherwise, when train − validation > gapPoints;
 * - else no sign of either.
 * The learning curve adds whether more data helps: validation rises by more than helpsPoints
 * from the smallest to the full training set.
 */
import { createRandom, shuffleInPlace } from '../../src/random.ts';
import { mainScore, type EvaluatedModel, type Rows, type SplitData } from './split-metrics.ts';

export type EvalTask = 'classification' | 'regression';

/** A model that can be (re)fitted; fit may be async (NeuralNet). */
export interface FittableModel extends EvaluatedModel {
  fit(X: Rows, y: readonly number[]): unknown;
}

export interface DiagnosisThresholds { gapPoints: number; minSkill: number; helpsPoints: number }
export const DIAGNOSIS_DEFAULTS: DiagnosisThresholds = { gapPoints: 3, minSkill: 0.5, helpsPoints: 1 };

export const LEARNING_CURVE_FRACTIONS: readonly number[] = [0.1, 0.25, 0.5, 0.75, 1];

export interface LearningPoint { fraction: number; nTrain: number; trainScore: number; valScore: number }

export interface Diagnosis {
  verdict: 'overfitting' | 'underfitting' | 'good-fit' | 'unknown';
  /** Train − validation in points. */
  gapPoints?: number;
  /** Validation at the full training set − validation at the smallest fraction, in points. */
  learningGainPoints?: number;
  /** Sentences for people, first the verdict. */
  text: string[];
}

/** Rows of a seeded, stratified (classification) subsample of `fraction` of the training set. */
function subsample(y: readonly number[], fraction: number, task: EvalTask, seed: number): number[] {
  const random = createRandom(seed);
  const idx = y.map((_, i) => i);
  if (task === 'regression') return shuffleInPlace(idx, random).slice(0, Math.max(2, Math.round(fraction * y.length)));
  const byClass = new Map<number, number[]>();
  for (const i of idx) byClass.set(y[i], [...(byClass.get(y[i]) ?? []), i]);
  const out: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = shuffleInPlace(byClass.get(label)!, random);
    out.push(...rows.slice(0, Math.max(1, Math.round(fraction * rows.length))));
  }
  return out.sort((a, b) => a - b);
}

export async function learningCurve(factory: () => FittableModel, train: SplitData, ref: SplitData, o: { task: EvalTask; fractions: readonly number[]; seed: number }): Promise<LearningPoint[]> {
  const out: LearningPoint[] = [];
  for (const fraction of o.fractions) {
    const rows = subsample(train.y, fraction, o.task, o.seed);
    const X = rows.map((i) => train.X[i]);
    const y = rows.map((i) => train.y[i]);
    const model = factory();
    await model.fit(X, y);
    out.push({ fraction, nTrain: rows.length, trainScore: mainScore(o.task, y, model.predict(X)), valScore: mainScore(o.task, ref.y, model.predict(ref.X)) });
  }
  return out;
}

const pct = (f: number): string => `${Math.round(f * 100)} %`;

export function diagnose(o: { task: EvalTask; trainScore: number; valScore?: number; valName: string; trainY: readonly number[]; curve?: readonly LearningPoint[]; thresholds: DiagnosisThresholds }): Diagnosis {
  const metric = o.task === 'classification' ? 'accuracy' : 'R²';
  if (o.valScore === undefined) {
    return { verdict: 'unknown', text: ['no validation or test split: over/underfitting cannot be diagnosed'] };
  }
  const th = o.thresholds;
  const gap = 100 * (o.trainScore - o.valScore);
  const pair = `train ${metric} ${o.trainScore.toFixed(3)} vs ${o.valName} ${o.valScore.toFixed(3)}`;
  const text: string[] = [];
  let verdict: Diagnosis['verdict'];
  let skill = o.trainScore;
  let skillText = `train ${metric} ${o.trainScore.toFixed(3)} < ${th.minSkill.toFixed(2)}`;
  if (o.task === 'classification') {
    const counts = new Map<number, number>();
    for (const v of o.trainY) counts.set(v, (counts.get(v) ?? 0) + 1);
    const majority = Math.max(...counts.values()) / o.trainY.length;
    skill = majority < 1 ? (o.trainScore - majority) / (1 - majority) : 1;
    skillText = `train accuracy ${o.trainScore.toFixed(3)} is only ${pct(Math.max(0, skill))} of the way from the majority-class rate ${majority.toFixed(3)} to 1 (< ${pct(th.minSkill)})`;
  }
  // Low train skill is checked first: a gap between two poor scores (R² 0.01 vs −0.03) is noise
  // around a model that learned nothing, not a model that learned the training rows too well.
  if (skill < th.minSkill) {
    verdict = 'underfitting';
    text.push(`underfitting: ${skillText}, and ${o.valName} ${metric} ${o.valScore.toFixed(3)} is no better; try a more flexible model or richer features`);
  } else if (gap > th.gapPoints) {
    verdict = 'overfitting';
    text.push(`overfitting: ${pair} (gap ${gap.toFixed(1)} points > ${th.gapPoints}); try more regularization, a simpler model or more data`);
  } else {
    verdict = 'good-fit';
    text.push(`no sign of over- or underfitting: ${pair} (gap ${gap.toFixed(1)} points ≤ ${th.gapPoints})`);
  }
  let learningGainPoints: number | undefined;
  if (o.curve && o.curve.length >= 2) {
    const first = o.curve[0];
    const last = o.curve[o.curve.length - 1];
    learningGainPoints = 100 * (last.valScore - first.valScore);
    const span = `${o.valName} ${metric} ${learningGainPoints > 0 ? 'rises' : 'goes'} from ${first.valScore.toFixed(3)} at ${pct(first.fraction)} to ${last.valScore.toFixed(3)} at ${pct(last.fraction)} of the training set`;
    text.push(learningGainPoints > th.helpsPoints ? `more data helps: ${span}` : `more data does not help much: ${span} (gain ${learningGainPoints.toFixed(1)} points ≤ ${th.helpsPoints})`);
  }
  return { verdict, gapPoints: gap, learningGainPoints, text };
}
