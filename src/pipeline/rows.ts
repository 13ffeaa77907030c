/**
 * Row plumbing for the pipeline: ordering frames by (device, time), taking row subsets, assigning
 * splits, and finding where one split's contiguous runs start so windows never cross a boundary.
 */
import { EdgeloopError } from '../errors.ts';
import type { Frame } from '../frame.ts';
import { randomSplit, stratifiedSplit, timeRangeSplit, timeSplit } from '../split/assign.ts';
import { splitNames, splitRangesMs, type PipelineSpec } from './spec.ts';

export function takeRows(frame: Frame, rows: readonly number[]): Frame {
  const num: Frame['num'] = {};
  const cat: Frame['cat'] = {};
  for (const [k, v] of Object.entries(frame.num)) num[k] = rows.map((i) => v[i]);
  for (const [k, v] of Object.entries(frame.cat)) cat[k] = rows.map((i) => v[i]);
  return { ts: rows.map((i) => frame.ts[i]), device: rows.map((i) => frame.device[i]), num, cat };
}

/** Stable order by device (code-unit order), then timestamp. */
export function sortedOrder(frame: Frame): number[] {
  return Array.from({ length: frame.ts.length }, (_, i) => i).sort((a, b) => {
    const da = frame.device[a];
    const db = frame.device[b];
    if (da !== db) return da < db ? -1 : 1;
    return frame.ts[a] - frame.ts[b] || a - b;
  });
}

export function sortFrame(frame: Frame): Frame {
  const order = sortedOrder(frame);
  return order.every((v, i) => v === i) ? frame : takeRows(frame, order);
}

/** Raw label value of a row as a class key / number source: numbers and strings; null when missing. */
export function labelValues(frame: Frame, column: string): (number | string | null)[] {
  if (Object.hasOwn(frame.num, column)) return frame.num[column];
  if (Object.hasOwn(frame.cat, column)) return frame.cat[column];
  throw new EdgeloopError('BAD_DATA', `frame has no label column '${column}' (neither numeric nor categorical)`);
}

/** One split name (or null: in no split) per row of a frame sorted by sortFrame. */
export function assignSplits(frame: Frame, spec: PipelineSpec): (string | null)[] {
  const split = spec.split;
  const n = frame.ts.length;
  switch (split.type) {
    case 'none': return new Array<string | null>(n).fill(splitNames(split)[0]);
    case 'random': return randomSplit(n, split.parts, split.seed);
    case 'stratified': {
      const labels = labelValues(frame, spec.input.label!.column);
      return stratifiedSplit(labels, split.parts, split.seed);
    }
    case 'time': return timeSplit(frame.ts, split.parts, split.gapMs);
    case 'time-ranges': return timeRangeSplit(frame.ts, splitRangesMs(split));
    default: {
      const never: never = split;
      throw new Error(`unreachable split ${String(never)}`);
    }
  }
}

/**
 * Start times of the contiguous runs of each split, per device, in a sorted frame. A run is a
 * maximal sequence of consecutive readings of one device with the same split; windows must stay
 * inside one run, even after cleaning adds or drops rows.
 */
export type RunStarts = Map<string, Map<string, number[]>>;

export function runStarts(frame: Frame, splits: readonly (string | null)[]): RunStarts {
  const out: RunStarts = new Map();
  for (let i = 0; i < frame.ts.length; i++) {
    const s = splits[i];
    if (s === null) continue;
    const newRun = i === 0 || frame.device[i] !== frame.device[i - 1] || splits[i - 1] !== s;
    if (!newRun) continue;
    let byDevice = out.get(s);
    if (!byDevice) out.set(s, (byDevice = new Map()));
    let starts = byDevice.get(frame.device[i]);
    if (!starts) byDevice.set(frame.device[i], (starts = []));
    starts.push(frame.ts[i]);
  }
  return out;
}

/** breakBefore per row of a sorted split frame: true where the row belongs to a later run than its predecessor. */
export function runBreaks(frame: Frame, starts: Map<string, number[]> | undefined): boolean[] {
  const runOf = (device: string, ts: number): number => {
    const s = starts?.get(device);
    if (!s) return 0;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= ts) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  };
  const out = new Array<boolean>(frame.ts.length).fill(false);
  let prevRun = -1;
  for (let i = 0; i < frame.ts.length; i++) {
    const run = runOf(frame.device[i], frame.ts[i]);
    out[i] = i > 0 && frame.device[i] === frame.device[i - 1] && run !== prevRun;
    prevRun = run;
  }
  return out;
}
