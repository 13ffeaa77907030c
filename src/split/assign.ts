/**
 * Row-level split assignment. Every function returns one split name per row, or null for rows
 * that belong to no split (a time gap, a row outside every named range). Deterministic: random
 * and stratified splits take a seed for the shared PRNG (src/random.ts).
 */
import { EdgeloopError } from '../errors.ts';
import { createRandom, shuffleInPlace } from '../random.ts';

/** A named share of the rows, e.g. { name: 'train', fraction: 0.7 }. Order matters for time splits. */
export interface SplitPart {
  name: string;
  fraction: number;
}

/** The default 70/15/15 split. */
export const DEFAULT_PARTS: readonly SplitPart[] = [
  { name: 'train', fraction: 0.7 },
  { name: 'val', fraction: 0.15 },
  { name: 'test', fraction: 0.15 },
];

/** A named half-open time range [startMs, endMs) of epoch milliseconds. */
export interface TimeRange {
  name: string;
  startMs: number;
  endMs: number;
}

export function checkParts(parts: readonly SplitPart[], argument = 'parts'): void {
  if (parts.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `${argument} must name at least one split`);
  const names = new Set<string>();
  let total = 0;
  for (const p of parts) {
    if (!(p.fraction > 0 && p.fraction <= 1)) throw new EdgeloopError('BAD_ARGUMENT', `${argument}: fraction of '${p.name}' must be in (0, 1], got ${p.fraction}`);
    if (names.has(p.name)) throw new EdgeloopError('BAD_ARGUMENT', `${argument}: split name '${p.name}' appears twice`);
    names.add(p.name);
    total += p.fraction;
  }
  if (Math.abs(total - 1) > 1e-9) throw new EdgeloopError('BAD_ARGUMENT', `${argument}: fractions must sum to 1, got ${total}`);
}

/** Row counts per part summing to n, by largest remainder (ties: earlier part). */
export function partCounts(n: number, parts: readonly SplitPart[]): number[] {
  const exact = parts.map((p) => p.fraction * n);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k].i]++;
  return counts;
}

/** Shuffles rows with the seed and cuts them by the part fractions. */
export function randomSplit(n: number, parts: readonly SplitPart[], seed: number): (string | null)[] {
  checkParts(parts);
  const idx = shuffleInPlace(Array.from({ length: n }, (_, i) => i), createRandom(seed));
  const out = new Array<string | null>(n).fill(null);
  const counts = partCounts(n, parts);
  let k = 0;
  parts.forEach((p, pi) => {
    for (let c = 0; c < counts[pi]; c++) out[idx[k++]] = p.name;
  });
  return out;
}

/** Like randomSplit, but within each label class, so every split keeps the class shares. */
export function stratifiedSplit(labels: readonly (string | number | null)[], parts: readonly SplitPart[], seed: number): (string | null)[] {
  checkParts(parts);
  const out = new Array<string | null>(labels.length).fill(null);
  const byClass = new Map<string, number[]>();
  labels.forEach((l, i) => {
    if (l === null) throw new EdgeloopError('BAD_DATA', `stratified split: label of row ${i} is missing`);
    const key = String(l);
    let rows = byClass.get(key);
    if (!rows) byClass.set(key, (rows = []));
    rows.push(i);
  });
  const random = createRandom(seed);
  for (const key of [...byClass.keys()].sort()) {
    const rows = shuffleInPlace(byClass.get(key)!, random);
    const counts = partCounts(rows.length, parts);
    let k = 0;
    parts.forEach((p, pi) => {
      for (let c = 0; c < counts[pi]; c++) out[rows[k++]] = p.name;
    });
  }
  return out;
}

/**
 * Time-ordered split: rows sorted by time (all devices together) are cut in part order, so every
 * val row is later than every train row. Rows of a later part within `gapMs` after the last row of
 * the previous part are dropped (null), so windows and autocorrelation do not leak across the cut.
 */
export function timeSplit(tsMs: readonly number[], parts: readonly SplitPart[], gapMs = 0): (string | null)[] {
  checkParts(parts);
  if (!(gapMs >= 0)) throw new EdgeloopError('BAD_ARGUMENT', `gapMs must be ≥ 0, got ${gapMs}`);
  const n = tsMs.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => tsMs[a] - tsMs[b] || a - b);
  const out = new Array<string | null>(n).fill(null);
  const counts = partCounts(n, parts);
  let k = 0;
  let prevEndMs = -Infinity;
  parts.forEach((p, pi) => {
    let lastMs = prevEndMs;
    for (let c = 0; c < counts[pi]; c++, k++) {
      const row = order[k];
      // A row sharing the previous part's last timestamp is dropped too: no instant is in two parts.
      if (tsMs[row] <= prevEndMs + gapMs && pi > 0) continue;
      out[row] = p.name;
      lastMs = tsMs[row];
    }
    prevEndMs = Math.max(prevEndMs, lastMs);
  });
  return out;
}

/** Explicit named time ranges (e.g. a dataset's own train and test periods). Ranges must not overlap. */
export function timeRangeSplit(tsMs: readonly number[], ranges: readonly TimeRange[]): (string | null)[] {
  checkRanges(ranges);
  return tsMs.map((t) => {
    for (const r of ranges) if (t >= r.startMs && t < r.endMs) return r.name;
    return null;
  });
}

export function checkRanges(ranges: readonly TimeRange[], argument = 'ranges'): void {
  if (ranges.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `${argument} must hold at least one range`);
  const sorted = [...ranges].sort((a, b) => a.startMs - b.startMs);
  for (const r of sorted) {
    if (!(r.endMs > r.startMs)) throw new EdgeloopError('BAD_ARGUMENT', `${argument}: range '${r.name}' must have endMs > startMs, got [${r.startMs}, ${r.endMs})`);
  }
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].startMs < sorted[i - 1].endMs) throw new EdgeloopError('BAD_ARGUMENT', `${argument}: ranges '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
  }
}
