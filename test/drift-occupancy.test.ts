/**
 * Drift detection on the real UCI occupancy recordings, through the device's code path: readings →
 * streaming pipeline → monitor over the model inputs minus the clock features (DEVICE_DRIFT_DEFAULTS:
 * one-day window, a report every 240 readings) → report JSON parsed as the gateway does → default
 * policy, against a profile of the training split calibrated on the training period's own windows.
 *
 * datatest.txt replayed in time order raises nothing (the policy's calibrationMargin is the smallest
 * integer for which this holds; docs/drift.md); a Temperature ×1.5 fault and a Light sensor stuck
 * at its daytime value, injected into its readings, are alerted within two report windows. The
 * uncalibrated profile, by contrast, flags the same clean replay (the failure this fixes).
 * A CO2 +600 ppm offset is NOT asserted: on this data no setting separates it from the natural
 * variation within two report windows (see docs/drift.md for the figures).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readDatasetFile } from '../device/csv-source.ts';
import type { Frame } from '../src/frame.ts';
import { createStreamingPipeline, fitPipeline } from '../src/pipeline/index.ts';
import { buildReferenceProfile, type ReferenceProfile } from '../src/drift/profile.ts';
import { calibrateProfile } from '../src/drift/calibrate.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { parseDriftReport } from '../src/drift/report.ts';
import { evaluateDrift, resolveDriftPolicy, type DriftVerdict } from '../src/drift/policy.ts';
import { longestFlatRun } from '../src/drift/flat-run.ts';
import { EdgeloopError } from '../src/errors.ts';
import { DEVICE_DRIFT_DEFAULTS, driftColumns, profileValueIndices } from '../src/drift/defaults.ts';

const SENSORS = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio'];
const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as unknown;
const { windowSize, reportEvery, rangeMarginFrac } = DEVICE_DRIFT_DEFAULTS;

interface Reading { ts: number; values: Record<string, number> }
/** A recording as the device's CSV input reads it (device/csv-source.ts), local times in Brussels. */
function readings(file: string): Reading[] {
  const path = fileURLToPath(new URL(`../datasets/occupancy/${file}`, import.meta.url));
  return readDatasetFile(path, { timeZone: 'Europe/Brussels' }).records.map((r) => ({ ts: Number(r.ts), values: r.values }));
}

const train = readings('datatraining.txt');
const test1 = readings('datatest.txt');
const frame: Frame = { ts: [], device: [], num: Object.fromEntries([...SENSORS, 'Occupancy'].map((s) => [s, []])), cat: {} };
for (const [device, rs] of [['train', train], ['test1', test1]] as const) {
  for (const r of rs) {
    frame.ts.push(r.ts);
    frame.device.push(device);
    for (const s of [...SENSORS, 'Occupancy']) frame.num[s]!.push(r.values[s]!);
  }
}
// The example spec's test2 range simply has no rows here.
const { fitted, matrix } = fitPipeline(frame, spec);
const uncalibrated = buildReferenceProfile(driftColumns(fitted.columns), matrix, { split: 'train', rangeMarginFrac });
const profile = calibrateProfile(uncalibrated, matrix, { windowSize, reportEvery, split: 'train' });

/** Verdicts of the judged reports, and how many of them came before the onset. */
function replay(p: ReferenceProfile, stream: Reading[], fault?: { onset: number; apply: (v: Record<string, number>) => void }): { verdicts: DriftVerdict[]; beforeOnset: number } {
  const pipeline = createStreamingPipeline(spec, fitted);
  const idx = profileValueIndices(p, fitted.columns);
  const monitor = createDriftMonitor(p, { windowSize, now: () => 0 });
  const verdicts: DriftVerdict[] = [];
  let beforeOnset = 0;
  let rows = 0;
  stream.forEach((r, i) => {
    const values = { ...r.values };
    if (fault && i >= fault.onset) fault.apply(values);
    const row = pipeline.push({ ts: r.ts, device: 'office', values });
    if (!row) return;
    monitor.update(idx.map((j) => row[j]!), { tsMs: r.ts });
    if (++rows % reportEvery !== 0) return;
    const verdict = evaluateDrift(parseDriftReport(JSON.parse(JSON.stringify(monitor.report({ nowMs: r.ts })))), p).verdict;
    if (verdict === 'insufficient') return;
    verdicts.push(verdict);
    if (!fault || i < fault.onset) beforeOnset++;
  });
  return { verdicts, beforeOnset };
}

test('the profile leaves out the clock features and is calibrated on the training windows', (t) => {
  t.deepEqual(profile.features.map((f) => f.name), fitted.columns.filter((c) => !c.startsWith('ts__')));
  t.true(fitted.columns.includes('ts__seconds_since_midnight'));
  t.like(profile.calibration, { windowSize, reportEvery });
  t.true(profile.calibration!.windows >= 20, `${profile.calibration!.windows} windows`);
  // Day-long windows of the training week itself are far above PSI 0.25 on the sensor levels.
  t.true(profile.calibration!.psiMax['CO2__last']! > 1);
});

test('clean replay of datatest.txt in time order: every judged report is ok (uncalibrated: not)', (t) => {
  const calibrated = replay(profile, test1).verdicts;
  t.true(calibrated.length >= 5, `${calibrated.length} judged reports`);
  t.deepEqual(calibrated, calibrated.map(() => 'ok'));
  const fixed = replay(uncalibrated, test1).verdicts;
  t.true(fixed.filter((v) => v !== 'ok').length >= fixed.length / 2, `uncalibrated verdicts ${fixed.join(',')}`);
});

test('Temperature ×1.5 from reading 1500 of datatest.txt is alerted within two report windows', (t) => {
  const { verdicts, beforeOnset } = replay(profile, test1, { onset: 1500, apply: (v) => { v.Temperature = v.Temperature! * 1.5; } });
  t.true(beforeOnset >= 1);
  t.deepEqual(verdicts.slice(0, beforeOnset), verdicts.slice(0, beforeOnset).map(() => 'ok'));
  const after = verdicts.slice(beforeOnset, beforeOnset + 2);
  t.true(after.includes('alert'), `verdicts after the onset: ${after.join(',')}`);
});

test('Light stuck at its daytime value from reading 1500 of datatest.txt is alerted within two report windows (flat line)', (t) => {
  const stuck = test1[1500]!.values.Light!;
  t.true(stuck > 0, `Light at the onset is ${stuck}`);
  const { verdicts, beforeOnset } = replay(profile, test1, { onset: 1500, apply: (v) => { v.Light = stuck; } });
  t.deepEqual(verdicts.slice(0, beforeOnset), verdicts.slice(0, beforeOnset).map(() => 'ok'));
  const after = verdicts.slice(beforeOnset, beforeOnset + 2);
  t.true(after.includes('alert'), `verdicts after the onset: ${after.join(',')}`);
});

test('a calibrated report carries flat-run lengths; the same window at margin 1 is flagged where the default is not', (t) => {
  const { verdicts } = replay(profile, test1);
  t.true(verdicts.every((v) => v === 'ok'));
  const monitor = createDriftMonitor(profile, { windowSize, now: () => 0 });
  const pipeline = createStreamingPipeline(spec, fitted);
  const idx = profileValueIndices(profile, fitted.columns);
  for (const r of test1.slice(0, windowSize + 10)) {
    const row = pipeline.push({ ts: r.ts, device: 'office', values: r.values });
    if (row) monitor.update(idx.map((j) => row[j]!), { tsMs: r.ts });
  }
  const report = monitor.report({ nowMs: 0 });
  t.true(report.features.every((f) => f.kind === 'numeric' && typeof f.flatRun === 'number'));
  t.is(evaluateDrift(report, profile).verdict, 'ok');
  t.not(evaluateDrift(report, profile, { calibrationMargin: 1 }).verdict, 'ok');
});

test('bad calls: calibration, value indices and the calibrated policy knobs fail with their code and message', (t) => {
  const tiny = { ...matrix, X: matrix.X.slice(0, 500), ts: matrix.ts.slice(0, 500), device: matrix.device.slice(0, 500), split: matrix.split!.slice(0, 500) };
  const short = t.throws(() => calibrateProfile(uncalibrated, tiny, { windowSize, reportEvery }), { instanceOf: EdgeloopError });
  t.is(short.code, 'BAD_DATA');
  t.regex(short.message, /0 full window\(s\) of 1440 samples at a stride of 240; calibration needs at least 2/);
  const bad = t.throws(() => calibrateProfile(uncalibrated, matrix, { windowSize: 0, reportEvery: 1.5 }), { instanceOf: EdgeloopError });
  t.is(bad.code, 'BAD_ARGUMENT');
  t.regex(bad.message, /windowSize must be an integer ≥ 1, got 0/);
  const cols = t.throws(() => calibrateProfile(uncalibrated, { ...matrix, columns: matrix.columns.map((c) => c.replace('CO2', 'co2')) }, { windowSize, reportEvery }), { instanceOf: EdgeloopError });
  t.regex(cols.message, /profile feature 'CO2__last' is not a matrix column/);
  const idx = t.throws(() => profileValueIndices(profile, ['Temperature__last']), { instanceOf: EdgeloopError });
  t.is(idx.code, 'BAD_ARGUMENT');
  t.regex(idx.message, /profile feature\(s\) Temperature__std, .*CO2__last.* are not among the model input columns/);
  const knobs = t.throws(() => resolveDriftPolicy({ calibrationMargin: 0.5, flatRunMargin: 1000 }), { instanceOf: EdgeloopError });
  t.is(knobs.code, 'BAD_CONFIG');
  t.regex(knobs.message, /flatRunMargin must be in \[1, 100\], got 1000; calibrationMargin must be in \[1, 100\], got 0.5/);
});

test('longestFlatRun: runs at the floor and non-finite values break runs and do not count', (t) => {
  t.is(longestFlatRun([0, 0, 0, 0, 5, 5, 5, 2, 2], 0), 3);
  t.is(longestFlatRun([1, 1, NaN, 1, 1], 0), 2);
  t.is(longestFlatRun([], 0), 0);
  t.is(longestFlatRun([3, 3, 3, 3], -1), 4);
});

test('driftColumns drops the clock features only', (t) => {
  t.deepEqual(driftColumns(['a__last', 'ts__weekend', 'ts__seconds_since_midnight', 'b']), ['a__last', 'b']);
  t.deepEqual(DEVICE_DRIFT_DEFAULTS.excludeColumnPrefixes, ['ts__']);
});
