/**
 * Feature scaling, fitted on the train rows only. Every scaler is stored as the same affine map
 * x' = (x − center) · factor + offset per column, so the device applies any of them with one loop
 * and the fitted parameters are plain JSON.
 *
 * - standard: center = mean, factor = 1/std (ddof 0, as scikit-learn's StandardScaler)
 * - minmax:   maps the train [min, max] to [rangeMin, rangeMax]
 * - robust:   center = median, factor = 1/(q75 − q25) (linear-interpolated quantiles, numpy default)
 * A constant column has its spread taken as 1 (as scikit-learn) instead of a division by zero.
 */
import { EdgeloopError } from '../errors.ts';

export type ScalerSpec =
  | { type: 'none' }
  | { type: 'standard' }
  | { type: 'minmax'; rangeMin: number; rangeMax: number }
  | { type: 'robust'; quantileLow: number; quantileHigh: number };

export interface ScalerParams {
  type: ScalerSpec['type'];
  center: number[];
  factor: number[];
  offset: number[];
}

/** Linear-interpolated quantile of sorted values (numpy `percentile` default method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function column(X: readonly (readonly number[])[], j: number): Float64Array {
  const c = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) c[i] = X[i][j];
  return c;
}

export function fitScaler(X: readonly (readonly number[])[], spec: ScalerSpec): ScalerParams {
  const width = X.length > 0 ? X[0].length : 0;
  if (spec.type !== 'none' && X.length === 0) throw new EdgeloopError('BAD_DATA', `fitScaler: X must have at least one row to fit a '${spec.type}' scaler`);
  const center = new Array<number>(width).fill(0);
  const factor = new Array<number>(width).fill(1);
  const offset = new Array<number>(width).fill(0);
  for (let j = 0; j < width; j++) {
    const c = column(X, j);
    for (let i = 0; i < c.length; i++) {
      if (!Number.isFinite(c[i])) throw new EdgeloopError('BAD_DATA', `fitScaler: X[${i}][${j}] must be finite, got ${c[i]}`);
    }
    switch (spec.type) {
      case 'none':
        break;
      case 'standard': {
        let m = 0;
        for (const v of c) m += v;
        m /= c.length;
        let ss = 0;
        for (const v of c) ss += (v - m) * (v - m);
        const sd = Math.sqrt(ss / c.length);
        center[j] = m;
        factor[j] = sd > 0 ? 1 / sd : 1;
        break;
      }
      case 'minmax': {
        let mn = Infinity;
        let mx = -Infinity;
        for (const v of c) {
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        center[j] = mn;
        factor[j] = (spec.rangeMax - spec.rangeMin) / (mx > mn ? mx - mn : 1);
        offset[j] = spec.rangeMin;
        break;
      }
      case 'robust': {
        const s = c.sort();
        const iqr = quantileSorted(s, spec.quantileHigh) - quantileSorted(s, spec.quantileLow);
        center[j] = quantileSorted(s, 0.5);
        factor[j] = iqr > 0 ? 1 / iqr : 1;
        break;
      }
      default: {
        const never: never = spec;
        throw new Error(`unreachable scaler ${String(never)}`);
      }
    }
  }
  return { type: spec.type, center, factor, offset };
}

/** Scales one row in place. */
export function scaleRow(row: number[] | Float64Array, params: ScalerParams): void {
  if (row.length !== params.center.length) throw new EdgeloopError('BAD_ARGUMENT', `scaleRow: row must have ${params.center.length} values, got ${row.length}`);
  for (let j = 0; j < row.length; j++) row[j] = (row[j] - params.center[j]) * params.factor[j] + params.offset[j];
}

/** Scales a copy of X. */
export function applyScaler(X: readonly (readonly number[])[], params: ScalerParams): number[][] {
  return X.map((r) => {
    const row = [...r];
    scaleRow(row, params);
    return row;
  });
}
