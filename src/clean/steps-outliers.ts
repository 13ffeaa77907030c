/** Outlier steps fitted on training data: z-score, IQR, percentile winsorizing, log transform. */
import { withNum } from './frame-ops.ts';
import { mean, present, quantileSorted, std } from './stats.ts';
import type { StepImpl } from './step-impl.ts';
import { boundColumn } from './steps-values.ts';

const sortedPresent = (values: readonly (number | null)[]): number[] => Array.from(Float64Array.from(present(values)).sort());

export const zscore: StepImpl<'zscore'> = {
  fit(frame, step) {
    const stats: Record<string, { mean: number; std: number } | null> = {};
    for (const column of step.columns) {
      const xs = present(frame.num[column]);
      const m = mean(xs);
      const s = std(xs);
      // A constant (or empty) training column defines no outliers.
      stats[column] = m === null || s === null || s === 0 ? null : { mean: m, std: s };
    }
    return { op: 'zscore', stats };
  },
  apply(frame, step, state, rec) {
    let out = frame;
    for (const column of step.columns) {
      const s = state.stats[column];
      if (s === null || s === undefined) continue;
      out = boundColumn(out, column, s.mean - step.k * s.std, s.mean + step.k * s.std, step.action, rec);
    }
    return out;
  },
};

export const iqr: StepImpl<'iqr'> = {
  fit(frame, step) {
    const bounds: StateByOpIqr = {};
    for (const column of step.columns) {
      const xs = sortedPresent(frame.num[column]);
      const q1 = quantileSorted(xs, 0.25);
      const q3 = quantileSorted(xs, 0.75);
      bounds[column] = q1 === null || q3 === null ? null : { q1, q3, lower: q1 - step.k * (q3 - q1), upper: q3 + step.k * (q3 - q1) };
    }
    return { op: 'iqr', bounds };
  },
  apply(frame, step, state, rec) {
    let out = frame;
    for (const column of step.columns) {
      const b = state.bounds[column];
      if (b === null || b === undefined) continue;
      out = boundColumn(out, column, b.lower, b.upper, step.action, rec);
    }
    return out;
  },
};
type StateByOpIqr = Record<string, { q1: number; q3: number; lower: number; upper: number } | null>;

export const winsorize: StepImpl<'winsorize'> = {
  fit(frame, step) {
    const bounds: Record<string, { lower: number; upper: number } | null> = {};
    for (const column of step.columns) {
      const xs = sortedPresent(frame.num[column]);
      const lower = quantileSorted(xs, step.lower);
      const upper = quantileSorted(xs, step.upper);
      bounds[column] = lower === null || upper === null ? null : { lower, upper };
    }
    return { op: 'winsorize', bounds };
  },
  apply(frame, step, state, rec) {
    let out = frame;
    for (const column of step.columns) {
      const b = state.bounds[column];
      if (b === null || b === undefined) continue;
      out = boundColumn(out, column, b.lower, b.upper, 'clip', rec);
    }
    return out;
  },
};

export const log: StepImpl<'log'> = {
  fit(frame, step) {
    const shift: Record<string, number> = {};
    for (const column of step.columns) {
      let min = 0;
      for (const v of frame.num[column]) if (v !== null && v < min) min = v;
      shift[column] = step.negative === 'shift' ? -min : 0;
    }
    return { op: 'log', shift };
  },
  apply(frame, step, state, rec) {
    let out = frame;
    for (const column of step.columns) {
      const shift = state.shift[column] ?? 0;
      let converted = 0;
      let nulled = 0;
      const values = frame.num[column].map((v) => {
        if (v === null) return null;
        switch (step.negative) {
          case 'signed':
            converted++;
            return Math.sign(v) * Math.log1p(Math.abs(v));
          case 'null':
          case 'shift': {
            // 'shift' makes the training minimum 0; newer data below it has no defined value.
            const x = v + shift;
            if (x < 0) {
              nulled++;
              return null;
            }
            converted++;
            return Math.log1p(x);
          }
          default: {
            const never: never = step.negative;
            throw new Error(`unhandled negative policy ${String(never)}`);
          }
        }
      });
      rec.count(column, 'converted', converted);
      rec.count(column, 'nulled', nulled);
      out = withNum(out, column, values);
    }
    return out;
  },
};
