/**
 * The reference profile: what the training split looked like, per feature and for the model output.
 * Built once at export time and shipped as JSON in the model manifest; the device's drift monitor
 * compares its rolling window against it.
 *
 * Numeric feature: quantile bin edges (numpy.quantile 'linear' at i/bins, deduplicated so discrete
 * features get fewer bins) with training counts, a sorted quantile sample of at most `sampleSize`
 * values for KS and Wasserstein, mean / population std / min / max, missing rate and the bounds
 * outside which a value counts as out of range. Categorical feature: category counts.
 */
import { EdgeloopError } from '../errors.ts';
import type { FeatureMatrix } from '../frame.ts';

export interface NumericProfile {
  kind: 'numeric';
  name: string;
  /** Non-missing training values. */
  count: number;
  missingRate: number;
  mean: number;
  /** Population standard deviation (ddof = 0). */
  std: number;
  min: number;
  max: number;
  /** Ascending, distinct interior cut points. Bin i holds edges[i−1] < x ≤ edges[i] (numpy searchsorted 'left'). */
  edges: number[];
  /** Training counts per bin, edges.length + 1 of them. */
  counts: number[];
  /** Values below validLow or above validHigh count as out of range: [min, max] widened by rangeMarginFrac of the span. */
  validLow: number;
  validHigh: number;
  /** Ascending quantile sample: sorted[floor((k + 0.5)·n / size)] for k < size, or every value when n ≤ sampleSize. */
  sample: number[];
}

export interface CategoricalProfile {
  kind: 'categorical';
  name: string;
  count: number;
  missingRate: number;
  /** Category keys (String(value)), sorted; counts align with them. */
  categories: string[];
  counts: number[];
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

/**
 * What full windows of the reference period itself look like (src/drift/calibrate.ts): the largest
 * PSI per feature over every full window of `windowSize` samples, one every `reportEvery`.
 */
export interface ProfileCalibration {
  windowSize: number;
  reportEvery: number;
  /** Full reference windows the maxima are taken over. */
  windows: number;
  psiMax: Record<string, number>;
  /** Largest Wasserstein-1 distance per numeric feature, in the feature's unit. */
  wassersteinMax?: Record<string, number>;
  /**
   * Longest run of identical consecutive values per numeric feature over the whole reference period
   * (time order, per device), runs at the feature's minimum excepted: a sensor at its floor (a
   * dark room) is legitimately constant, one stuck anywhere else is not (QARTOD's flat-line test).
   */
  flatRunMax?: Record<string, number>;
}

export interface ReferenceProfile {
  version: 1;
  /** Training rows the profile was built from. */
  rows: number;
  features: FeatureProfile[];
  /** The model output on the same rows: categorical for classification, numeric for regression. */
  output?: FeatureProfile;
  /** Set by calibrateProfile(); when present the policy uses per-feature thresholds. */
  calibration?: ProfileCalibration;
}

export type ColumnSpec = string | { name: string; kind: 'numeric' | 'categorical' };

export interface ProfileOptions {
  /** Quantile bins per numeric feature before deduplication. */
  bins?: number;
  /** Size of the KS / Wasserstein reference sample. */
  sampleSize?: number;
  /** Out-of-range bounds are [min − f·span, max + f·span]. */
  rangeMarginFrac?: number;
  /** Only rows whose matrix.split equals this (all rows when the matrix has no split). */
  split?: string;
  /** Model outputs on the matrix rows (same length as matrix.X). */
  output?: { kind: 'classification'; values: readonly (number | string)[] } | { kind: 'regression'; values: readonly number[] };
}

export const DEFAULT_PROFILE_OPTIONS = {
  bins: 10,
  sampleSize: 512,
  rangeMarginFrac: 0.1,
  split: 'train',
} as const;

/** numpy.quantile(sorted, q, method='linear'), including numpy's two-sided lerp. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  const virtual = (n - 1) * q;
  const lo = Math.floor(virtual);
  const t = virtual - lo;
  const a = sorted[lo]!;
  const b = sorted[Math.min(lo + 1, n - 1)]!;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Index of the bin holding x: the first i with edges[i] ≥ x (searchsorted 'left'). */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Deterministic sorted quantile sample of at most `size` values (see NumericProfile.sample). */
export function quantileSample(sorted: ArrayLike<number>, size: number): number[] {
  const n = sorted.length;
  if (n <= size) return Array.from(sorted);
  const out = new Array<number>(size);
  for (let k = 0; k < size; k++) out[k] = sorted[Math.floor(((k + 0.5) * n) / size)]!;
  return out;
}

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));
}

export function numericProfile(name: string, values: readonly (number | null | undefined)[], opts: { bins: number; sampleSize: number; rangeMarginFrac: number }): NumericProfile {
  const present = values.filter((v): v is number => !isMissing(v));
  if (present.length === 0) throw new EdgeloopError('BAD_DATA', `feature '${name}' has no non-missing value in the reference rows`);
  const sorted = Float64Array.from(present).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) * (v - mean);
  const min = sorted[0]!;
  const max = sorted[n - 1]!;
  const edges: number[] = [];
  for (let i = 1; i < opts.bins; i++) {
    const e = quantileSorted(sorted, i / opts.bins);
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of sorted) counts[binIndex(edges, v)]!++;
  const span = max - min || Math.abs(max) || 1;
  return {
    kind: 'numeric',
    name,
    count: n,
    missingRate: (values.length - n) / values.length,
    mean,
    std: Math.sqrt(ss / n),
    min,
    max,
    edges,
    counts,
    validLow: min - opts.rangeMarginFrac * span,
    validHigh: max + opts.rangeMarginFrac * span,
    sample: quantileSample(sorted, opts.sampleSize),
  };
}

export function categoricalProfile(name: string, values: readonly (number | string | null | undefined)[]): CategoricalProfile {
  const freq = new Map<string, number>();
  let count = 0;
  for (const v of values) {
    if (isMissing(v)) continue;
    const key = String(v);
    freq.set(key, (freq.get(key) ?? 0) + 1);
    count++;
  }
  if (count === 0) throw new EdgeloopError('BAD_DATA', `feature '${name}' has no non-missing value in the reference rows`);
  const categories = [...freq.keys()].sort();
  return {
    kind: 'categorical',
    name,
    count,
    missingRate: (values.length - count) / values.length,
    categories,
    counts: categories.map((c) => freq.get(c)!),
  };
}

function resolveOptions(options: ProfileOptions): { bins: number; sampleSize: number; rangeMarginFrac: number } {
  const bins = options.bins ?? DEFAULT_PROFILE_OPTIONS.bins;
  const sampleSize = options.sampleSize ?? DEFAULT_PROFILE_OPTIONS.sampleSize;
  const rangeMarginFrac = options.rangeMarginFrac ?? DEFAULT_PROFILE_OPTIONS.rangeMarginFrac;
  if (!Number.isInteger(bins) || bins < 2 || bins > 1000) throw new EdgeloopError('BAD_ARGUMENT', `bins must be an integer in [2, 1000], got ${bins}`);
  if (!Number.isInteger(sampleSize) || sampleSize < 8 || sampleSize > 10_000) {
    throw new EdgeloopError('BAD_ARGUMENT', `sampleSize must be an integer in [8, 10000], got ${sampleSize}`);
  }
  if (!(rangeMarginFrac >= 0 && rangeMarginFrac <= 10)) throw new EdgeloopError('BAD_ARGUMENT', `rangeMarginFrac must be in [0, 10], got ${rangeMarginFrac}`);
  return { bins, sampleSize, rangeMarginFrac };
}

/**
 * Profiles `columns` of `matrix` (rows of `options.split`, default 'train', when the matrix has
 * splits) and, when given, the model output on the same rows.
 */
export function buildReferenceProfile(columns: readonly ColumnSpec[], matrix: FeatureMatrix, options: ProfileOptions = {}): ReferenceProfile {
  const opts = resolveOptions(options);
  if (columns.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'columns must name at least one feature');
  const split = options.split ?? DEFAULT_PROFILE_OPTIONS.split;
  const rows: number[] = [];
  for (let i = 0; i < matrix.X.length; i++) if (!matrix.split || matrix.split[i] === split) rows.push(i);
  if (rows.length === 0) throw new EdgeloopError('BAD_DATA', `matrix has no row in split '${split}'`);
  const seen = new Set<string>();
  const features = columns.map((spec): FeatureProfile => {
    const { name, kind } = typeof spec === 'string' ? { name: spec, kind: 'numeric' as const } : spec;
    if (seen.has(name)) throw new EdgeloopError('BAD_ARGUMENT', `columns names '${name}' twice`);
    seen.add(name);
    const col = matrix.columns.indexOf(name);
    if (col < 0) throw new EdgeloopError('BAD_ARGUMENT', `column '${name}' is not in the matrix (columns: ${matrix.columns.join(', ')})`);
    const values = rows.map((r) => matrix.X[r]![col]!);
    return kind === 'numeric' ? numericProfile(name, values, opts) : categoricalProfile(name, values);
  });
  let output: FeatureProfile | undefined;
  if (options.output) {
    if (options.output.values.length !== matrix.X.length) {
      throw new EdgeloopError('BAD_ARGUMENT', `output.values must have one value per matrix row (${matrix.X.length}), got ${options.output.values.length}`);
    }
    const out = options.output;
    output = out.kind === 'classification'
      ? categoricalProfile('prediction', rows.map((r) => out.values[r]!))
      : numericProfile('prediction', rows.map((r) => out.values[r]!), opts);
  }
  return { version: 1, rows: rows.length, features, ...(output ? { output } : {}) };
}
