import test from 'ava';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import { ksTwoSample } from '../src/drift/ks.ts';
import { psi, jensenShannonDistance, wasserstein1 } from '../src/drift/divergence.ts';
import { chiSquareGoodnessOfFit, chiSquareContingency } from '../src/drift/chi-square.ts';
import { bonferroni, benjaminiHochberg } from '../src/drift/multiple-testing.ts';
import { buildReferenceProfile, type ReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import type { FeatureMatrix } from '../src/frame.ts';

function fails(t: import('ava').ExecutionContext, fn: () => unknown, code: ErrorCode, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: EdgeloopError });
  t.is(err.code, code);
  t.regex(err.message, message);
}

const matrix: FeatureMatrix = {
  columns: ['x', 'y'], X: [[1, 2], [2, NaN], [3, 4]], ts: [0, 1, 2], device: ['d', 'd', 'd'], split: ['train', 'train', 'test'],
};

test('statistics reject bad input with BAD_ARGUMENT naming the argument', (t) => {
  fails(t, () => ksTwoSample([], [1]), 'BAD_ARGUMENT', /ks samples must not be empty, got sizes 0 and 1/);
  fails(t, () => ksTwoSample([1, NaN], [1]), 'BAD_ARGUMENT', /a\[1\] is NaN/);
  fails(t, () => psi([1, 2], [1]), 'BAD_ARGUMENT', /same number of bins \(≥ 1\), got 2 and 1/);
  fails(t, () => psi([0, 0], [1, 1]), 'BAD_ARGUMENT', /must not all be zero \(expected total 0, actual total 2\)/);
  fails(t, () => psi([1, -1], [1, 1]), 'BAD_ARGUMENT', /expected\[1\] must be a finite count ≥ 0, got -1/);
  fails(t, () => psi([1], [1], 0), 'BAD_ARGUMENT', /epsilon must be in \(0, 1\), got 0/);
  fails(t, () => jensenShannonDistance([1], [1], 1), 'BAD_ARGUMENT', /base must be > 0 and ≠ 1, got 1/);
  fails(t, () => wasserstein1([1], []), 'BAD_ARGUMENT', /wasserstein samples must not be empty, got sizes 1 and 0/);
  fails(t, () => chiSquareGoodnessOfFit([]), 'BAD_ARGUMENT', /observed must have at least one category/);
  fails(t, () => chiSquareGoodnessOfFit([5, 5], [5, 6]), 'BAD_ARGUMENT', /totals must agree \(relative tolerance 1e-8\), got 10 and 11/);
  fails(t, () => chiSquareGoodnessOfFit([5, 5], [10, 0]), 'BAD_ARGUMENT', /expected\[1\] must be a finite count > 0, got 0/);
  fails(t, () => chiSquareContingency([[1, 2], [3]]), 'BAD_ARGUMENT', /row 0 has 2 and row 1 has 1/);
  fails(t, () => chiSquareContingency([]), 'BAD_ARGUMENT', /table must have at least one row/);
  fails(t, () => bonferroni([0.5, 1.2]), 'BAD_ARGUMENT', /pValues\[1\] must be in \[0, 1\], got 1.2/);
  fails(t, () => benjaminiHochberg([NaN]), 'BAD_ARGUMENT', /pValues\[0\] must be in \[0, 1\], got NaN/);
});

test('chi-square edge cases follow scipy: zero columns dropped, no dof → p = 1', (t) => {
  t.deepEqual(chiSquareContingency([[5, 0], [7, 0]]), { statistic: 0, pValue: 1, dof: 0 });
  t.deepEqual(chiSquareGoodnessOfFit([7]), { statistic: 0, pValue: 1, dof: 0 });
});

test('buildReferenceProfile rejects bad columns, options and data', (t) => {
  fails(t, () => buildReferenceProfile([], matrix), 'BAD_ARGUMENT', /columns must name at least one feature/);
  fails(t, () => buildReferenceProfile(['z'], matrix), 'BAD_ARGUMENT', /column 'z' is not in the matrix \(columns: x, y\)/);
  fails(t, () => buildReferenceProfile(['x', 'x'], matrix), 'BAD_ARGUMENT', /columns names 'x' twice/);
  fails(t, () => buildReferenceProfile(['x'], matrix, { bins: 1 }), 'BAD_ARGUMENT', /bins must be an integer in \[2, 1000\], got 1/);
  fails(t, () => buildReferenceProfile(['x'], matrix, { sampleSize: 4 }), 'BAD_ARGUMENT', /sampleSize must be an integer in \[8, 10000\], got 4/);
  fails(t, () => buildReferenceProfile(['x'], matrix, { rangeMarginFrac: -1 }), 'BAD_ARGUMENT', /rangeMarginFrac must be in \[0, 10\], got -1/);
  fails(t, () => buildReferenceProfile(['x'], matrix, { split: 'val' }), 'BAD_DATA', /matrix has no row in split 'val'/);
  fails(t, () => buildReferenceProfile(['x'], matrix, { output: { kind: 'regression', values: [1] } }), 'BAD_ARGUMENT', /output.values must have one value per matrix row \(3\), got 1/);
  const allMissing: FeatureMatrix = { ...matrix, X: [[NaN, 1], [NaN, 2], [NaN, 3]] };
  fails(t, () => buildReferenceProfile(['x'], allMissing), 'BAD_DATA', /feature 'x' has no non-missing value/);
  // Split filtering and missing rate: rows 0 and 1 are train; y is missing in one of them.
  const p = buildReferenceProfile(['x', 'y'], matrix);
  t.is(p.rows, 2);
  t.is(p.features[1]!.missingRate, 0.5);
});

test('createDriftMonitor and update reject bad options and rows', (t) => {
  const profile: ReferenceProfile = buildReferenceProfile(['x'], matrix);
  fails(t, () => createDriftMonitor(profile, {}), 'BAD_ARGUMENT', /exactly one of windowSize \(count\) and windowMs \(time\)/);
  fails(t, () => createDriftMonitor(profile, { windowSize: 10, windowMs: 10 }), 'BAD_ARGUMENT', /exactly one of windowSize/);
  fails(t, () => createDriftMonitor(profile, { windowSize: 0 }), 'BAD_ARGUMENT', /windowSize must be an integer in \[1, 1000000\], got 0/);
  fails(t, () => createDriftMonitor(profile, { windowMs: -5 }), 'BAD_ARGUMENT', /windowMs must be a finite number > 0, got -5/);
  fails(t, () => createDriftMonitor(profile, { windowMs: 5, maxSamples: 0 }), 'BAD_ARGUMENT', /maxSamples must be an integer in \[1, 1000000\], got 0/);
  fails(t, () => createDriftMonitor(profile, { windowSize: 5, ksMaxSample: 2 }), 'BAD_ARGUMENT', /ksMaxSample must be an integer in \[8, 10000\], got 2/);
  fails(t, () => createDriftMonitor({ ...profile, features: [] }, { windowSize: 5 }), 'BAD_ARGUMENT', /version 1 reference profile with at least one feature/);
  const m = createDriftMonitor(profile, { windowSize: 5 });
  fails(t, () => m.update([1, 2]), 'BAD_ARGUMENT', /values must have one entry per profile feature \(1\), got 2/);
});
