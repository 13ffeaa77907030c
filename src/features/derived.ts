/**
 * Features derived from other feature columns, after windows and dates:
 * - polynomial (degree 2): every pairwise product `a*b` (a before b in column order) and, unless
 *   `interactionOnly`, every square `a^2`;
 * - device mean: the per-device mean of a column over the TRAIN rows (`<col>__device_mean`), with
 *   the train mean over all devices for devices never seen in training. Fitted state is plain JSON.
 */
import { EdgeloopError } from '../errors.ts';

export type DerivedSpec =
  | { type: 'polynomial'; columns: string[]; interactionOnly: boolean }
  | { type: 'device-mean'; columns: string[] };

export interface DeviceMeanState {
  type: 'device-mean';
  columns: string[];
  /** device → mean per column (in `columns` order). */
  byDevice: Record<string, number[]>;
  overall: number[];
}

export interface PolynomialState {
  type: 'polynomial';
  columns: string[];
  interactionOnly: boolean;
}

export type DerivedState = PolynomialState | DeviceMeanState;

export function derivedColumns(state: DerivedState): string[] {
  switch (state.type) {
    case 'polynomial': {
      const out: string[] = [];
      const c = state.columns;
      for (let i = 0; i < c.length; i++) {
        if (!state.interactionOnly) out.push(`${c[i]}^2`);
        for (let j = i + 1; j < c.length; j++) out.push(`${c[i]}*${c[j]}`);
      }
      return out;
    }
    case 'device-mean':
      return state.columns.map((c) => `${c}__device_mean`);
    default: {
      const never: never = state;
      throw new Error(`unreachable derived state ${String(never)}`);
    }
  }
}

function indicesOf(columns: readonly string[], wanted: readonly string[], where: string): number[] {
  return wanted.map((w) => {
    const i = columns.indexOf(w);
    if (i < 0) throw new EdgeloopError('BAD_SPEC', `${where}: column '${w}' is not a feature; available: ${columns.join(', ')}`);
    return i;
  });
}

/** Fits a derived feature on the train rows (`isTrain[i]`). */
export function fitDerived(spec: DerivedSpec, columns: readonly string[], X: readonly (readonly number[])[], device: readonly string[], isTrain: readonly boolean[]): DerivedState {
  switch (spec.type) {
    case 'polynomial':
      indicesOf(columns, spec.columns, 'polynomial');
      return { type: 'polynomial', columns: [...spec.columns], interactionOnly: spec.interactionOnly };
    case 'device-mean': {
      const idx = indicesOf(columns, spec.columns, 'device-mean');
      const sums = new Map<string, { n: number; s: number[] }>();
      const overall = new Array<number>(idx.length).fill(0);
      let total = 0;
      X.forEach((row, i) => {
        if (!isTrain[i]) return;
        let acc = sums.get(device[i]);
        if (!acc) sums.set(device[i], (acc = { n: 0, s: new Array<number>(idx.length).fill(0) }));
        acc.n++;
        total++;
        idx.forEach((c, k) => {
          acc.s[k] += row[c];
          overall[k] += row[c];
        });
      });
      if (total === 0) throw new EdgeloopError('BAD_DATA', 'device-mean: the train split has no rows to fit on');
      const byDevice: Record<string, number[]> = {};
      for (const [d, acc] of [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) byDevice[d] = acc.s.map((s) => s / acc.n);
      return { type: 'device-mean', columns: [...spec.columns], byDevice, overall: overall.map((s) => s / total) };
    }
    default: {
      const never: never = spec;
      throw new Error(`unreachable derived spec ${String(never)}`);
    }
  }
}

/** Appends the derived values of one row (given its current columns) to `row`. */
export function appendDerived(state: DerivedState, columns: readonly string[], row: number[], device: string): void {
  switch (state.type) {
    case 'polynomial': {
      const idx = indicesOf(columns, state.columns, 'polynomial');
      for (let i = 0; i < idx.length; i++) {
        if (!state.interactionOnly) row.push(row[idx[i]] * row[idx[i]]);
        for (let j = i + 1; j < idx.length; j++) row.push(row[idx[i]] * row[idx[j]]);
      }
      return;
    }
    case 'device-mean': {
      const means = Object.hasOwn(state.byDevice, device) ? state.byDevice[device] : state.overall;
      for (const m of means) row.push(m);
      return;
    }
    default: {
      const never: never = state;
      throw new Error(`unreachable derived state ${String(never)}`);
    }
  }
}
