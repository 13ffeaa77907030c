/**
 * transformPipeline: features of new data (test sets, replays, live batches) with the fitted state
 * only — nothing is refitted. Rows come out ordered by (device, time).
 */
import { EdgeloopError } from '../errors.ts';
import type { FeatureMatrix, Frame } from '../frame.ts';
import { applyClean, type CleanStep } from '../clean/index.ts';
import { extractBase, finishRow } from './extract.ts';
import { checkInputColumns } from './fit.ts';
import type { FittedPipeline } from './fitted.ts';
import { specHash } from './hash.ts';
import { target } from './labels.ts';
import { labelValues, sortFrame } from './rows.ts';
import { validatePipelineSpec, type PipelineSpec } from './spec.ts';

/** Validates the spec and checks that `fitted` was fitted from it. */
export function checkFitted(specInput: unknown, fitted: FittedPipeline): PipelineSpec {
  const spec = validatePipelineSpec(specInput);
  if (fitted.version !== 1) throw new EdgeloopError('BAD_SPEC', `fitted.version must be 1, got ${String(fitted.version)}`);
  const hash = specHash(spec);
  if (hash !== fitted.specHash) throw new EdgeloopError('BAD_SPEC', `fitted pipeline was fitted for spec ${fitted.specHash.slice(0, 12)}…, not this spec (${hash.slice(0, 12)}…); refit with fitPipeline`);
  return spec;
}

/**
 * Feature matrix of `frame`. When the frame carries the label column, `y` is set and rows without a
 * usable label (missing, or a class outside the fitted class list) are left out.
 */
export function transformPipeline(frame: Frame, specInput: unknown, fitted: FittedPipeline): FeatureMatrix {
  const spec = checkFitted(specInput, fitted);
  checkInputColumns(frame, spec, false);
  const cleaned = sortFrame(applyClean(sortFrame(frame), spec.clean as CleanStep[], fitted.clean).frame);
  const base = extractBase(cleaned, spec);
  const label = spec.input.label;
  const hasLabel = label !== undefined && (Object.hasOwn(cleaned.num, label.column) || Object.hasOwn(cleaned.cat, label.column));
  const labels = hasLabel ? labelValues(cleaned, label.column) : null;
  const m: FeatureMatrix = { columns: [...fitted.columns], X: [], ts: [], device: [] };
  const y: number[] = [];
  base.X.forEach((x, k) => {
    let t: number | null = null;
    if (labels) {
      t = target(labels[base.sourceRow[k]], label!, fitted.label?.classes);
      if (t === null) return;
      y.push(t);
    }
    const row = finishRow(x, base.device[k], fitted);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new EdgeloopError('BAD_DATA', `feature '${fitted.columns[bad]}' is not finite (${row[bad]}) for device '${base.device[k]}' at ${new Date(base.ts[k]).toISOString()}`);
    m.X.push(row);
    m.ts.push(base.ts[k]);
    m.device.push(base.device[k]);
  });
  if (labels) m.y = y;
  return m;
}
