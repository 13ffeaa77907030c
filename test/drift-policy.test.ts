import test from 'ava';
import { evaluateDrift, resolveDriftPolicy, DEFAULT_DRIFT_POLICY } from '../src/drift/policy.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import type { DriftReport, NumericFeatureDrift, CategoricalFeatureDrift } from '../src/drift/report.ts';
import { EdgeloopError } from '../src/errors.ts';

const profile: ReferenceProfile = {
  version: 1,
  rows: 1000,
  features: ['a', 'b', 'c', 'd', 'e'].map((name) => ({
    kind: 'numeric' as const, name, count: 1000, missingRate: 0.02, mean: 0, std: 1, min: -3, max: 3,
    edges: [0], counts: [500, 500], validLow: -3.6, validHigh: 3.6, sample: [-1, 0, 1],
  })),
  output: { kind: 'categorical', name: 'prediction', count: 1000, missingRate: 0, categories: ['0', '1'], counts: [700, 300] },
};

function num(name: string, over: Partial<NumericFeatureDrift> = {}): NumericFeatureDrift {
  return {
    kind: 'numeric', name, count: 500, missingRate: 0.02, outOfRangeRate: 0, mean: 0, psi: 0.01, js: 0.02,
    ks: { statistic: 0.05, pValue: 0.5, method: 'exact' }, wasserstein: 0.01, ...over,
  };
}
function out(over: Partial<CategoricalFeatureDrift> = {}): CategoricalFeatureDrift {
  return { kind: 'categorical', name: 'prediction', count: 500, missingRate: 0, unseenRate: 0, psi: 0.01, js: 0.01, chi2: { statistic: 1, pValue: 0.3, dof: 1 }, ...over };
}
function report(features: NumericFeatureDrift[], sampleCount = 500, output?: CategoricalFeatureDrift): DriftReport {
  return { version: 1, generatedAtMs: 0, window: { kind: 'count', size: 500 }, sampleCount, windowStartMs: 0, windowEndMs: 1, features, ...(output ? { output } : {}) };
}
const quiet = ['a', 'b', 'c', 'd', 'e'].map((n) => num(n));

test('defaults are the documented thresholds', (t) => {
  t.is(DEFAULT_DRIFT_POLICY.psiWarn, 0.1);
  t.is(DEFAULT_DRIFT_POLICY.psiAlert, 0.25);
  t.is(DEFAULT_DRIFT_POLICY.minSamples, 200);
  t.is(DEFAULT_DRIFT_POLICY.correction, 'bh');
});

test('no verdict below minSamples', (t) => {
  const r = evaluateDrift(report([num('a', { psi: 5 })], 199), profile);
  t.is(r.verdict, 'insufficient');
  t.deepEqual(r.drifted, []);
  t.regex(r.reasons[0]!, /199 samples < minSamples 200/);
});

test('quiet report is ok', (t) => {
  t.deepEqual(evaluateDrift(report(quiet, 500, out()), profile), { verdict: 'ok', drifted: [], reasons: [] });
});

test('PSI thresholds: 0.1 warns, 0.25 alerts; one alert feature of five is a device alert (share 0.2)', (t) => {
  const warn = evaluateDrift(report([num('a', { psi: 0.12 }), ...quiet.slice(1)]), profile);
  t.is(warn.verdict, 'warn');
  t.deepEqual(warn.drifted.map((d) => [d.name, d.level]), [['a', 'warn']]);
  t.regex(warn.drifted[0]!.reasons[0]!, /PSI 0.120 ≥ 0.1/);
  const alert = evaluateDrift(report([num('a', { psi: 0.3 }), ...quiet.slice(1)]), profile);
  t.is(alert.verdict, 'alert');
  t.regex(alert.reasons[0]!, /1 of 5 features at alert/);
  const strict = evaluateDrift(report([num('a', { psi: 0.3 }), ...quiet.slice(1)]), profile, { deviceAlertShare: 0.4 });
  t.is(strict.verdict, 'warn');
});

test('KS p-values are corrected across features before comparing with alpha', (t) => {
  // p = 0.004 on one feature of five: raw < 0.01, but Bonferroni 0.02 and BH 0.02 are not.
  const one = [num('a', { ks: { statistic: 0.2, pValue: 0.004, method: 'exact' } }), ...quiet.slice(1)];
  t.is(evaluateDrift(report(one), profile, { correction: 'none' }).verdict, 'warn');
  t.is(evaluateDrift(report(one), profile, { correction: 'bonferroni' }).verdict, 'ok');
  t.is(evaluateDrift(report(one), profile, { correction: 'bh' }).verdict, 'ok');
  // Five features at p = 0.009: Bonferroni (0.045) clears them, BH (0.009) keeps them.
  const all = quiet.map((f) => ({ ...f, ks: { statistic: 0.1, pValue: 0.009, method: 'exact' as const } }));
  t.is(evaluateDrift(report(all), profile, { correction: 'bonferroni' }).verdict, 'ok');
  const bh = evaluateDrift(report(all), profile, { correction: 'bh' });
  t.is(bh.verdict, 'warn');
  t.is(bh.drifted.length, 5);
  t.regex(bh.drifted[0]!.reasons[0]!, /KS adjusted p 9.00e-3 < 0.01/);
  // Significant KS together with PSI ≥ warn is an alert.
  const both = evaluateDrift(report([num('a', { psi: 0.15, ks: { statistic: 0.3, pValue: 1e-9, method: 'exact' } }), ...quiet.slice(1)]), profile);
  t.is(both.drifted[0]!.level, 'alert');
});

test('missing-rate increase and out-of-range rate raise levels', (t) => {
  const r = evaluateDrift(report([num('a', { missingRate: 0.1 }), num('b', { outOfRangeRate: 0.06 }), ...quiet.slice(2)]), profile);
  t.deepEqual(r.drifted.map((d) => [d.name, d.level]), [['a', 'warn'], ['b', 'alert']]);
  t.regex(r.drifted[0]!.reasons[0]!, /missing rate 0.100 vs reference 0.0200/);
  t.regex(r.drifted[1]!.reasons[0]!, /out-of-range rate 0.0600/);
  t.is(r.verdict, 'alert');
});

test('model output drift alone decides the device verdict', (t) => {
  const r = evaluateDrift(report(quiet, 500, out({ psi: 0.4, chi2: { statistic: 90, pValue: 1e-20, dof: 1 } })), profile);
  t.is(r.verdict, 'alert');
  t.deepEqual(r.drifted.map((d) => d.name), ['prediction']);
  t.regex(r.reasons[0]!, /model output drifted \(alert\)/);
});

test('bad policy: every problem is listed with BAD_CONFIG', (t) => {
  const err = t.throws(() => resolveDriftPolicy({ psiWarn: 0.3, psiAlert: 0.2, alpha: 1.5, minSamples: 0, deviceAlertShare: -1 }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_CONFIG');
  t.regex(err.message, /psiWarn and psiAlert must satisfy 0 < psiWarn < psiAlert, got 0.3 and 0.2/);
  t.regex(err.message, /alpha must be in \(0, 1\), got 1.5/);
  t.regex(err.message, /minSamples must be an integer ≥ 1, got 0/);
  t.regex(err.message, /deviceAlertShare must be in \[0, 1\], got -1/);
  const e2 = t.throws(() => evaluateDrift(report(quiet), profile, { correction: 'holm' as never }), { instanceOf: EdgeloopError });
  t.is(e2.code, 'BAD_CONFIG');
  t.regex(e2.message, /correction must be 'none', 'bonferroni' or 'bh', got holm/);
});
