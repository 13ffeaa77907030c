/**
 * Resampling to a regular time grid per device. Bins are [t, t + intervalMs) aligned to the epoch
 * (pandas resample with origin 'epoch'; for intervals dividing a day this equals the default
 * 'start_day'). Every bin between a device's first and last reading becomes a row; empty bins stay
 * null unless `fill` is set and the outage around them is at most `maxGapMs`.
 */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { deviceGroups } from './frame-ops.ts';
import type { StepImpl } from './step-impl.ts';

/** A guard against a unit mix-up (seconds for ms) exploding one device into billions of bins. */
export const MAX_RESAMPLE_BINS = 5_000_000;

type Agg = 'mean' | 'last' | 'first' | 'min' | 'max';

function aggregate(values: readonly (number | null)[], rows: readonly number[], agg: Agg): number | null {
  let out: number | null = null;
  let sum = 0;
  let n = 0;
  for (const i of rows) {
    const v = values[i];
    if (v === null) continue;
    n++;
    sum += v;
    if (out === null) out = v;
    else if (agg === 'last') out = v;
    else if (agg === 'min') out = Math.min(out, v);
    else if (agg === 'max') out = Math.max(out, v);
  }
  if (agg === 'mean') return n === 0 ? null : sum / n;
  return out;
}

/** Fills null bins bracketed by real bins at most `maxGapMs` apart; returns how many were filled. */
function fillBins<T extends number | string>(values: (T | null)[], binTs: readonly number[], maxGapMs: number, linear: boolean): number {
  let prev = -1;
  let filled = 0;
  for (let b = 0; b < values.length; b++) {
    if (values[b] === null) continue;
    if (prev >= 0 && b - prev > 1 && binTs[b] - binTs[prev] <= maxGapMs) {
      for (let q = prev + 1; q < b; q++) {
        const va = values[prev] as T;
        const vb = values[b] as T;
        values[q] = linear && typeof va === 'number' && typeof vb === 'number' ? ((va + ((vb - va) * (q - prev)) / (b - prev)) as T) : va;
        filled++;
      }
    }
    prev = b;
  }
  return filled;
}

export const resample: StepImpl<'resample'> = {
  fit: () => null,
  apply(frame, step, _state, rec) {
    const out: Frame = { ts: [], device: [], num: {}, cat: {} };
    const numNames = Object.keys(frame.num);
    const catNames = Object.keys(frame.cat);
    for (const c of numNames) out.num[c] = [];
    for (const c of catNames) out.cat[c] = [];
    const interval = step.intervalMs;
    const groups = deviceGroups(frame);
    const totalBins = groups.reduce((s, g) => s + (g.length === 0 ? 0 : Math.floor(frame.ts[g[g.length - 1]] / interval) - Math.floor(frame.ts[g[0]] / interval) + 1), 0);
    if (totalBins > MAX_RESAMPLE_BINS) {
      throw new EdgeloopError('BAD_DATA', `resample: intervalMs ${interval} would make ${totalBins} rows (limit ${MAX_RESAMPLE_BINS}); is intervalMs in milliseconds?`);
    }
    for (const g of groups) {
      const first = Math.floor(frame.ts[g[0]] / interval);
      const nBins = Math.floor(frame.ts[g[g.length - 1]] / interval) - first + 1;
      const members: number[][] = Array.from({ length: nBins }, () => []);
      for (const i of g) members[Math.floor(frame.ts[i] / interval) - first].push(i);
      const binTs = members.map((_, b) => (first + b) * interval);
      const device = frame.device[g[0]];
      for (const t of binTs) {
        out.ts.push(t);
        out.device.push(device);
      }
      for (const c of numNames) {
        const values = members.map((rows) => aggregate(frame.num[c], rows, step.agg));
        if (step.fill !== 'none' && step.maxGapMs !== undefined) {
          rec.count(c, step.fill === 'linear' ? 'interpolated' : 'filled', fillBins(values, binTs, step.maxGapMs, step.fill === 'linear'));
        }
        rec.count(c, 'missing', values.filter((v) => v === null).length);
        for (const v of values) out.num[c].push(v);
      }
      for (const c of catNames) {
        // Categories have no mean: the last reading of the bin stands for it.
        const values = members.map((rows) => {
          let last: string | null = null;
          for (const i of rows) if (frame.cat[c][i] !== null) last = frame.cat[c][i];
          return last;
        });
        if (step.fill !== 'none' && step.maxGapMs !== undefined) rec.count(c, 'filled', fillBins(values, binTs, step.maxGapMs, false));
        rec.count(c, 'missing', values.filter((v) => v === null).length);
        for (const v of values) out.cat[c].push(v);
      }
    }
    rec.report.rowsOut = out.ts.length;
    return out;
  },
};
