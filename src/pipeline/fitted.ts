/**
 * The fitted pipeline: everything learned on the train split, as plain JSON, so the gateway can
 * store it next to a model and the device can rebuild the exact feature rows from it.
 */
import type { CleanState } from '../clean/index.ts';
import type { DerivedState } from '../features/derived.ts';
import type { ScalerParams } from '../scale/scaler.ts';

export interface FittedPipeline {
  version: 1;
  /** sha256 of the canonical JSON of the spec with defaults applied; transform refuses other specs. */
  specHash: string;
  clean: CleanState;
  /** Window and date feature names, in row order. */
  baseColumns: string[];
  derived: DerivedState[];
  /** Column names after each derived step (cumulative), parallel to `derived`. */
  derivedColumns: string[][];
  /** Indices (into the columns after all derived steps) kept by selection, ascending. */
  selected: number[];
  /** Final feature names, in row order. */
  columns: string[];
  scaler: ScalerParams;
  label?: { column: string; task: 'classification' | 'regression'; classes?: string[] };
}
