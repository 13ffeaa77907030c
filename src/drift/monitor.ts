/**
 * Streaming drift monitor for the device: a rolling window (last N samples, or last T ms) kept as
 * histograms on the reference bins plus a ring of raw values. update() is O(1) per feature
 * (binary search over ≤ bins edges, increment the new bin, decrement the evicted one); report()
 * sorts the window once for KS and Wasserstein, O(w log w). With a calibrated profile it also
 * reports each numeric feature's longest flat run in the window (O(w)).
 *
 * Time windows assume samples arrive in time order (out-of-order ones are evicted in arrival
 * order) and hold at most `maxSamples`; when full, the oldest sample is evicted early.
 */
import { EdgeloopError } from '../errors.ts';
import { binIndex, quantileSample, type FeatureProfile, type ReferenceProfile } from './profile.ts';
import { psi, jensenShannonDistance, wasserstein1Sorted } from './divergence.ts';
import { ksTwoSampleSorted } from './ks.ts';
import { chiSquareContingency } from './chi-square.ts';
import { longestFlatRun } from './flat-run.ts';
import type { DriftReport, FeatureDrift } from './report.ts';

export type SampleValue = number | string | null | undefined;

export interface DriftMonitorOptions {
  /** Count window: the last `windowSize` samples. Exactly one of windowSize and windowMs. */
  windowSize?: number;
  /** Time window: samples with ts > newest ts − windowMs. */
  windowMs?: number;
  /** Capacity of a time window (memory bound). */
  maxSamples?: number;
  /** Windows larger than this are thinned to a quantile sample of this size for KS and Wasserstein. */
  ksMaxSample?: number;
  /** Compute Wasserstein-1 per numeric feature. */
  wasserstein?: boolean;
  /** Clock for samples without a timestamp and for report times. */
  now?: () => number;
}

export const DEFAULT_MONITOR_OPTIONS = {
  maxSamples: 10_000,
  ksMaxSample: 1024,
  wasserstein: true,
  now: (): number => Date.now(),
} as const;

export interface DriftMonitor {
  /** Adds one sample: `values` in profile.features order; `prediction` when the profile has an output. */
  update(values: readonly SampleValue[], options?: { tsMs?: number; prediction?: SampleValue }): void;
  /** The drift of the current window against the reference. */
  report(options?: { nowMs?: number }): DriftReport;
  readonly sampleCount: number;
  reset(): void;
}

interface Tracker {
  profile: FeatureProfile;
  /** Bin or category index per ring slot; −1 = missing. */
  codes: Int32Array;
  /** Raw value per ring slot (numeric features). */
  values: Float64Array;
  /** 1 when the slot's value was out of range (numeric) or unseen (categorical). */
  flags: Uint8Array;
  counts: Int32Array;
  refCounts: number[];
  missing: number;
  flagged: number;
  add(slot: number, v: SampleValue): void;
}

function makeTracker(profile: FeatureProfile, cap: number): Tracker {
  const base = { profile, codes: new Int32Array(cap), flags: new Uint8Array(cap), missing: 0, flagged: 0 };
  switch (profile.kind) {
    case 'numeric': {
      const edges = Float64Array.from(profile.edges);
      const { validLow, validHigh } = profile;
      const t: Tracker = {
        ...base,
        values: new Float64Array(cap),
        counts: new Int32Array(profile.counts.length),
        refCounts: profile.counts,
        add(slot, v) {
          if (typeof v !== 'number' || !Number.isFinite(v)) {
            t.codes[slot] = -1;
            t.flags[slot] = 0;
            t.missing++;
            return;
          }
          const bin = binIndex(edges, v);
          t.codes[slot] = bin;
          t.values[slot] = v;
          t.counts[bin]!++;
          const out = v < validLow || v > validHigh ? 1 : 0;
          t.flags[slot] = out;
          t.flagged += out;
        },
      };
      return t;
    }
    case 'categorical': {
      const index = new Map(profile.categories.map((c, i) => [c, i]));
      const unseen = profile.categories.length;
      const t: Tracker = {
        ...base,
        values: new Float64Array(0),
        // The last bin collects categories the reference never saw.
        counts: new Int32Array(unseen + 1),
        refCounts: [...profile.counts, 0],
        add(slot, v) {
          if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) {
            t.codes[slot] = -1;
            t.flags[slot] = 0;
            t.missing++;
            return;
          }
          const code = index.get(String(v)) ?? unseen;
          t.codes[slot] = code;
          t.counts[code]!++;
          const flag = code === unseen ? 1 : 0;
          t.flags[slot] = flag;
          t.flagged += flag;
        },
      };
      return t;
    }
    default: {
      const never: never = profile;
      throw new EdgeloopError('BAD_ARGUMENT', `unknown feature kind in profile: ${JSON.stringify(never)}`);
    }
  }
}

function evictSlot(t: Tracker, slot: number): void {
  const code = t.codes[slot]!;
  if (code < 0) t.missing--;
  else t.counts[code]!--;
  t.flagged -= t.flags[slot]!;
}

function featureReport(t: Tracker, size: number, head: number, cap: number, ksMaxSample: number, withWasserstein: boolean, withFlatRun: boolean): FeatureDrift {
  const count = size - t.missing;
  const missingRate = size === 0 ? 0 : t.missing / size;
  const counts = Array.from(t.counts);
  const p = t.profile;
  switch (p.kind) {
    case 'numeric': {
      if (count === 0) {
        return { kind: 'numeric', name: p.name, count, missingRate, outOfRangeRate: 0, mean: null, psi: null, js: null, ks: null, wasserstein: null };
      }
      const window = new Float64Array(count);
      let k = 0;
      let sum = 0;
      for (let i = 0; i < size; i++) {
        const slot = (head + i) % cap;
        if (t.codes[slot]! >= 0) {
          const v = t.values[slot]!;
          window[k++] = v;
          sum += v;
        }
      }
      // Before sorting: the window in time order (missing values dropped).
      const flat = withFlatRun ? { flatRun: longestFlatRun(window, p.min) } : {};
      window.sort();
      const sample = count > ksMaxSample ? quantileSample(window, ksMaxSample) : window;
      return {
        kind: 'numeric',
        name: p.name,
        count,
        missingRate,
        outOfRangeRate: t.flagged / count,
        mean: sum / count,
        psi: psi(t.refCounts, counts),
        js: jensenShannonDistance(t.refCounts, counts),
        ks: ksTwoSampleSorted(p.sample, sample),
        wasserstein: withWasserstein ? wasserstein1Sorted(p.sample, sample) : null,
        ...flat,
      };
    }
    case 'categorical': {
      if (count === 0) return { kind: 'categorical', name: p.name, count, missingRate, unseenRate: 0, psi: null, js: null, chi2: null };
      return {
        kind: 'categorical',
        name: p.name,
        count,
        missingRate,
        unseenRate: t.flagged / count,
        psi: psi(t.refCounts, counts),
        js: jensenShannonDistance(t.refCounts, counts),
        chi2: chiSquareContingency([t.refCounts, counts]),
      };
    }
    default: {
      const never: never = p;
      throw new EdgeloopError('BAD_ARGUMENT', `unknown feature kind: ${JSON.stringify(never)}`);
    }
  }
}

export function createDriftMonitor(profile: ReferenceProfile, options: DriftMonitorOptions): DriftMonitor {
  const { windowSize, windowMs } = options;
  if ((windowSize === undefined) === (windowMs === undefined)) {
    throw new EdgeloopError('BAD_ARGUMENT', `give exactly one of windowSize (count) and windowMs (time), got windowSize=${windowSize} windowMs=${windowMs}`);
  }
  if (windowSize !== undefined && !(Number.isInteger(windowSize) && windowSize >= 1 && windowSize <= 1_000_000)) {
    throw new EdgeloopError('BAD_ARGUMENT', `windowSize must be an integer in [1, 1000000], got ${windowSize}`);
  }
  if (windowMs !== undefined && !(windowMs > 0 && Number.isFinite(windowMs))) {
    throw new EdgeloopError('BAD_ARGUMENT', `windowMs must be a finite number > 0, got ${windowMs}`);
  }
  const maxSamples = options.maxSamples ?? DEFAULT_MONITOR_OPTIONS.maxSamples;
  if (!(Number.isInteger(maxSamples) && maxSamples >= 1 && maxSamples <= 1_000_000)) {
    throw new EdgeloopError('BAD_ARGUMENT', `maxSamples must be an integer in [1, 1000000], got ${maxSamples}`);
  }
  const ksMaxSample = options.ksMaxSample ?? DEFAULT_MONITOR_OPTIONS.ksMaxSample;
  if (!(Number.isInteger(ksMaxSample) && ksMaxSample >= 8 && ksMaxSample <= 10_000)) {
    throw new EdgeloopError('BAD_ARGUMENT', `ksMaxSample must be an integer in [8, 10000], got ${ksMaxSample}`);
  }
  if (profile.version !== 1 || !Array.isArray(profile.features) || profile.features.length === 0) {
    throw new EdgeloopError('BAD_ARGUMENT', 'profile must be a version 1 reference profile with at least one feature');
  }
  const withWasserstein = options.wasserstein ?? DEFAULT_MONITOR_OPTIONS.wasserstein;
  // The flat-line length is reported only when the profile is calibrated (it has a reference to compare with).
  const withFlatRun = profile.calibration?.flatRunMax !== undefined;
  const now = options.now ?? DEFAULT_MONITOR_OPTIONS.now;
  const cap = windowSize ?? maxSamples;
  const nFeatures = profile.features.length;
  const features = profile.features.map((f) => makeTracker(f, cap));
  const output = profile.output ? makeTracker(profile.output, cap) : undefined;
  const all = output ? [...features, output] : features;
  const ts = new Float64Array(cap);
  let head = 0; // slot of the oldest sample
  let size = 0;

  const evictOldest = (): void => {
    for (const t of all) evictSlot(t, head);
    head = (head + 1) % cap;
    size--;
  };
  const evictBefore = (cutoffMs: number): void => {
    while (size > 0 && ts[head]! <= cutoffMs) evictOldest();
  };

  return {
    update(values, opts = {}) {
      if (values.length !== nFeatures) {
        throw new EdgeloopError('BAD_ARGUMENT', `values must have one entry per profile feature (${nFeatures}), got ${values.length}`);
      }
      const tsMs = opts.tsMs ?? now();
      if (windowMs !== undefined) evictBefore(tsMs - windowMs);
      if (size === cap) evictOldest();
      const slot = (head + size) % cap;
      ts[slot] = tsMs;
      for (let f = 0; f < nFeatures; f++) features[f]!.add(slot, values[f]);
      output?.add(slot, opts.prediction);
      size++;
    },
    report(opts = {}) {
      const nowMs = opts.nowMs ?? now();
      if (windowMs !== undefined) evictBefore(nowMs - windowMs);
      const rep = (t: Tracker): FeatureDrift => featureReport(t, size, head, cap, ksMaxSample, withWasserstein, withFlatRun);
      return {
        version: 1,
        generatedAtMs: nowMs,
        window: windowSize !== undefined ? { kind: 'count', size: windowSize } : { kind: 'time', ms: windowMs! },
        sampleCount: size,
        windowStartMs: size > 0 ? ts[head]! : null,
        windowEndMs: size > 0 ? ts[(head + size - 1) % cap]! : null,
        features: features.map(rep),
        ...(output ? { output: rep(output) } : {}),
      };
    },
    get sampleCount() {
      return size;
    },
    reset() {
      while (size > 0) evictOldest();
      head = 0;
    },
  };
}
