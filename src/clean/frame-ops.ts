/**
 * Small immutable helpers over Frame for the cleaning steps. Steps never mutate their input: they
 * return a new Frame that shares the untouched column arrays.
 */
import type { Frame } from '../frame.ts';
import type { ChangeKind, StepReport } from './types.ts';

/** Keep the rows at `indices` (in that order). */
export function takeRows(frame: Frame, indices: readonly number[]): Frame {
  const pick = <T>(col: readonly T[]): T[] => indices.map((i) => col[i]);
  const num: Frame['num'] = {};
  const cat: Frame['cat'] = {};
  for (const [k, v] of Object.entries(frame.num)) num[k] = pick(v);
  for (const [k, v] of Object.entries(frame.cat)) cat[k] = pick(v);
  return { ts: pick(frame.ts), device: pick(frame.device), num, cat };
}

export function withNum(frame: Frame, column: string, values: (number | null)[]): Frame {
  return { ...frame, num: { ...frame.num, [column]: values } };
}

export function withCat(frame: Frame, column: string, values: (string | null)[]): Frame {
  return { ...frame, cat: { ...frame.cat, [column]: values } };
}

/**
 * Row indices grouped per device, each group sorted by timestamp (stable, so equal timestamps keep
 * their frame order). Fills and interpolation walk these groups so they never cross devices.
 */
export function deviceGroups(frame: Frame): number[][] {
  const groups = new Map<string, number[]>();
  frame.device.forEach((d, i) => {
    const g = groups.get(d);
    if (g === undefined) groups.set(d, [i]);
    else g.push(i);
  });
  const out = [...groups.values()];
  for (const g of out) g.sort((a, b) => frame.ts[a] - frame.ts[b] || a - b);
  return out;
}

/** Collects one step's report while it runs. */
export class StepRecorder {
  readonly report: StepReport;

  constructor(index: number, op: StepReport['op'], rowsIn: number) {
    this.report = { index, op, rowsIn, rowsOut: rowsIn, rowsDropped: 0, columnsAdded: [], columnsDropped: [], changes: {} };
  }

  count(column: string, kind: ChangeKind, n = 1): void {
    if (n === 0) return;
    const c = (this.report.changes[column] ??= {});
    c[kind] = (c[kind] ?? 0) + n;
  }
}
