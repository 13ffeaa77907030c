/**
 * Fitted state and report shapes of the cleaning steps. Both are plain JSON: the state travels inside
 * a model manifest to the device, the report goes to logs and the training record.
 */
import type { CleanOp } from './spec.ts';

/** What one step did to one column, counted per value (or per row for whole-row effects). */
export type ChangeKind =
  | 'nulled' // a value became null (sentinel, range/outlier 'null', unparseable timestamp)
  | 'imputed' // a null got a value from a fitted statistic or model
  | 'unimputable' // a null stayed null because the model had no inputs for it
  | 'filled' // a null got a neighbour's value (fill, resample fill)
  | 'interpolated' // a null got a time-interpolated value
  | 'clipped' // a value was moved to a bound
  | 'rewritten' // a category string changed (canonical map, regex, ISO normalization)
  | 'converted' // a value changed unit or was log-transformed
  | 'encoded' // a category became numbers
  | 'unseen' // a category not in the training vocabulary
  | 'missing'; // resample: a grid bin with no reading left null

export type ColumnChanges = Partial<Record<ChangeKind, number>>;

export interface StepReport {
  index: number;
  op: CleanOp;
  rowsIn: number;
  rowsOut: number;
  /** Rows removed (dedupe, drop-missing, unparseable row timestamps). Resampling aggregates instead. */
  rowsDropped: number;
  columnsAdded: string[];
  columnsDropped: string[];
  /** Per column, per kind of change, how many values. */
  changes: Record<string, ColumnChanges>;
}

export interface CleanReport {
  rowsIn: number;
  rowsOut: number;
  steps: StepReport[];
}

export interface QuantileBounds {
  lower: number;
  upper: number;
}

/** Fitted state per op; ops without state have none. */
export interface StateByOp {
  'drop-missing': { op: 'drop-missing'; dropColumns: string[] };
  impute: { op: 'impute'; values: Record<string, number | string | null> };
  'knn-impute': {
    op: 'knn-impute';
    /** Distance columns in order; targets are a subset. */
    columns: string[];
    /** Training rows (a stride sample above maxReferenceRows), aligned with `columns`. */
    reference: (number | null)[][];
    /** Train mean per column, used when no neighbour has a value (as scikit-learn does). */
    fallback: (number | null)[];
  };
  'regression-impute': { op: 'regression-impute'; intercept: number; coefficients: number[]; rowsFitted: number };
  zscore: { op: 'zscore'; stats: Record<string, { mean: number; std: number } | null> };
  iqr: { op: 'iqr'; bounds: Record<string, (QuantileBounds & { q1: number; q3: number }) | null> };
  winsorize: { op: 'winsorize'; bounds: Record<string, QuantileBounds | null> };
  log: { op: 'log'; shift: Record<string, number> };
  encode: {
    op: 'encode';
    /** Training categories in code order (sorted); rare ones are folded into the other bucket. */
    vocabulary: string[];
    /** Training share of each vocabulary entry (frequency encoding). */
    shares: number[];
    /** Training share of the other bucket (unseen: 'other' only). */
    otherShare: number;
  };
}
export type StepState = StateByOp[keyof StateByOp];
export type StatefulOp = keyof StateByOp;
export type StateOf<Op extends CleanOp> = Op extends StatefulOp ? StateByOp[Op] : null;

/** The fitted state of a whole step list. `ops` guards against applying it to a different list. */
export interface CleanState {
  version: 1;
  ops: CleanOp[];
  steps: (StepState | null)[];
}
