import test from 'ava';
import fc from 'fast-check';
import { createRandom } from '../src/random.ts';
import { buildReferenceProfile, binIndex, quantileSample, type ReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor, type SampleValue } from '../src/drift/monitor.ts';
import { psi, jensenShannonDistance, wasserstein1 } from '../src/drift/divergence.ts';
import { ksTwoSample } from '../src/drift/ks.ts';
import { chiSquareContingency } from '../src/drift/chi-square.ts';
import { parseDriftReport, type NumericFeatureDrift, type CategoricalFeatureDrift } from '../src/drift/report.ts';
import type { FeatureMatrix } from '../src/frame.ts';
import { EdgeloopError } from '../src/errors.ts';

function gauss(r: { next(): number }): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

/** Training matrix: temp ~ N(20, 2), co2 ~ 400 + 100·U, mode ∈ {0, 1, 2}; prediction = class 0/1. */
function trainingProfile(rows = 2000): ReferenceProfile {
  const r = createRandom(7);
  const X: number[][] = [];
  const pred: number[] = [];
  for (let i = 0; i < rows; i++) {
    X.push([20 + 2 * gauss(r), 400 + 100 * r.next(), r.int(3)]);
    pred.push(r.next() < 0.3 ? 1 : 0);
  }
  const matrix: FeatureMatrix = { columns: ['temp', 'co2', 'mode'], X, ts: X.map((_, i) => i), device: X.map(() => 'd') };
  return buildReferenceProfile(['temp', 'co2', { name: 'mode', kind: 'categorical' }], matrix, { output: { kind: 'classification', values: pred } });
}

const profile = trainingProfile();

test('profile has deduplicated bins for the categorical-like and the expected shape', (t) => {
  const temp = profile.features[0]!;
  t.is(temp.kind, 'numeric');
  if (temp.kind !== 'numeric') return;
  t.is(temp.edges.length, 9);
  t.is(temp.counts.reduce((a, b) => a + b, 0), 2000);
  t.is(temp.sample.length, 512);
  t.true(temp.sample.every((v, i) => i === 0 || v >= temp.sample[i - 1]!));
  const mode = profile.features[2]!;
  t.is(mode.kind, 'categorical');
  if (mode.kind === 'categorical') t.deepEqual(mode.categories, ['0', '1', '2']);
  t.is(profile.output?.kind, 'categorical');
  // The profile is plain JSON (it travels in the model manifest).
  t.deepEqual(JSON.parse(JSON.stringify(profile)), profile);
});

test('rolling count window equals a batch computation on the last N samples (property)', (t) => {
  const numeric = profile.features[0]!;
  if (numeric.kind !== 'numeric') throw new Error('expected numeric');
  const mode = profile.features[2]!;
  if (mode.kind !== 'categorical') throw new Error('expected categorical');
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 120 }),
      fc.array(fc.tuple(fc.option(fc.double({ min: 5, max: 35, noNaN: true }), { freq: 6 }), fc.constantFrom<SampleValue>('0', 1, 2, 'x', null)), { minLength: 1, maxLength: 300 }),
      (windowSize, stream) => {
        const m = createDriftMonitor(profile, { windowSize, ksMaxSample: 64, now: () => 0 });
        stream.forEach(([temp, cat], i) => m.update([temp, 450, cat], { tsMs: i, prediction: i % 3 === 0 ? 1 : 0 }));
        const last = stream.slice(-windowSize);
        const rep = m.report({ nowMs: 1e9 });
        t.is(rep.sampleCount, last.length);
        const f = rep.features[0] as NumericFeatureDrift;
        const present = last.map(([v]) => v).filter((v): v is number => v !== null);
        t.is(f.count, present.length);
        t.is(f.missingRate, (last.length - present.length) / last.length);
        if (present.length === 0) {
          t.is(f.psi, null);
          t.is(f.ks, null);
        } else {
          const counts = new Array<number>(numeric.counts.length).fill(0);
          for (const v of present) counts[binIndex(numeric.edges, v)]!++;
          t.is(f.psi, psi(numeric.counts, counts));
          t.is(f.js, jensenShannonDistance(numeric.counts, counts));
          const sorted = Float64Array.from(present).sort();
          const ksSample = sorted.length > 64 ? quantileSample(sorted, 64) : Array.from(sorted);
          t.deepEqual(f.ks, ksTwoSample(numeric.sample, ksSample));
          t.true(Math.abs(f.wasserstein! - wasserstein1(numeric.sample, ksSample)) < 1e-9);
          t.is(f.outOfRangeRate, present.filter((v) => v < numeric.validLow || v > numeric.validHigh).length / present.length);
        }
        const c = rep.features[2] as CategoricalFeatureDrift;
        const cats = last.map(([, v]) => v).filter((v) => v !== null);
        t.is(c.count, cats.length);
        if (cats.length > 0) {
          const cc = [0, 0, 0, 0];
          for (const v of cats) cc[['0', '1', '2'].indexOf(String(v)) === -1 ? 3 : ['0', '1', '2'].indexOf(String(v))]!++;
          t.is(c.unseenRate, cc[3]! / cats.length);
          t.deepEqual(c.chi2, chiSquareContingency([[...mode.counts, 0], cc]));
        }
      },
    ),
    { numRuns: 60, seed: 42 },
  );
});

test('time window evicts samples older than windowMs and honours maxSamples', (t) => {
  let clock = 0;
  const m = createDriftMonitor(profile, { windowMs: 1000, maxSamples: 50, now: () => clock });
  for (let i = 0; i < 30; i++) m.update([20, 450, 1], { tsMs: i * 100, prediction: 0 });
  // Newest ts 2900: the window keeps ts in (1900, 2900].
  t.is(m.sampleCount, 10);
  clock = 3500;
  const rep = m.report();
  t.is(rep.sampleCount, 4); // (2500, 3500]
  t.is(rep.windowStartMs, 2600);
  t.is(rep.windowEndMs, 2900);
  t.deepEqual(rep.window, { kind: 'time', ms: 1000 });
  for (let i = 0; i < 80; i++) m.update([20, 450, 1], { tsMs: 4000 }); // same ms: only the cap evicts
  t.is(m.sampleCount, 50);
  m.reset();
  t.is(m.sampleCount, 0);
  t.is(m.report().features[0]!.psi, null);
});

test('same distribution scores low; a +3σ shift, a stuck sensor and an unseen category are caught', (t) => {
  const r = createRandom(99);
  const same = createDriftMonitor(profile, { windowSize: 500 });
  const shifted = createDriftMonitor(profile, { windowSize: 500 });
  for (let i = 0; i < 500; i++) {
    const temp = 20 + 2 * gauss(r);
    const co2 = 400 + 100 * r.next();
    same.update([temp, co2, r.int(3)], { prediction: r.next() < 0.3 ? 1 : 0 });
    shifted.update([temp + 6, 450, 'boost'], { prediction: 1 });
  }
  const a = same.report();
  const b = shifted.report();
  const [ta, ca, ma] = a.features as [NumericFeatureDrift, NumericFeatureDrift, CategoricalFeatureDrift];
  const [tb, cb, mb] = b.features as [NumericFeatureDrift, NumericFeatureDrift, CategoricalFeatureDrift];
  t.true(ta.psi! < 0.05, `psi same ${ta.psi}`);
  t.true(ta.ks!.pValue > 0.001);
  t.true(ca.psi! < 0.05);
  t.true(ma.chi2!.pValue > 0.001);
  t.true(tb.psi! > 1, `psi shifted ${tb.psi}`);
  t.true(tb.ks!.statistic > 0.8 && tb.ks!.pValue < 1e-20);
  t.true(Math.abs(tb.wasserstein! - 6) < 0.5, `wasserstein ${tb.wasserstein}`);
  t.true(Math.abs(tb.mean! - ta.mean! - 6) < 1e-9);
  t.true(cb.psi! > 1, 'a stuck co2 sensor fills one bin'); // 450 is inside the range: only the histogram sees it
  t.is(mb.unseenRate, 1);
  t.true(mb.chi2!.pValue < 1e-20);
  t.true(b.output!.kind === 'categorical' && b.output!.psi! > 0.5);
});

test('the report is a valid MQTT payload: JSON round trip and schema validation', (t) => {
  const m = createDriftMonitor(profile, { windowSize: 100, now: () => 1234 });
  for (let i = 0; i < 10; i++) m.update([20 + i, null, i % 3], { tsMs: i, prediction: 1 });
  const rep = m.report();
  const back = parseDriftReport(JSON.parse(JSON.stringify(rep)));
  t.deepEqual(back, rep);
  t.is(rep.generatedAtMs, 1234);
  t.is((rep.features[1] as NumericFeatureDrift).missingRate, 1);
  const err = t.throws(() => parseDriftReport({ ...rep, version: 2, sampleCount: -1 }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_PAYLOAD');
  t.regex(err.message, /version/);
  t.regex(err.message, /sampleCount/);
});
