/**
 * Cross-validation index generators: k-fold, stratified k-fold and time-series (expanding window)
 * folds. Each fold is { train, test } row indices, sorted ascending. Deterministic given the seed.
 */
import { EdgeloopError } from '../errors.ts';
import { createRandom, shuffleInPlace } from '../random.ts';

export interface Fold {
  train: number[];
  test: number[];
}

function checkK(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 2) throw new EdgeloopError('BAD_ARGUMENT', `k must be an integer ≥ 2, got ${k}`);
  if (k > n) throw new EdgeloopError('BAD_ARGUMENT', `k must be ≤ the number of rows (${n}), got ${k}`);
}

function foldsFromAssignment(fold: number[], k: number): Fold[] {
  const out: Fold[] = Array.from({ length: k }, () => ({ train: [], test: [] }));
  fold.forEach((f, i) => {
    for (let j = 0; j < k; j++) (j === f ? out[j].test : out[j].train).push(i);
  });
  return out;
}

/** k folds of (almost) equal size; rows are shuffled with `seed` unless `shuffle` is false. */
export function kFold(n: number, k: number, options: { seed?: number; shuffle?: boolean } = {}): Fold[] {
  checkK(k, n);
  const idx = Array.from({ length: n }, (_, i) => i);
  if (options.shuffle !== false) shuffleInPlace(idx, createRandom(options.seed ?? 0));
  const fold = new Array<number>(n);
  // sklearn's sizes: the first n % k folds get one extra row.
  let pos = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    for (let c = 0; c < size; c++) fold[idx[pos++]] = f;
  }
  return foldsFromAssignment(fold, k);
}

/** k folds that each keep the class shares: each class is shuffled and dealt round-robin. */
export function stratifiedKFold(labels: readonly (string | number)[], k: number, seed = 0): Fold[] {
  checkK(k, labels.length);
  const byClass = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const key = String(l);
    let rows = byClass.get(key);
    if (!rows) byClass.set(key, (rows = []));
    rows.push(i);
  });
  const random = createRandom(seed);
  const fold = new Array<number>(labels.length);
  let offset = 0;
  for (const key of [...byClass.keys()].sort()) {
    const rows = shuffleInPlace(byClass.get(key)!, random);
    // Continue the deal where the previous class stopped so fold sizes stay balanced overall.
    rows.forEach((r, j) => (fold[r] = (offset + j) % k));
    offset = (offset + rows.length) % k;
  }
  return foldsFromAssignment(fold, k);
}

/**
 * Time-series folds over rows already ordered by time (sklearn TimeSeriesSplit): fold i tests the
 * (i+1)-th of k+1 consecutive blocks and trains on everything before it, minus `gap` rows before
 * the test block; `maxTrainSize` keeps only the most recent training rows.
 */
export function timeSeriesFolds(n: number, k: number, options: { gap?: number; maxTrainSize?: number; testSize?: number } = {}): Fold[] {
  if (!Number.isInteger(k) || k < 2) throw new EdgeloopError('BAD_ARGUMENT', `k must be an integer ≥ 2, got ${k}`);
  const gap = options.gap ?? 0;
  if (!Number.isInteger(gap) || gap < 0) throw new EdgeloopError('BAD_ARGUMENT', `gap must be an integer ≥ 0, got ${gap}`);
  const testSize = options.testSize ?? Math.floor(n / (k + 1));
  if (testSize < 1 || n - gap - testSize * k < 1) {
    throw new EdgeloopError('BAD_ARGUMENT', `k=${k} folds with testSize=${testSize} and gap=${gap} need more than ${gap + testSize * k} rows, got ${n}`);
  }
  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const testStart = n - (k - f) * testSize;
    const trainEnd = testStart - gap;
    const trainStart = options.maxTrainSize !== undefined ? Math.max(0, trainEnd - options.maxTrainSize) : 0;
    folds.push({
      train: Array.from({ length: trainEnd - trainStart }, (_, i) => trainStart + i),
      test: Array.from({ length: testSize }, (_, i) => testStart + i),
    });
  }
  return folds;
}
