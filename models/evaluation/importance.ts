/**
 * Permutation feature importance (Breiman; scikit-learn's permutation_importance): the drop of the
 * main metric when one column is shuffled, over n seeded repeats. The model is not refitted, so
 * this measures what the fitted model uses, on held-out rows.
 */
import { EdgeloopError } from '../../src/errors.ts';
import { createRandom, shuffleInPlace } from '../../src/random.ts';
import { mainScore, type EvaluatedModel, type SplitData } from './split-metrics.ts';

export interface FeatureImportance {
  feature: string;
  index: number;
  /** Mean and population std (as sklearn) of the metric drop over the repeats. */
  mean: number;
  std: number;
  drops: number[];
}

export function permutationImportance(model: EvaluatedModel, d: SplitData, o: { task: 'classification' | 'regression'; repeats: number; seed: number; featureNames?: readonly string[] }): FeatureImportance[] {
  if (!Number.isInteger(o.repeats) || o.repeats < 1 || o.repeats > 1000) throw new EdgeloopError('BAD_ARGUMENT', `importance.repeats must be an integer in [1, 1000], got ${o.repeats}`);
  const nFeatures = d.X[0].length;
  if (o.featureNames && o.featureNames.length !== nFeatures) throw new EdgeloopError('BAD_ARGUMENT', `featureNames must name each of the ${nFeatures} columns, got ${o.featureNames.length} names`);
  const base = mainScore(o.task, d.y, model.predict(d.X));
  const random = createRandom(o.seed);
  const out: FeatureImportance[] = [];
  for (let j = 0; j < nFeatures; j++) {
    const drops: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const column = shuffleInPlace(d.X.map((row) => row[j]), random);
      const permuted = d.X.map((row, i) => { const copy = [...row]; copy[j] = column[i]; return copy; });
      drops.push(base - mainScore(o.task, d.y, model.predict(permuted)));
    }
    const mean = drops.reduce((a, b) => a + b, 0) / drops.length;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / drops.length);
    out.push({ feature: o.featureNames?.[j] ?? `x${j}`, index: j, mean, std, drops });
  }
  return out.sort((a, b) => b.mean - a.mean || a.index - b.index);
}
