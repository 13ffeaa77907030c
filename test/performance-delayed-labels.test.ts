/**
 * Performance policy validation. Performance from delayed labels through the drift service's batch path
 * (joins in both orders, alerts, regression, duplicates, expiry, shadow pairs, baselines) is in the
 * store contract test/drift-contract.ts, run on SQLite and PostgreSQL by test/drift-store.test.ts; the
 * migration of an old SQLite file is there too.
 */
import test from 'ava';
import { resolvePerformancePolicy } from '../gateway/performance.ts';
import { EdgeloopError } from '../src/errors.ts';

test('bad performance policy fails with BAD_CONFIG naming each field', (t) => {
  const err = t.throws(() => resolvePerformancePolicy({ windowSize: 0, minSamples: 5, minAccuracy: 2, maxAccuracyDrop: -1, maxMse: -1, maxMseIncreaseFrac: Number.NaN, pendingLabelTtlMs: 0 }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_CONFIG');
  t.is(err.message, 'performance policy is invalid: windowSize must be an integer in [1, 100000], got 0; minSamples must be an integer in [1, windowSize], got 5; '
    + 'minAccuracy must be null or in [0, 1], got 2; maxAccuracyDrop must be in [0, 1], got -1; maxMse must be null or a finite number ≥ 0, got -1; '
    + 'maxMseIncreaseFrac must be a finite number ≥ 0, got NaN; pendingLabelTtlMs must be > 0, got 0');
});
