/**
 * fitPipeline: leakage-safe fitting. Rows are assigned to splits FIRST; cleaning, derived
 * features, selection and scaling are fitted on the train split only; windows never cross a
 * split boundary (each split's contiguous runs are windowed separately).
 */
import { EdgeloopError } from '../errors.ts';
import type { FeatureMatrix, Frame } from '../frame.ts';
import { applyClean, fitClean, type CleanReport, type CleanState, type CleanStep } from '../clean/index.ts';
import { derivedColumns, fitDerived, appendDerived, type DerivedState } from '../features/derived.ts';
import { silentLogger, type Logger } from '../log.ts';
import { fitScaler, scaleRow } from '../scale/scaler.ts';
import { correlationFilter, mutualInfoSelect, recursiveElimination, varianceThreshold, type FeatureModel } from '../select/selectors.ts';
import { extractBase } from './extract.ts';
import type { FittedPipeline } from './fitted.ts';
import { specHash } from './hash.ts';
import { classKey, inferClasses, target } from './labels.ts';
import { assignSplits, labelValues, runBreaks, runStarts, sortFrame, takeRows } from './rows.ts';
import { baseColumns, splitNames, validatePipelineSpec, type PipelineSpec } from './spec.ts';

export interface FitOptions {
  /** Model factory for `rfe` selection steps (required when the spec has one). */
  rfeModel?: () => FeatureModel;
  logger?: Logger;
}

export interface FitReport {
  rowsIn: number;
  /** Input rows per split (before cleaning). */
  rowsPerSplit: Record<string, number>;
  /** Rows in no split (time-split gaps, outside every time range). */
  rowsUnassigned: number;
  clean: Record<string, CleanReport>;
  /** Readings skipped by the windows because a sensor value was missing/non-finite after cleaning. */
  skippedReadings: Record<string, number>;
  /** Feature rows per split in the matrix. */
  featureRows: Record<string, number>;
  /** Feature rows dropped for a missing label, or a class outside the class list. */
  droppedUnlabeled: number;
  selection: { step: string; kept: string[] }[];
  columns: string[];
}

export function checkInputColumns(frame: Frame, spec: PipelineSpec, requireLabel: boolean): void {
  const missing = spec.input.sensors.filter((s) => !Object.hasOwn(frame.num, s));
  if (missing.length > 0) throw new EdgeloopError('BAD_DATA', `frame has no numeric column for sensor(s) ${missing.map((m) => `'${m}'`).join(', ')} (input.sensors); numeric columns: ${Object.keys(frame.num).join(', ') || '(none)'}`);
  const label = spec.input.label?.column;
  if (requireLabel && label !== undefined && !Object.hasOwn(frame.num, label) && !Object.hasOwn(frame.cat, label)) {
    throw new EdgeloopError('BAD_DATA', `frame has no label column '${label}' (input.label.column)`);
  }
}

export function fitPipeline(frame: Frame, specInput: unknown, options: FitOptions = {}): { fitted: FittedPipeline; matrix: FeatureMatrix; report: FitReport } {
  const spec = validatePipelineSpec(specInput);
  const log = (options.logger ?? silentLogger).child('pipeline');
  checkInputColumns(frame, spec, true);
  if (spec.select.some((s) => s.type === 'rfe') && !options.rfeModel) throw new EdgeloopError('BAD_ARGUMENT', 'options.rfeModel is required: the spec has an rfe selection step');

  const sorted = sortFrame(frame);
  const splits = assignSplits(sorted, spec);
  const names = splitNames(spec.split);
  const starts = runStarts(sorted, splits);
  const report: FitReport = { rowsIn: frame.ts.length, rowsPerSplit: {}, rowsUnassigned: splits.filter((s) => s === null).length, clean: {}, skippedReadings: {}, featureRows: {}, droppedUnlabeled: 0, selection: [], columns: [] };
  const rowsBySplit = new Map<string, number[]>(names.map((n) => [n, []]));
  splits.forEach((s, i) => {
    if (s !== null) rowsBySplit.get(s)!.push(i);
  });
  for (const n of names) report.rowsPerSplit[n] = rowsBySplit.get(n)!.length;
  const trainRows = rowsBySplit.get(spec.trainSplit)!;
  if (trainRows.length === 0) throw new EdgeloopError('BAD_DATA', `split '${spec.trainSplit}' (trainSplit) has no rows; rows per split: ${JSON.stringify(report.rowsPerSplit)}`);

  // Clean: fit on train, replay on the others.
  const steps = spec.clean as CleanStep[];
  const fittedClean = fitClean(takeRows(sorted, trainRows), steps);
  const cleanState: CleanState = fittedClean.state;
  const cleaned = new Map<string, Frame>();
  for (const n of names) {
    if (n === spec.trainSplit) {
      cleaned.set(n, fittedClean.frame);
      report.clean[n] = fittedClean.report;
    } else if (rowsBySplit.get(n)!.length > 0) {
      const r = applyClean(takeRows(sorted, rowsBySplit.get(n)!), steps, cleanState);
      cleaned.set(n, r.frame);
      report.clean[n] = r.report;
    }
  }

  // Base features per split, windows confined to each split's runs.
  const base = baseColumns(spec.features, spec.input.sensors);
  const X: number[][] = [];
  const ts: number[] = [];
  const device: string[] = [];
  const split: string[] = [];
  const rawLabel: (number | string | null)[] = [];
  for (const n of names) {
    const f = cleaned.get(n);
    if (!f) {
      report.featureRows[n] = 0;
      continue;
    }
    const sf = sortFrame(f);
    const rows = extractBase(sf, spec, runBreaks(sf, starts.get(n)));
    report.skippedReadings[n] = rows.skippedReadings;
    const labels = spec.input.label ? labelValues(sf, spec.input.label.column) : null;
    rows.X.forEach((x, k) => {
      X.push(x);
      ts.push(rows.ts[k]);
      device.push(rows.device[k]);
      split.push(n);
      rawLabel.push(labels ? labels[rows.sourceRow[k]] : null);
    });
  }

  // Labels: fixed class list from the spec, else the train classes.
  const label = spec.input.label;
  const classes = label?.task === 'classification' ? (label.classes ?? inferClasses(rawLabel.filter((_, i) => split[i] === spec.trainSplit).map(classKey))) : undefined;
  let keep = X.map(() => true);
  let y: number[] | undefined;
  if (label) {
    const t = rawLabel.map((v) => target(v, label, classes));
    keep = t.map((v) => v !== null);
    report.droppedUnlabeled = keep.filter((k) => !k).length;
    y = t.filter((v): v is number => v !== null);
  }
  const filt = <T>(xs: T[]): T[] => xs.filter((_, i) => keep[i]);
  const Xk = filt(X);
  const tsk = filt(ts);
  const devk = filt(device);
  const splitk = filt(split);
  const isTrain = splitk.map((s) => s === spec.trainSplit);
  if (!isTrain.some(Boolean)) throw new EdgeloopError('BAD_DATA', `split '${spec.trainSplit}' produced no labelled feature rows (windows too long for the data, or every label missing)`);

  // Derived features, fitted on train rows.
  let cols = base;
  const derived: DerivedState[] = [];
  const derivedCols: string[][] = [];
  for (const d of spec.features.derived) {
    const state = fitDerived(d, cols, Xk, devk, isTrain);
    Xk.forEach((row, i) => appendDerived(state, cols, row, devk[i]));
    cols = [...cols, ...derivedColumns(state)];
    derived.push(state);
    derivedCols.push(cols);
  }

  // Selection on train rows.
  const Xtrain = Xk.filter((_, i) => isTrain[i]);
  const ytrain = y?.filter((_, i) => isTrain[i]);
  let selected = cols.map((_, j) => j);
  for (const s of spec.select) {
    const sub = Xtrain.map((r) => selected.map((j) => r[j]));
    let idx: number[];
    switch (s.type) {
      case 'variance': idx = varianceThreshold(sub, s.threshold); break;
      case 'correlation': idx = correlationFilter(sub, s.maxAbsR); break;
      case 'mutual-info': idx = mutualInfoSelect(sub, ytrain!, s.bins, Math.min(s.keep, selected.length)); break;
      case 'rfe': idx = recursiveElimination(sub, ytrain!, Math.min(s.keep, selected.length), s.step, options.rfeModel!); break;
      default: {
        const never: never = s;
        throw new Error(`unreachable select ${String(never)}`);
      }
    }
    if (idx.length === 0) throw new EdgeloopError('BAD_DATA', `select step '${s.type}' removed every feature on the train split`);
    selected = idx.map((i) => selected[i]);
    report.selection.push({ step: s.type, kept: selected.map((j) => cols[j]) });
  }

  const scaler = fitScaler(Xtrain.map((r) => selected.map((j) => r[j])), spec.scale);
  const columns = selected.map((j) => cols[j]);
  const out = Xk.map((r, i) => {
    const row = selected.map((j) => r[j]);
    scaleRow(row, scaler);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new EdgeloopError('BAD_DATA', `feature '${columns[bad]}' is not finite (${row[bad]}) for device '${devk[i]}' at ${new Date(tsk[i]).toISOString()}`);
    return row;
  });
  report.columns = columns;
  for (const n of names) report.featureRows[n] = splitk.filter((s) => s === n).length;
  const fitted: FittedPipeline = {
    version: 1,
    specHash: specHash(spec),
    clean: cleanState,
    baseColumns: base,
    derived,
    derivedColumns: derivedCols,
    selected,
    columns,
    scaler,
    ...(label ? { label: { column: label.column, task: label.task, ...(classes ? { classes } : {}) } } : {}),
  };
  log.info(() => `fitted ${columns.length} features on ${report.featureRows[spec.trainSplit]} train rows`, { featureRows: report.featureRows });
  return { fitted, matrix: { columns, X: out, ...(y ? { y } : {}), ts: tsk, device: devk, split: splitk }, report };
}
