/**
 * Leakage safety and batch/stream equality of the pipeline on synthetic data where the right
 * answer is known by construction.
 */
import test from 'ava';
import type { Frame } from '../src/frame.ts';
import { createStreamingPipeline, fitPipeline, transformPipeline } from '../src/pipeline/index.ts';
import { createRandom } from '../src/random.ts';
import { DEFAULT_PARTS, randomSplit } from '../src/split/assign.ts';
import type { FeatureModel } from '../src/select/selectors.ts';

test('windows never cross split boundaries or devices (random split, sliding windows)', (t) => {
  const n = 200;
  const f: Frame = { ts: [], device: [], num: { x: [], y: [] }, cat: {} };
  const random = createRandom(1);
  // Input order scrambled by device interleaving; the pipeline sorts by (device, ts).
  for (let i = 0; i < n; i++) {
    for (const [d, offset] of [['d2', 1000], ['d1', 0]] as const) {
      f.ts.push(i * 1000);
      f.device.push(d);
      f.num.x.push(offset + i);
      f.num.y.push(random.next() < 0.3 ? 1 : 0);
    }
  }
  const spec = {
    version: 1,
    input: { sensors: ['x'], label: { column: 'y', task: 'classification' } },
    split: { type: 'random', seed: 3 },
    features: { window: { type: 'sliding-count', sizeReadings: 3 }, stats: ['last', 'mean', 'min'] },
  };
  const { matrix } = fitPipeline(f, spec);
  // Same assignment the pipeline made: rows sorted by (device, ts) = d1 0..199 then d2 0..199.
  const assigned = randomSplit(2 * n, DEFAULT_PARTS, 3);
  const splitOf = (value: number): string | null => assigned[value >= 1000 ? n + value - 1000 : value];
  let expectedRows = 0;
  for (let k = 0; k < 2 * n; k++) {
    const same = k % n >= 2 && assigned[k] === assigned[k - 1] && assigned[k] === assigned[k - 2];
    if (same) expectedRows++;
  }
  t.is(matrix.X.length, expectedRows);
  matrix.X.forEach(([last, mean, min], i) => {
    t.is(mean, last - 1, `row ${i}: window is not 3 consecutive readings`);
    t.is(min, last - 2);
    for (const v of [last, last - 1, last - 2]) t.is(splitOf(v), matrix.split![i], `row ${i}: reading ${v} is in another split`);
    t.is(matrix.device[i], last >= 1000 ? 'd2' : 'd1');
  });
  t.deepEqual([...new Set(matrix.split)].sort(), ['test', 'train', 'val']);
});

test('cleaning is fitted on the train split only (impute median comes from train rows)', (t) => {
  const n = 100;
  const f: Frame = { ts: [], device: [], num: { x: [] }, cat: {} };
  for (let i = 0; i < n; i++) {
    f.ts.push(i * 60_000);
    f.device.push('d');
    f.num.x.push(i < 70 ? 10 + (i % 3) : 1000); // train (first 70 by time) ≈ 10–12, later rows 1000
  }
  f.num.x[95] = null;
  const spec = {
    version: 1,
    input: { sensors: ['x'] },
    clean: [{ op: 'impute', columns: ['x'], strategy: 'median' }],
    split: { type: 'time' },
    features: { window: { type: 'none' } },
  };
  const { matrix, report } = fitPipeline(f, spec);
  const row = matrix.ts.indexOf(95 * 60_000);
  t.is(matrix.split![row], 'test');
  t.is(matrix.X[row][0], 11); // median of the train rows, not of all rows (which would be 12 or 1000)
  t.deepEqual(report.rowsPerSplit, { train: 70, val: 15, test: 15 });
});

class CorrelationModel implements FeatureModel {
  private imp: number[] = [];
  fit(X: number[][], y: number[]): void {
    const my = y.reduce((a, b) => a + b, 0) / y.length;
    this.imp = X[0].map((_, j) => {
      const m = X.reduce((a, r) => a + r[j], 0) / X.length;
      const sxy = X.reduce((a, r, i) => a + (r[j] - m) * (y[i] - my), 0);
      const sxx = X.reduce((a, r) => a + (r[j] - m) ** 2, 0);
      return sxx > 0 ? Math.abs(sxy) / Math.sqrt(sxx) : 0;
    });
  }
  importances(): number[] {
    return this.imp;
  }
}

test('derived features and selection run on train rows; device means of val rows are train means', (t) => {
  const random = createRandom(9);
  const f: Frame = { ts: [], device: [], num: { a: [], b: [], y: [] }, cat: {} };
  for (let i = 0; i < 300; i++) {
    for (const d of ['d1', 'd2']) {
      const y = random.next() < 0.5 ? 1 : 0;
      f.ts.push(i * 1000);
      f.device.push(d);
      f.num.a.push(y * 2 + random.next() + (d === 'd2' ? 5 : 0));
      f.num.b.push(random.next());
      f.num.y.push(y);
    }
  }
  const spec = {
    version: 1,
    input: { sensors: ['a', 'b'], label: { column: 'y', task: 'classification' } },
    split: { type: 'time' },
    features: {
      window: { type: 'none' },
      derived: [{ type: 'polynomial', columns: ['a', 'b'], interactionOnly: true }, { type: 'device-mean', columns: ['a'] }],
    },
    select: [{ type: 'mutual-info', keep: 3, bins: 8 }, { type: 'rfe', keep: 2 }],
  };
  let fits = 0;
  const { fitted, matrix, report } = fitPipeline(f, spec, { rfeModel: () => { fits++; return new CorrelationModel(); } });
  t.deepEqual(report.selection[0].kept.length, 3);
  t.true(report.selection[0].kept.includes('a'));
  t.deepEqual(fitted.columns, report.selection[1].kept);
  t.true(fitted.columns.includes('a'));
  t.is(fits, 1);
  const dm = fitted.derived[1];
  t.is(dm.type, 'device-mean');
  if (dm.type === 'device-mean') {
    // Means over the train split only: recompute from the input rows of the first 70 % of time.
    const cutoff = Math.max(...matrix.ts.filter((_, i) => matrix.split![i] === 'train'));
    const idx = f.ts.map((ts, i) => (ts <= cutoff && f.device[i] === 'd2' ? i : -1)).filter((i) => i >= 0);
    const want = idx.reduce((s, i) => s + f.num.a[i]!, 0) / idx.length;
    t.true(Math.abs(dm.byDevice.d2[0] - want) < 1e-12);
    // A val row of d2 carries the train mean, whatever its own value.
    const j = [...fitted.baseColumns, 'a*b', 'a__device_mean'].indexOf('a__device_mean');
    t.is(fitted.derivedColumns[1][j], 'a__device_mean');
  }
});

test('streaming equals batch transform for interleaved devices, gaps, tumbling-time windows, FFT and dates', (t) => {
  const random = createRandom(77);
  const f: Frame = { ts: [], device: [], num: { v: [], w: [] }, cat: {} };
  const devices = ['a', 'b', 'c'];
  const clock = new Map(devices.map((d) => [d, Date.UTC(2024, 2, 30, 22, 0, 0)])); // spans the EU DST switch
  for (let k = 0; k < 3000; k++) {
    const d = devices[random.int(3)];
    let ts = clock.get(d)! + 1000;
    if (random.next() < 0.01) ts += 120_000; // a gap > maxGapMs
    clock.set(d, ts);
    f.ts.push(ts);
    f.device.push(d);
    f.num.v.push(Math.sin(ts / 5000) + random.next());
    f.num.w.push(random.next() < 0.01 ? null : 50 + random.next() * 10); // missing readings are skipped
  }
  const spec = {
    version: 1,
    input: { sensors: ['v', 'w'] },
    clean: [{ op: 'cap', columns: ['w'], min: 52, max: 58 }],
    features: {
      window: { type: 'tumbling-time', sizeMs: 16_000 },
      maxGapMs: 60_000,
      stats: ['mean', 'std', 'median', 'skew', 'kurt', 'slope', 'zero_crossings', 'mean_crossings', 'rms', 'dominant_freq'],
      sampleRateHz: 1,
      bands: [{ loHz: 0, hiHz: 0.1 }, { loHz: 0.1, hiHz: 0.5 }],
      date: { timeZone: 'Europe/Brussels', features: ['hour', 'weekday', 'weekend', 'seconds_since_midnight'] },
    },
    scale: { type: 'robust' },
  };
  const { fitted } = fitPipeline(f, spec);
  const batch = transformPipeline(f, spec, fitted);
  const stream = createStreamingPipeline(spec, fitted);
  const byDevice = new Map<string, number[][]>(devices.map((d) => [d, []]));
  for (let i = 0; i < f.ts.length; i++) {
    const row = stream.push({ ts: f.ts[i], device: f.device[i], values: { v: f.num.v[i], w: f.num.w[i] } });
    if (row) byDevice.get(f.device[i])!.push(row);
  }
  for (const r of stream.flush()) byDevice.get(r.device)!.push(r.row);
  const streamed = [...devices].sort().flatMap((d) => byDevice.get(d)!);
  t.true(batch.X.length > 150, `rows ${batch.X.length}`);
  t.is(streamed.length, batch.X.length);
  t.deepEqual(streamed, batch.X);
  t.true(stream.skippedReadings > 0);
});
