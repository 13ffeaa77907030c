/**
 * Recommended device-side drift settings, measured on the UCI occupancy recordings (docs/drift.md,
 * `npm run bench:drift`). One reading a minute: the window covers one day, so a window never
 * compares a night with an all-day reference; a report every 4 hours.
 *
 * Clock-derived model inputs (the pipeline's `ts__*` date features) are not monitored: they are a
 * function of the clock, so a window of a few hours is "drifted" against an all-week reference by
 * construction and says nothing about the sensors. `driftColumns()` drops them and
 * `profileValueIndices()` maps a model input row onto the profile's features.
 */
import { EdgeloopError } from '../errors.ts';
import type { ReferenceProfile } from './profile.ts';

export const DEVICE_DRIFT_DEFAULTS = Object.freeze({
  /** Count window: one day at one reading a minute. */
  windowSize: 1440,
  /** Samples between two published reports (4 h at one reading a minute). */
  reportEvery: 240,
  /** Reference profile: out-of-range bounds are [min − f·span, max + f·span] of the training values. */
  rangeMarginFrac: 0.5,
  /** Model input columns with one of these prefixes are not profiled nor monitored. */
  excludeColumnPrefixes: Object.freeze(['ts__']) as readonly string[],
});

/** The columns to profile and monitor: `columns` without the clock-derived ones. */
export function driftColumns(columns: readonly string[], excludePrefixes: readonly string[] = DEVICE_DRIFT_DEFAULTS.excludeColumnPrefixes): string[] {
  return columns.filter((c) => !excludePrefixes.some((p) => c.startsWith(p)));
}

/**
 * For each profile feature, its index in `columns` (the model input row), so the device can call
 * `monitor.update(indices.map((j) => row[j]))`. Throws BAD_ARGUMENT naming every missing feature.
 */
export function profileValueIndices(profile: ReferenceProfile, columns: readonly string[]): number[] {
  const at = new Map(columns.map((c, i) => [c, i]));
  const missing = profile.features.filter((f) => !at.has(f.name)).map((f) => f.name);
  if (missing.length > 0) throw new EdgeloopError('BAD_ARGUMENT', `profile feature(s) ${missing.join(', ')} are not among the model input columns (${columns.join(', ')})`);
  return profile.features.map((f) => at.get(f.name)!);
}
