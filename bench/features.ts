/**
 * Window-feature throughput against pandas rolling, measured in the same run on the same data.
 * Run: node --import tsx bench/features.ts [readings=1000000] [window=60]
 *
 * Data: 2 sensors of a deterministic random walk with noise (mulberry32), written once as
 * float64 to a temp file that the pandas script reads. Both sides compute sliding windows of
 * `window` readings, step 1, statistics mean/std(ddof 1)/min/max/median, and report the best of
 * 3 runs (computation only, no I/O). The per-column sums are cross-checked so both sides provably
 * computed the same numbers. Last line: `features: <rows/s> rows/s, pandas <rows/s> rows/s, ratio <r>`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceWindower, windowFeatureColumns, type WindowFeatureConfig } from '../src/features/streaming.ts';
import { createRandom } from '../src/random.ts';

const readings = Number(process.argv[2] ?? 1_000_000);
const window = Number(process.argv[3] ?? 60);
const SENSORS = 2;
const REPEATS = 3;

const random = createRandom(2024);
const data = new Float64Array(readings * SENSORS);
const level = [20, 400];
for (let i = 0; i < readings; i++) {
  for (let j = 0; j < SENSORS; j++) {
    level[j] += (random.next() - 0.5) * 0.1;
    data[i * SENSORS + j] = level[j] + (random.next() - 0.5);
  }
}
const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-'));
const file = join(dir, 'readings.f64');
writeFileSync(file, new Uint8Array(data.buffer));

const config: WindowFeatureConfig = {
  window: { type: 'sliding-count', sizeReadings: window, stepReadings: 1 },
  maxGapMs: 1e12,
  sensors: ['s0', 's1'],
  stats: ['mean', 'std', 'min', 'max', 'median'],
  ddof: 1,
  bands: [],
};
const columns = windowFeatureColumns(config);

function runOnce(): { seconds: number; sums: number[]; rows: number } {
  const t0 = process.hrtime.bigint();
  const w = new DeviceWindower(config);
  const sums = new Array<number>(columns.length).fill(0);
  let rows = 0;
  const values = new Float64Array(SENSORS);
  for (let i = 0; i < readings; i++) {
    values[0] = data[i * SENSORS];
    values[1] = data[i * SENSORS + 1];
    const e = w.push(i * 1000, values);
    if (e) {
      rows++;
      for (let k = 0; k < columns.length; k++) sums[k] += e.features[k];
    }
  }
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, sums, rows };
}

let best = Infinity;
let result = runOnce();
for (let r = 0; r < REPEATS; r++) {
  result = runOnce();
  best = Math.min(best, result.seconds);
}

const py = spawnSync('/usr/bin/python3', [new URL('./features_pandas.py', import.meta.url).pathname, file, String(SENSORS), String(window), String(REPEATS)], { encoding: 'utf8' });
rmSync(dir, { recursive: true, force: true });
if (py.status !== 0) {
  console.error(py.stderr);
  process.exit(1);
}
const pandas = JSON.parse(py.stdout.trim().split('\n').pop()!) as { seconds: number; rows: number; sums: Record<string, number> };

let worst = 0;
let worstColumn = '';
columns.forEach((c, k) => {
  const ref = pandas.sums[c];
  const d = Math.abs(result.sums[k] - ref) / Math.max(1, Math.abs(ref));
  if (d > worst) [worst, worstColumn] = [d, c];
});
// pandas' rolling var adds/removes raw values (no re-centering), so its std carries ~1e-9 relative
// error on a level of 400 with std 0.3; ours is re-centered. 1e-7 still catches any real mismatch.
if (worst > 1e-7) {
  console.error(`cross-check failed: worst relative difference of column sums ${worst} (${worstColumn})`);
  process.exit(1);
}
console.log(`readings ${readings}, window ${window}, sensors ${SENSORS}, stats mean/std/min/max/median, feature rows ${result.rows}`);
console.log(`edgeloop best of ${REPEATS}: ${best.toFixed(3)} s; pandas ${pandas.seconds.toFixed(3)} s; column sums agree to ${worst.toExponential(1)} (worst: ${worstColumn})`);
const ours = readings / best;
const theirs = readings / pandas.seconds;
console.log(`features: ${Math.round(ours)} rows/s, pandas ${Math.round(theirs)} rows/s, ratio ${(ours / theirs).toFixed(2)}`);
