/**
 * The tabular shapes that flow through the data pipeline. Pure data, no methods, so they
 * serialize as JSON and the gateway and the device handle the same thing.
 */

/** A columnar table of readings, one row per (device, timestamp). Missing values are `null`. */
export interface Frame {
  /** Epoch milliseconds, UTC, one per row. */
  ts: number[];
  /** The series key of each row (the device id; for multi-fleet data `fleet/device`). */
  device: string[];
  /** Numeric columns by name, each as long as `ts`. */
  num: Record<string, (number | null)[]>;
  /** Categorical columns by name, each as long as `ts`. */
  cat: Record<string, (string | null)[]>;
}

/** A feature matrix: one row per window (or per reading when no windowing is configured). */
export interface FeatureMatrix {
  /** Feature names, in column order. */
  columns: string[];
  /** Row-major values; `NaN` never appears after a fitted pipeline. */
  X: number[][];
  /** Targets (class index for classification, value for regression), when a label is configured. */
  y?: number[];
  /** Epoch ms of the last reading in each row's window. */
  ts: number[];
  /** Series key of each row. */
  device: string[];
  /** Split name of each row (e.g. 'train', 'val', 'test'), when splits are assigned. */
  split?: string[];
}

export function frameLength(frame: Frame): number {
  return frame.ts.length;
}

export function emptyFrame(): Frame {
  return { ts: [], device: [], num: {}, cat: {} };
}
