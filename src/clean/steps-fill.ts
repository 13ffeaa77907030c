/** Missing-value steps driven by statistics or neighbours: impute, fill, interpolate. */
import type { Frame } from '../frame.ts';
import { deviceGroups, withCat, withNum } from './frame-ops.ts';
import { mean, median, mode, present } from './stats.ts';
import { stateless, type StepImpl } from './step-impl.ts';

export const impute: StepImpl<'impute'> = {
  fit(frame, step) {
    const values: Record<string, number | string | null> = {};
    for (const column of step.columns) {
      const num = frame.num[column];
      switch (step.strategy) {
        case 'mean':
          values[column] = mean(present(num));
          break;
        case 'median':
          values[column] = median(present(num));
          break;
        case 'mode':
          values[column] = num !== undefined ? mode(num) : mode(frame.cat[column]);
          break;
        case 'constant':
          values[column] = step.value ?? null;
          break;
        default: {
          const never: never = step.strategy;
          throw new Error(`unhandled strategy ${String(never)}`);
        }
      }
    }
    return { op: 'impute', values };
  },
  apply(frame, step, state, rec) {
    let out = frame;
    for (const column of step.columns) {
      const value = state.values[column];
      const num = frame.num[column];
      const col: readonly (number | string | null)[] = num ?? frame.cat[column];
      let nulls = 0;
      for (const v of col) if (v === null) nulls++;
      if (nulls === 0) continue;
      if (value === null || value === undefined) {
        // The training column had no values at all; nothing sensible to impute.
        rec.count(column, 'unimputable', nulls);
        continue;
      }
      rec.count(column, 'imputed', nulls);
      if (num !== undefined) out = withNum(out, column, num.map((v) => v ?? (value as number)));
      else out = withCat(out, column, frame.cat[column].map((v) => v ?? String(value)));
    }
    return out;
  },
};

/** Copies a column, fills it in place over device groups with `fillGroup`, and counts the fills. */
function fillColumns<T extends number | string>(
  col: readonly (T | null)[],
  groups: number[][],
  fillGroup: (out: (T | null)[], group: number[]) => number,
): { values: (T | null)[]; filled: number } {
  const values = col.slice();
  let filled = 0;
  for (const g of groups) filled += fillGroup(values, g);
  return { values, filled };
}

export const fill: StepImpl<'fill'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const groups = deviceGroups(frame);
    const ts = frame.ts;
    const within = (fromPos: number, toPos: number, fromIdx: number, toIdx: number): boolean =>
      (step.maxRows === undefined || Math.abs(toPos - fromPos) <= step.maxRows) &&
      (step.maxGapMs === undefined || Math.abs(ts[toIdx] - ts[fromIdx]) <= step.maxGapMs);
    // Carries the last real (not itself filled) value along the group, like pandas ffill(limit).
    const fillGroup = <T>(out: (T | null)[], group: number[]): number => {
      const order = step.direction === 'forward' ? group : [...group].reverse();
      let lastPos = -1;
      let n = 0;
      for (let p = 0; p < order.length; p++) {
        const i = order[p];
        if (out[i] !== null) {
          lastPos = p;
        } else if (lastPos >= 0 && within(lastPos, p, order[lastPos], i)) {
          out[i] = out[order[lastPos]];
          n++;
        }
      }
      return n;
    };
    let out = frame;
    for (const column of step.columns) {
      const num = frame.num[column];
      if (num !== undefined) {
        const r = fillColumns(num, groups, fillGroup);
        rec.count(column, 'filled', r.filled);
        if (r.filled > 0) out = withNum(out, column, r.values);
      } else {
        const r = fillColumns(frame.cat[column], groups, fillGroup);
        rec.count(column, 'filled', r.filled);
        if (r.filled > 0) out = withCat(out, column, r.values);
      }
    }
    return out;
  },
};

/**
 * Linear in time between the two real readings bracketing each hole, per device (pandas
 * interpolate(method='time', limit_area='inside')). Leading and trailing holes stay null: there is
 * nothing to interpolate towards, and extrapolating a sensor is inventing data.
 */
export function interpolateColumn(frame: Frame, col: readonly (number | null)[], groups: number[][], maxGapMs: number | undefined): { values: (number | null)[]; filled: number } {
  const values = col.slice();
  let filled = 0;
  for (const g of groups) {
    let prev = -1;
    for (let p = 0; p < g.length; p++) {
      const b = g[p];
      if (values[b] === null) continue;
      if (prev >= 0 && p - prev > 1) {
        const a = g[prev];
        const ta = frame.ts[a];
        const tb = frame.ts[b];
        if (maxGapMs === undefined || tb - ta <= maxGapMs) {
          const va = values[a] as number;
          const vb = values[b] as number;
          for (let q = prev + 1; q < p; q++) {
            const i = g[q];
            values[i] = tb === ta ? va : va + ((vb - va) * (frame.ts[i] - ta)) / (tb - ta);
            filled++;
          }
        }
      }
      prev = p;
    }
  }
  return { values, filled };
}

export const interpolate: StepImpl<'interpolate'> = {
  fit: stateless,
  apply(frame, step, _state, rec) {
    const groups = deviceGroups(frame);
    let out = frame;
    for (const column of step.columns) {
      const r = interpolateColumn(frame, frame.num[column], groups, step.maxGapMs);
      rec.count(column, 'interpolated', r.filled);
      if (r.filled > 0) out = withNum(out, column, r.values);
    }
    return out;
  },
};
