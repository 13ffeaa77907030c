/**
 * The streaming windower against the batch definitions: window boundaries against
 * enumerateWindows, values against windowStats (two-pass) and against pandas rolling.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { DeviceWindower, windowFeatureColumns, type WindowFeatureConfig } from '../src/features/streaming.ts';
import { windowStats, WINDOW_STATS, type WindowStat } from '../src/features/stats.ts';
import { enumerateWindows, type WindowSpec } from '../src/features/windows.ts';
import { createRandom } from '../src/random.ts';

const ALL_STATS: WindowStat[] = [...WINDOW_STATS];
const BANDS = [{ loHz: 0, hiHz: 0.2 }, { loHz: 0.2, hiHz: 0.6 }];

function near(a: number, b: number, scale: number): boolean {
  if (Number.isNaN(b)) return Number.isNaN(a);
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), scale);
}

/** Runs the windower and the batch oracle over one device and compares every emitted value. */
function compare(config: WindowFeatureConfig, tsMs: number[], rows: number[][], breaks: boolean[]): string | null {
  const windower = new DeviceWindower(config);
  const got: { tsMs: number; lastSeq: number; features: number[] }[] = [];
  for (let i = 0; i < tsMs.length; i++) {
    const e = windower.push(tsMs[i], rows[i], breaks[i]);
    if (e) got.push(e);
  }
  const last = windower.flush();
  if (last) got.push(last);
  const expected = enumerateWindows(tsMs, breaks, config.window, config.maxGapMs);
  if (got.length !== expected.length) return `window count ${got.length} vs ${expected.length}`;
  const width = windowFeatureColumns(config).length;
  const perSensor = config.stats.length + config.bands.length;
  for (let w = 0; w < expected.length; w++) {
    const { start, end } = expected[w];
    if (got[w].lastSeq !== end - 1) return `window ${w}: lastSeq ${got[w].lastSeq} vs ${end - 1}`;
    if (got[w].tsMs !== tsMs[end - 1]) return `window ${w}: tsMs`;
    const want = new Float64Array(width);
    config.sensors.forEach((_, j) => {
      if (config.window.type === 'none') {
        want[j] = rows[start][j];
        return;
      }
      const x = rows.slice(start, end).map((r) => r[j]);
      windowStats(x, tsMs.slice(start, end), config.stats, { ddof: config.ddof, sampleRateHz: config.sampleRateHz, bands: [...config.bands] }, want, j * perSensor);
    });
    const scale = Math.max(1, ...rows.slice(start, end).flat().map(Math.abs));
    for (let k = 0; k < width; k++) {
      // Spectral features are sums of squares; compare them on the squared scale.
      const s = k % perSensor >= config.stats.length ? scale * scale * (end - start) : scale;
      if (!near(got[w].features[k], want[k], s)) return `window ${w} [${start},${end}) column ${k}: ${got[w].features[k]} vs ${want[k]}`;
    }
  }
  return null;
}

const windowArb: fc.Arbitrary<WindowSpec> = fc.oneof(
  fc.constant<WindowSpec>({ type: 'none' }),
  fc.integer({ min: 1, max: 12 }).map((n): WindowSpec => ({ type: 'tumbling-count', sizeReadings: n })),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 })).map(([n, s]): WindowSpec => ({ type: 'sliding-count', sizeReadings: n, stepReadings: s })),
  fc.tuple(fc.integer({ min: 1000, max: 20000 }), fc.integer({ min: 1, max: 4 })).map(([ms, m]): WindowSpec => ({ type: 'tumbling-time', sizeMs: ms, minReadings: m })),
  fc.tuple(fc.integer({ min: 1000, max: 20000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 4 })).map(([ms, step, m]): WindowSpec => ({ type: 'sliding-time', sizeMs: ms, stepMs: step, minReadings: m })),
);

const valueArb = fc.oneof(
  fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -3, max: 3 }), // repeated values: ties in median and min/max, constant windows
);

test('windower equals the batch definitions on random data (fast-check)', (t) => {
  fc.assert(
    fc.property(
      windowArb,
      fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), valueArb, valueArb, fc.boolean()), { minLength: 1, maxLength: 80 }),
      fc.constantFrom(0, 1),
      (window, readings, ddof) => {
        let ts = 1_700_000_000_000;
        const tsMs: number[] = [];
        const rows: number[][] = [];
        const breaks: boolean[] = [];
        for (const [dt, a, b, brk] of readings) {
          ts += dt;
          tsMs.push(ts);
          rows.push([a, b]);
          breaks.push(brk && dt % 7 === 0);
        }
        const config: WindowFeatureConfig = { window, maxGapMs: 3000, sensors: ['a', 'b'], stats: ALL_STATS, ddof, sampleRateHz: 1, bands: BANDS };
        const problem = compare(config, tsMs, rows, breaks);
        return problem === null ? true : (() => { throw new Error(problem); })();
      },
    ),
    { numRuns: 300, seed: 424242 },
  );
  t.pass();
});

test('rolling mean/std stay exact over 200k readings with a large offset and level shifts', (t) => {
  const random = createRandom(7);
  const n = 200_000;
  const tsMs: number[] = [];
  const rows: number[][] = [];
  let level = 1e6;
  for (let i = 0; i < n; i++) {
    if (i % 50_000 === 0) level = level === 1e6 ? -3e5 : 1e6; // regime changes stress the shifted sums
    tsMs.push(i * 1000);
    rows.push([level + (random.next() - 0.5) * 1e-3 + i * 1e-6]);
  }
  const config: WindowFeatureConfig = { window: { type: 'sliding-count', sizeReadings: 64, stepReadings: 1 }, maxGapMs: 5000, sensors: ['x'], stats: ['mean', 'std', 'min', 'max', 'median'], ddof: 1, bands: [] };
  const windower = new DeviceWindower(config);
  let checked = 0;
  const want = new Float64Array(5);
  for (let i = 0; i < n; i++) {
    const e = windower.push(tsMs[i], rows[i]);
    if (e && (i % 997 === 0 || (i % 50_000 > 0 && i % 50_000 < 70))) {
      const x = rows.slice(i - 63, i + 1).map((r) => r[0]);
      windowStats(x, tsMs.slice(i - 63, i + 1), config.stats, { ddof: 1, bands: [] }, want, 0);
      for (let k = 0; k < 5; k++) {
        // Relative to each value itself (std ≈ 3e-4 on a 1e6 level): a naive running sum fails this.
        if (Math.abs(e.features[k] - want[k]) > 1e-9 * Math.abs(want[k])) t.fail(`reading ${i} stat ${config.stats[k]}: ${e.features[k]} vs ${want[k]}`);
      }
      checked++;
    }
  }
  t.true(checked > 250);
  t.is(windower.bufferedReadings, 64);
});

interface Golden { tsMs: number[]; windows: number[]; series: { name: string; values: number[]; rolling: Record<string, Record<string, (number | null)[]>> }[] }
const golden = JSON.parse(readFileSync(new URL('./fixtures/features-golden.json', import.meta.url), 'utf8')) as Golden;

test('windower (sliding-count, step 1) matches pandas rolling mean/std/min/max/median/skew/kurt', (t) => {
  const stats: WindowStat[] = ['mean', 'std', 'min', 'max', 'median', 'skew', 'kurt'];
  for (const s of golden.series) {
    for (const w of golden.windows) {
      const windower = new DeviceWindower({ window: { type: 'sliding-count', sizeReadings: w, stepReadings: 1 }, maxGapMs: 1e9, sensors: ['x'], stats, ddof: 1, bands: [] });
      for (let i = 0; i < s.values.length; i++) {
        const e = windower.push(golden.tsMs[i], [s.values[i]]);
        if (i < w - 1) {
          t.is(e, null);
          continue;
        }
        stats.forEach((stat, k) => {
          const ref = s.rolling[String(w)][stat][i]!;
          // pandas' rolling skew/kurt lose digits on the 1e4-offset series (raw power sums).
          const rel = (stat === 'skew' || stat === 'kurt') && s.name === 'offset_large' ? 1e-3 : 1e-9;
          if (Math.abs(e!.features[k] - ref) > rel * Math.max(Math.abs(ref), 1e-6)) t.fail(`${s.name} w=${w} i=${i} ${stat}: ${e!.features[k]} vs ${ref}`);
        });
      }
    }
  }
  t.pass();
});

test('time going backwards within a device is rejected with BAD_TIMESTAMP', (t) => {
  const windower = new DeviceWindower({ window: { type: 'sliding-count', sizeReadings: 3, stepReadings: 1 }, maxGapMs: 1000, sensors: ['x'], stats: ['mean'], ddof: 1, bands: [] });
  windower.push(5000, [1]);
  const err = t.throws(() => windower.push(4000, [2]));
  t.is((err as { code?: string }).code, 'BAD_TIMESTAMP');
  t.is(err?.message, 'tsMs must not decrease within a device: got 4000 after 5000');
});

test('column naming: <sensor>__<stat>, then <sensor>__band_<lo>_<hi>hz; identity uses the sensor name', (t) => {
  t.deepEqual(windowFeatureColumns({ window: { type: 'tumbling-count', sizeReadings: 4 }, sensors: ['CO2', 'Light'], stats: ['mean', 'kurt'], bands: [{ loHz: 0, hiHz: 0.5 }] }),
    ['CO2__mean', 'CO2__kurt', 'CO2__band_0_0.5hz', 'Light__mean', 'Light__kurt', 'Light__band_0_0.5hz']);
  t.deepEqual(windowFeatureColumns({ window: { type: 'none' }, sensors: ['CO2', 'Light'], stats: ['mean'], bands: [] }), ['CO2', 'Light']);
});
