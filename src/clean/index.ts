/**
 * The cleaning half of the data pipeline. `fitClean` learns every stateful step on the training
 * frame (step k on the output of steps 1..k-1); `applyClean` replays the same steps with that state
 * on any other frame (validation, test, a device's live data) and never refits. Both are pure.
 */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { StepRecorder } from './frame-ops.ts';
import type { CleanOp, CleanStep, ResolvedStep, StepOf } from './spec.ts';
import type { StepImpl } from './step-impl.ts';
import { encode } from './steps-encode.ts';
import { fill, impute, interpolate } from './steps-fill.ts';
import { iqr, log, winsorize, zscore } from './steps-outliers.ts';
import { knnImpute, regressionImpute } from './steps-predictive.ts';
import { resample } from './steps-resample.ts';
import { dedupe, dropMissing, sentinel } from './steps-rows.ts';
import { canonicalMap, cap, convertUnit, normalizeTimestamp, range, regexRewrite } from './steps-values.ts';
import type { CleanReport, CleanState, StateOf, StepReport, StepState } from './types.ts';
import { columnProblems, frameColumns, validateCleanSteps } from './validate.ts';

export type { CleanStep, CleanOp, ResolvedStep } from './spec.ts';
export { CLEAN_DEFAULTS, CLEAN_OPS } from './spec.ts';
export type { CleanReport, CleanState, StepReport, ChangeKind, ColumnChanges } from './types.ts';
export { validateCleanSteps } from './validate.ts';
export { UNIT_NAMES, type UnitName } from './units.ts';

const IMPLS: { [Op in CleanOp]: StepImpl<Op> } = {
  dedupe,
  sentinel,
  'drop-missing': dropMissing,
  impute,
  fill,
  interpolate,
  'knn-impute': knnImpute,
  'regression-impute': regressionImpute,
  'canonical-map': canonicalMap,
  'regex-rewrite': regexRewrite,
  range,
  cap,
  'convert-unit': convertUnit,
  'normalize-timestamp': normalizeTimestamp,
  zscore,
  iqr,
  winsorize,
  log,
  encode,
  resample,
};

function implFor<Op extends CleanOp>(step: StepOf<Op>): StepImpl<Op> {
  return IMPLS[step.op as Op];
}

/** Runtime column check before each step: a column dropped by an earlier step, or absent live data. */
function checkColumns(frame: Frame, step: ResolvedStep, index: number, code: 'BAD_SPEC' | 'BAD_DATA'): void {
  const problems = columnProblems(step, frameColumns(frame));
  if (problems.length > 0) {
    throw new EdgeloopError(code, `steps[${index}] (op '${step.op}'): ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  }
}

function runStep(frame: Frame, step: ResolvedStep, index: number, state: StepState | null): { frame: Frame; report: StepReport } {
  const rec = new StepRecorder(index, step.op, frame.ts.length);
  const out = implFor(step).apply(frame, step as never, state as never, rec);
  rec.report.rowsOut = out.ts.length;
  return { frame: out, report: rec.report };
}

function summarize(rowsIn: number, frame: Frame, steps: StepReport[]): CleanReport {
  return { rowsIn, rowsOut: frame.ts.length, steps };
}

/**
 * Fits `steps` on `train` and returns the cleaned training frame, the fitted state (plain JSON)
 * and a report of what each step changed.
 * @throws EdgeloopError BAD_SPEC for an invalid step list (all problems listed), BAD_DATA when the
 *   data cannot support a step (e.g. a regression with collinear features), BAD_TIMESTAMP from
 *   normalize-timestamp with onInvalid 'error'.
 */
export function fitClean(train: Frame, steps: CleanStep[]): { frame: Frame; state: CleanState; report: CleanReport } {
  const resolved = validateCleanSteps(steps, train);
  let frame = train;
  const states: (StepState | null)[] = [];
  const reports: StepReport[] = [];
  resolved.forEach((step, i) => {
    checkColumns(frame, step, i, 'BAD_SPEC');
    const state = implFor(step).fit(frame, step as never) as StateOf<CleanOp>;
    const r = runStep(frame, step, i, state);
    states.push(state);
    reports.push(r.report);
    frame = r.frame;
  });
  return { frame, state: { version: 1, ops: resolved.map((s) => s.op), steps: states }, report: summarize(train.ts.length, frame, reports) };
}

/**
 * Applies `steps` with a state from {@link fitClean} to any frame; never refits.
 * @throws EdgeloopError BAD_SPEC when the state was fitted for a different step list or the frame
 *   lacks a column the steps name; BAD_DATA when a column dropped or produced at fit time is missing
 *   or a category is unseen under unseen: 'error'.
 */
export function applyClean(frame: Frame, steps: CleanStep[], state: CleanState): { frame: Frame; report: CleanReport } {
  const resolved = validateCleanSteps(steps, frame);
  const ops = resolved.map((s) => s.op);
  if (state.version !== 1 || state.steps.length !== resolved.length || state.ops.join(',') !== ops.join(',')) {
    throw new EdgeloopError('BAD_SPEC', `state (version ${String(state.version)}, ops ${state.ops.join(', ') || '(none)'}) was fitted for a different step list (ops ${ops.join(', ') || '(none)'}); refit with fitClean`);
  }
  let out = frame;
  const reports: StepReport[] = [];
  resolved.forEach((step, i) => {
    const s = state.steps[i];
    if (s !== null && s.op !== step.op) throw new EdgeloopError('BAD_SPEC', `state.steps[${i}] is for op '${s.op}', but steps[${i}] is '${step.op}'`);
    checkColumns(out, step, i, 'BAD_DATA');
    const r = runStep(out, step, i, s);
    reports.push(r.report);
    out = r.frame;
  });
  return { frame: out, report: summarize(frame.ts.length, out, reports) };
}

