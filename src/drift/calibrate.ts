/**
 * Reference-period calibration of the drift thresholds (the approach NannyML uses for its
 * thresholds: the statistic's spread over reference chunks). The reference rows are replayed in
 * time order, per device, through the same streaming monitor the device runs, with the device's
 * window and report cadence; for every full window, each feature's PSI and Wasserstein-1 distance
 * against the profile are recorded. The largest one is what the reference period itself produces from day-to-day
 * variation alone; the policy scales it by a margin (DriftPolicy.calibrationMargin) before
 * calling anything drift. Wasserstein-1 (in the feature's unit) complements PSI: PSI on quantile
 * bins saturates near 8 once a window leaves a narrow mode (a night-time CO2 baseline), so it cannot
 * tell a 70 ppm baseline shift from a 600 ppm offset; the distance can.
 *
 * Why: sensors in a room follow a daily cycle and a week of weather and occupancy. A one-day
 * window of the training week already has PSI 2–5 on the temperature, humidity and CO2 levels
 * against the whole week (docs/drift.md), so the fixed 0.1 / 0.25 rule flags every window.
 */
import { EdgeloopError } from '../errors.ts';
import type { FeatureMatrix } from '../frame.ts';
import { createDriftMonitor } from './monitor.ts';
import { longestFlatRun } from './flat-run.ts';
import type { ProfileCalibration, ReferenceProfile } from './profile.ts';

export interface CalibrationOptions {
  windowSize: number;
  reportEvery: number;
  /** Reference rows: matrix.split equals this (every row when the matrix has no split). */
  split?: string;
}

/**
 * Returns `profile` with `calibration` set. `matrix` must hold the profile's features as columns
 * (by name); rows are grouped by device and sorted by ts. Throws BAD_DATA when the reference period
 * has fewer than two full windows per report stride (nothing to calibrate on).
 */
export function calibrateProfile(profile: ReferenceProfile, matrix: FeatureMatrix, options: CalibrationOptions): ReferenceProfile {
  const { windowSize, reportEvery } = options;
  if (!(Number.isInteger(windowSize) && windowSize >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `windowSize must be an integer ≥ 1, got ${windowSize}`);
  if (!(Number.isInteger(reportEvery) && reportEvery >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `reportEvery must be an integer ≥ 1, got ${reportEvery}`);
  const split = options.split ?? 'train';
  const cols = profile.features.map((f) => {
    const j = matrix.columns.indexOf(f.name);
    if (j < 0) throw new EdgeloopError('BAD_ARGUMENT', `profile feature '${f.name}' is not a matrix column`);
    return j;
  });
  const byDevice = new Map<string, number[]>();
  matrix.X.forEach((_, i) => {
    if (matrix.split && matrix.split[i] !== split) return;
    const d = matrix.device[i]!;
    let list = byDevice.get(d);
    if (!list) byDevice.set(d, (list = []));
    list.push(i);
  });
  const psiMax = profile.features.map(() => 0);
  const flatRunMax = profile.features.map(() => 0);
  const wassersteinMax = profile.features.map(() => 0);
  let windows = 0;
  for (const rows of byDevice.values()) {
    rows.sort((a, b) => matrix.ts[a]! - matrix.ts[b]!);
    profile.features.forEach((f, i) => {
      if (f.kind !== 'numeric') return;
      const run = longestFlatRun(rows.map((r) => matrix.X[r]![cols[i]!]!), f.min);
      if (run > flatRunMax[i]!) flatRunMax[i] = run;
    });
    const monitor = createDriftMonitor({ ...profile, output: undefined }, { windowSize, wasserstein: true, now: () => 0 });
    rows.forEach((r, k) => {
      monitor.update(cols.map((j) => matrix.X[r]![j]!), { tsMs: matrix.ts[r]! });
      if ((k + 1) % reportEvery !== 0 || monitor.sampleCount < windowSize) return;
      windows++;
      monitor.report({ nowMs: matrix.ts[r]! }).features.forEach((f, i) => {
        if (f.psi !== null && f.psi > psiMax[i]!) psiMax[i] = f.psi;
        if (f.kind === 'numeric' && f.wasserstein !== null && f.wasserstein > wassersteinMax[i]!) wassersteinMax[i] = f.wasserstein;
      });
    });
  }
  if (windows < 2) throw new EdgeloopError('BAD_DATA', `the reference period has ${windows} full window(s) of ${windowSize} samples at a stride of ${reportEvery}; calibration needs at least 2`);
  const calibration: ProfileCalibration = { windowSize, reportEvery, windows, psiMax: Object.fromEntries(profile.features.map((f, i) => [f.name, psiMax[i]!])),
    wassersteinMax: Object.fromEntries(profile.features.flatMap((f, i) => (f.kind === 'numeric' ? [[f.name, wassersteinMax[i]!]] : []))),
    flatRunMax: Object.fromEntries(profile.features.flatMap((f, i) => (f.kind === 'numeric' ? [[f.name, flatRunMax[i]!]] : []))),
  };
  return { ...profile, calibration };
}
