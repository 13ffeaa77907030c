/**
 * The drift policy: turns a DriftReport into a verdict. Pure; thresholds have defaults in one object.
 *
 * Per feature (level ok < warn < alert):
 *   - PSI ≥ psiWarn → warn, ≥ psiAlert → alert (the usual 0.1 / 0.25 rule of thumb);
 *   - KS (numeric) or chi-square (categorical) p-value, adjusted across features by `correction`,
 *     below `alpha` → at least warn; together with PSI ≥ psiWarn → alert;
 *   - missing rate above the reference's by ≥ missingIncreaseWarn / …Alert → warn / alert;
 *   - out-of-range (numeric) or unseen-category (categorical) rate ≥ outOfRangeWarn / …Alert.
 * Calibrated profile (profile.calibration, src/drift/calibrate.ts): a report with fewer samples than
 * the calibrated window is 'insufficient'; a feature's PSI thresholds are psiWarn / psiAlert scaled
 * by max(1, calibrationMargin · psiMax / psiWarn), psiMax being the largest PSI of that feature over
 * the reference period's own windows; and the KS / chi-square p-value is supporting evidence only
 * (named in the reasons, never raising the level): on windows of autocorrelated readings the
 * effective sample size is far below the count, and the i.i.d. p-value rejects everything.
 * Calibrated numeric features also get Wasserstein-1 thresholds (the same scaling of the reference
 * maxima: warn at calibrationMargin · max, alert at psiAlert/psiWarn times that) and a flat-line
 * check (a run of identical values longer than flatRunMargin times the reference's longest is an
 * alert); a calibrated device verdict is the level of its worst feature.
 * Device: 'insufficient' below minSamples; 'alert' when the share of alert-level features is at least
 * deviceAlertShare or the model output is at alert; 'warn' when the share of drifted (warn or alert)
 * features is at least deviceWarnShare or the output is at warn; otherwise 'ok'.
 */
import { EdgeloopError } from '../errors.ts';
import { adjustPValues, type PValueCorrection } from './multiple-testing.ts';
import type { ProfileCalibration, ReferenceProfile } from './profile.ts';
import type { DriftReport, FeatureDrift } from './report.ts';

export type DriftLevel = 'ok' | 'warn' | 'alert';
export type DriftVerdict = DriftLevel | 'insufficient';

export interface DriftPolicy {
  minSamples: number;
  psiWarn: number;
  psiAlert: number;
  alpha: number;
  correction: PValueCorrection;
  missingIncreaseWarn: number;
  missingIncreaseAlert: number;
  outOfRangeWarn: number;
  outOfRangeAlert: number;
  deviceWarnShare: number;
  deviceAlertShare: number;
  /** Calibrated profiles only: reference-window PSI and Wasserstein maxima are multiplied by this before they raise a threshold. */
  calibrationMargin: number;
  /** Calibrated profiles only: a flat run longer than this times the reference's longest is a stuck sensor (alert). */
  flatRunMargin: number;
}

export const DEFAULT_DRIFT_POLICY: Readonly<DriftPolicy> = Object.freeze({
  minSamples: 200,
  psiWarn: 0.1,
  psiAlert: 0.25,
  alpha: 0.01,
  correction: 'bh',
  missingIncreaseWarn: 0.05,
  missingIncreaseAlert: 0.2,
  outOfRangeWarn: 0.01,
  outOfRangeAlert: 0.05,
  deviceWarnShare: 0.1,
  deviceAlertShare: 0.2,
  calibrationMargin: 6,
  flatRunMargin: 2,
});

export interface DriftedFeature {
  name: string;
  level: Exclude<DriftLevel, 'ok'>;
  reasons: string[];
}

export interface DriftEvaluation {
  verdict: DriftVerdict;
  drifted: DriftedFeature[];
  /** Output drift is listed in `drifted` under the name 'prediction' (the output's profile name). */
  reasons: string[];
}

/** Merges overrides onto the defaults and checks every threshold; all problems are listed. */
export function resolveDriftPolicy(overrides: Partial<DriftPolicy> = {}): DriftPolicy {
  const p: DriftPolicy = { ...DEFAULT_DRIFT_POLICY, ...overrides };
  const problems: string[] = [];
  const inUnit = (name: keyof DriftPolicy, open = false): void => {
    const v = p[name] as number;
    if (!(typeof v === 'number' && (open ? v > 0 && v < 1 : v >= 0 && v <= 1))) problems.push(`${name} must be in ${open ? '(0, 1)' : '[0, 1]'}, got ${String(v)}`);
  };
  if (!(Number.isInteger(p.minSamples) && p.minSamples >= 1)) problems.push(`minSamples must be an integer ≥ 1, got ${p.minSamples}`);
  if (!(p.psiWarn > 0 && p.psiAlert > p.psiWarn)) problems.push(`psiWarn and psiAlert must satisfy 0 < psiWarn < psiAlert, got ${p.psiWarn} and ${p.psiAlert}`);
  inUnit('alpha', true);
  if (!['none', 'bonferroni', 'bh'].includes(p.correction)) problems.push(`correction must be 'none', 'bonferroni' or 'bh', got ${String(p.correction)}`);
  inUnit('missingIncreaseWarn');
  inUnit('missingIncreaseAlert');
  inUnit('outOfRangeWarn');
  inUnit('outOfRangeAlert');
  inUnit('deviceWarnShare');
  inUnit('deviceAlertShare');
  if (!(typeof p.flatRunMargin === 'number' && p.flatRunMargin >= 1 && p.flatRunMargin <= 100)) problems.push(`flatRunMargin must be in [1, 100], got ${String(p.flatRunMargin)}`);
  if (!(typeof p.calibrationMargin === 'number' && p.calibrationMargin >= 1 && p.calibrationMargin <= 100)) problems.push(`calibrationMargin must be in [1, 100], got ${String(p.calibrationMargin)}`);
  if (p.missingIncreaseAlert < p.missingIncreaseWarn) problems.push(`missingIncreaseAlert (${p.missingIncreaseAlert}) must be ≥ missingIncreaseWarn (${p.missingIncreaseWarn})`);
  if (p.outOfRangeAlert < p.outOfRangeWarn) problems.push(`outOfRangeAlert (${p.outOfRangeAlert}) must be ≥ outOfRangeWarn (${p.outOfRangeWarn})`);
  if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `drift policy is invalid: ${problems.join('; ')}`);
  return p;
}

const RANK: Record<DriftLevel, number> = { ok: 0, warn: 1, alert: 2 };
const max = (a: DriftLevel, b: DriftLevel): DriftLevel => (RANK[b] > RANK[a] ? b : a);

function testPValue(f: FeatureDrift): number | null {
  switch (f.kind) {
    case 'numeric':
      return f.ks?.pValue ?? null;
    case 'categorical':
      return f.chi2?.pValue ?? null;
    default: {
      const never: never = f;
      throw new EdgeloopError('BAD_ARGUMENT', `unknown feature kind: ${JSON.stringify(never)}`);
    }
  }
}

/** Per-feature thresholds; `calibratedPsi` is the feature's reference-window PSI maximum, when calibrated. */
interface FeatureThresholds {
  psiWarn: number;
  psiAlert: number;
  /** Whether a significant test may raise the level (false: supporting evidence only). */
  testRaises: boolean;
  /** Wasserstein-1 thresholds (calibrated numeric features only). */
  wWarn?: number;
  wAlert?: number;
  /** Longest acceptable flat run (calibrated numeric features only). */
  flatRunMax?: number;
}

function thresholdsFor(p: DriftPolicy, cal: ProfileCalibration | undefined, name: string): FeatureThresholds {
  if (!cal) return { psiWarn: p.psiWarn, psiAlert: p.psiAlert, testRaises: true };
  const scale = Math.max(1, (p.calibrationMargin * (cal.psiMax[name] ?? 0)) / p.psiWarn);
  const th: FeatureThresholds = { psiWarn: p.psiWarn * scale, psiAlert: p.psiAlert * scale, testRaises: false };
  const w = cal.wassersteinMax?.[name];
  if (w !== undefined && w > 0) {
    th.wWarn = p.calibrationMargin * w;
    th.wAlert = (p.calibrationMargin * w * p.psiAlert) / p.psiWarn;
  }
  const run = cal.flatRunMax?.[name];
  if (run !== undefined) th.flatRunMax = Math.max(1, Math.ceil(p.flatRunMargin * run));
  return th;
}

function featureLevel(f: FeatureDrift, adjustedP: number | null, refMissingRate: number, p: DriftPolicy, th: FeatureThresholds = thresholdsFor(p, undefined, '')): { level: DriftLevel; reasons: string[] } {
  let level: DriftLevel = 'ok';
  const reasons: string[] = [];
  const fmt = (x: number): string => x.toPrecision(3);
  if (f.kind === 'numeric' && f.flatRun !== undefined && th.flatRunMax !== undefined && f.flatRun > th.flatRunMax) {
    level = 'alert';
    reasons.push(`${f.name}: flat for ${f.flatRun} samples > ${th.flatRunMax} (stuck sensor)`);
  }
  if (f.kind === 'numeric' && f.wasserstein !== null && th.wWarn !== undefined && th.wAlert !== undefined && f.wasserstein >= th.wWarn) {
    level = max(level, f.wasserstein >= th.wAlert ? 'alert' : 'warn');
    reasons.push(`${f.name}: Wasserstein ${fmt(f.wasserstein)} ≥ ${fmt(f.wasserstein >= th.wAlert ? th.wAlert : th.wWarn)}`);
  }
  if (f.psi !== null && f.psi >= th.psiWarn) {
    level = max(level, f.psi >= th.psiAlert ? 'alert' : 'warn');
    reasons.push(`${f.name}: PSI ${fmt(f.psi)} ≥ ${fmt(f.psi >= th.psiAlert ? th.psiAlert : th.psiWarn)}`);
  }
  if (adjustedP !== null && adjustedP < p.alpha) {
    const test = f.kind === 'numeric' ? 'KS' : 'chi-square';
    if (th.testRaises) {
      level = max(level, f.psi !== null && f.psi >= th.psiWarn ? 'alert' : 'warn');
      reasons.push(`${f.name}: ${test} adjusted p ${adjustedP.toExponential(2)} < ${p.alpha}`);
    } else if (level !== 'ok') {
      reasons.push(`${f.name}: ${test} adjusted p ${adjustedP.toExponential(2)} < ${p.alpha} (supporting)`);
    }
  }
  const missingIncrease = f.missingRate - refMissingRate;
  if (missingIncrease >= p.missingIncreaseWarn) {
    level = max(level, missingIncrease >= p.missingIncreaseAlert ? 'alert' : 'warn');
    reasons.push(`${f.name}: missing rate ${fmt(f.missingRate)} vs reference ${fmt(refMissingRate)}`);
  }
  const outRate = f.kind === 'numeric' ? f.outOfRangeRate : f.unseenRate;
  if (outRate >= p.outOfRangeWarn) {
    level = max(level, outRate >= p.outOfRangeAlert ? 'alert' : 'warn');
    reasons.push(`${f.name}: ${f.kind === 'numeric' ? 'out-of-range' : 'unseen-category'} rate ${fmt(outRate)}`);
  }
  return { level, reasons };
}

/**
 * Evaluates a report. `profile` supplies the reference missing rates (a report carries only the
 * window's); features the profile does not know are compared against a missing rate of 0.
 */
export function evaluateDrift(report: DriftReport, profile: ReferenceProfile, policy: Partial<DriftPolicy> = {}): DriftEvaluation {
  const p = resolveDriftPolicy(policy);
  if (report.sampleCount < p.minSamples) {
    return { verdict: 'insufficient', drifted: [], reasons: [`${report.sampleCount} samples < minSamples ${p.minSamples}`] };
  }
  const cal = profile.calibration;
  // Thresholds hold for full windows of the calibrated size; a device configured with a smaller
  // count window is judged once its window is full (its thresholds are then optimistic: docs/drift.md).
  const fullAt = cal ? Math.min(cal.windowSize, report.window.kind === 'count' ? report.window.size : cal.windowSize) : 0;
  if (cal && report.sampleCount < fullAt) {
    return { verdict: 'insufficient', drifted: [], reasons: [`${report.sampleCount} samples < the full window of ${fullAt} the thresholds are calibrated for`] };
  }
  const refMissing = new Map(profile.features.map((f) => [f.name, f.missingRate]));
  const raw = report.features.map(testPValue);
  const tested = raw.map((v, i) => (v === null ? -1 : i)).filter((i) => i >= 0);
  const adjusted = adjustPValues(tested.map((i) => raw[i]!), p.correction);
  const adjustedOf = new Map(tested.map((i, k) => [i, adjusted[k]!]));
  const drifted: DriftedFeature[] = [];
  const reasons: string[] = [];
  let alerts = 0;
  report.features.forEach((f, i) => {
    const r = featureLevel(f, adjustedOf.get(i) ?? null, refMissing.get(f.name) ?? 0, p, thresholdsFor(p, cal, f.name));
    if (r.level === 'ok') return;
    if (r.level === 'alert') alerts++;
    drifted.push({ name: f.name, level: r.level, reasons: r.reasons });
  });
  const n = report.features.length;
  let verdict: DriftLevel = 'ok';
  // Calibrated thresholds already sit above everything the reference period produced on every
  // feature, so one feature past them is enough; the share rule is for uncalibrated thresholds.
  const alertShare = cal ? 1 / Math.max(1, n) : p.deviceAlertShare;
  const warnShare = cal ? 1 / Math.max(1, n) : p.deviceWarnShare;
  if (n > 0 && alerts / n >= alertShare && alerts > 0) {
    verdict = 'alert';
    reasons.push(`${alerts} of ${n} features at alert (share ≥ ${alertShare.toPrecision(2)})`);
  } else if (n > 0 && drifted.length / n >= warnShare && drifted.length > 0) {
    verdict = 'warn';
    reasons.push(`${drifted.length} of ${n} features drifted (share ≥ ${warnShare.toPrecision(2)})`);
  }
  if (report.output) {
    // The output has its own test; it is not part of the feature family for the correction.
    // A calibrated profile without a calibrated output: the output's day-to-day swings (a weekend
    // window predicts no occupancy at all) are unknown, so its PSI and test only support other evidence;
    // missing and unseen-category rates still count.
    const uncalibratedOutput = cal !== undefined && cal.psiMax[report.output.name] === undefined;
    const oth = uncalibratedOutput ? { psiWarn: Infinity, psiAlert: Infinity, testRaises: false } : thresholdsFor(p, cal, report.output.name);
    const o = featureLevel(report.output, testPValue(report.output), profile.output?.missingRate ?? 0, p, oth);
    if (o.level !== 'ok') {
      drifted.push({ name: report.output.name, level: o.level, reasons: o.reasons });
      verdict = max(verdict, o.level);
      reasons.push(`model output drifted (${o.level})`);
    }
  }
  return { verdict, drifted, reasons };
}
