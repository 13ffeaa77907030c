/**
 * End to end on the real UCI Occupancy data (datasets/occupancy): the example spec fits on the
 * training period only, the test periods come out identical through fit and transform, and the
 * streaming pipeline reproduces the batch rows reading by reading.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseCsv } from '../src/csv.ts';
import type { Frame } from '../src/frame.ts';
import { createStreamingPipeline, fitPipeline, transformPipeline, validatePipelineSpec } from '../src/pipeline/index.ts';
import { parseTimestamp } from '../src/time/parse-timestamp.ts';

const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as unknown;
const SENSORS = ['Temperature', 'Humidity', 'Light', 'CO2', 'HumidityRatio'];

function load(file: string): Frame {
  const table = parseCsv(readFileSync(new URL(`../datasets/occupancy/${file}`, import.meta.url), 'utf8'));
  const col = (name: string): number => table.header.indexOf(name);
  const frame: Frame = { ts: [], device: [], num: Object.fromEntries([...SENSORS, 'Occupancy'].map((s) => [s, []])), cat: {} };
  for (const r of table.rows) {
    frame.ts.push(parseTimestamp(r[col('date')], { format: 'local', timeZone: 'Europe/Brussels' }));
    frame.device.push('office');
    for (const s of [...SENSORS, 'Occupancy']) frame.num[s].push(Number(r[col(s)]));
  }
  return frame;
}

function concat(frames: Frame[]): Frame {
  const out: Frame = { ts: [], device: [], num: Object.fromEntries(Object.keys(frames[0].num).map((k) => [k, []])), cat: {} };
  for (const f of frames) {
    out.ts.push(...f.ts);
    out.device.push(...f.device);
    for (const k of Object.keys(out.num)) out.num[k].push(...f.num[k]);
  }
  return out;
}

const training = load('datatraining.txt');
const test1 = load('datatest.txt');
const test2 = load('datatest2.txt');
// Shuffled input order: the pipeline must not depend on it.
const all = concat([test2, training, test1]);
const { fitted, matrix, report } = fitPipeline(all, spec);

test('occupancy: rows land in their time-range splits; windows of 5 lose 4 rows per split', (t) => {
  t.deepEqual(report.rowsPerSplit, { train: 8143, test1: 2665, test2: 9752 });
  t.is(report.rowsUnassigned, 0);
  t.deepEqual(report.featureRows, { train: 8139, test1: 2661, test2: 9748 });
  t.is(report.droppedUnlabeled, 0);
  t.is(matrix.X.length, 8139 + 2661 + 9748);
  t.deepEqual(fitted.label, { column: 'Occupancy', task: 'classification', classes: ['0', '1'] });
  t.is(matrix.y!.filter((v, i) => v === 1 && matrix.split![i] === 'train').length, 1729 - training.num.Occupancy.slice(0, 4).filter((v) => v === 1).length);
});

test('occupancy: feature names and leakage-safe scaling (train columns have mean 0, std 1)', (t) => {
  t.true(fitted.columns.includes('Light__last'));
  t.true(fitted.columns.includes('CO2__slope'));
  t.true(fitted.columns.includes('ts__seconds_since_midnight'));
  t.true(fitted.columns.includes('ts__weekend'));
  // Selection ran in spec order and only removed columns.
  t.deepEqual(report.selection.map((s) => s.step), ['variance', 'correlation']);
  t.true(report.selection[1].kept.length <= report.selection[0].kept.length);
  t.deepEqual(report.selection[1].kept, fitted.columns);
  const train = matrix.X.filter((_, i) => matrix.split![i] === 'train');
  fitted.columns.forEach((c, j) => {
    const xs = train.map((r) => r[j]);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
    t.true(Math.abs(m) < 1e-9, `${c} train mean ${m}`);
    t.true(Math.abs(sd - 1) < 1e-9, `${c} train std ${sd}`);
  });
  // Test periods are scaled with train parameters, so their means are not 0.
  const t2 = matrix.X.filter((_, i) => matrix.split![i] === 'test2');
  const j = fitted.columns.indexOf('Light__last');
  t.true(Math.abs(t2.reduce((a, r) => a + r[j], 0) / t2.length) > 0.01);
  t.true(matrix.X.every((r) => r.every(Number.isFinite)));
});

test('occupancy: date features are Brussels local time (first training row 17:51 on a Wednesday)', (t) => {
  const first = matrix.ts.indexOf(Math.min(...matrix.ts.filter((_, i) => matrix.split![i] === 'train')));
  const j = fitted.columns.indexOf('ts__seconds_since_midnight');
  const { center, factor } = fitted.scaler;
  const raw = matrix.X[first][j] / factor[j] + center[j];
  // The 5th reading of the training file closes the first window: 2015-02-04 17:55:00 local.
  t.true(Math.abs(raw - (17 * 3600 + 55 * 60)) < 1e-6, `got ${raw}`);
});

test('occupancy: transform of each test file equals its rows from fit; the fitted state is plain JSON', (t) => {
  const roundTrip = JSON.parse(JSON.stringify(fitted)) as typeof fitted;
  for (const [name, frame] of [['test1', test1], ['test2', test2]] as const) {
    const m = transformPipeline(frame, spec, roundTrip);
    const idx = matrix.split!.map((s, i) => (s === name ? i : -1)).filter((i) => i >= 0);
    t.is(m.X.length, idx.length);
    t.deepEqual(m.ts, idx.map((i) => matrix.ts[i]));
    t.deepEqual(m.y, idx.map((i) => matrix.y![i]));
    t.deepEqual(m.X, idx.map((i) => matrix.X[i]));
  }
});

test('occupancy: the streaming pipeline reproduces the batch rows of test2 reading by reading', (t) => {
  const stream = createStreamingPipeline(spec, fitted);
  const batch = transformPipeline(test2, spec, fitted);
  const rows: number[][] = [];
  for (let i = 0; i < test2.ts.length; i++) {
    const values = Object.fromEntries(SENSORS.map((s) => [s, test2.num[s][i]]));
    const row = stream.push({ ts: test2.ts[i], device: 'office', values });
    if (row) rows.push(row);
  }
  t.deepEqual(stream.flush(), []);
  t.is(rows.length, batch.X.length);
  let worst = 0;
  rows.forEach((r, i) => r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - batch.X[i][j]) / Math.max(1, Math.abs(batch.X[i][j]))))));
  t.true(worst <= 1e-9, `worst relative difference ${worst}`);
});

test('occupancy: a separability check — a one-feature threshold on scaled Light__last beats the baselines', (t) => {
  const j = fitted.columns.indexOf('Light__last');
  const accuracy = (name: string): number => {
    const idx = matrix.split!.map((s, i) => (s === name ? i : -1)).filter((i) => i >= 0);
    // Threshold chosen on train only: midpoint between the class means of the train rows.
    return idx.filter((i) => (matrix.X[i][j] > cut ? 1 : 0) === matrix.y![i]).length / idx.length;
  };
  const trainIdx = matrix.split!.map((s, i) => (s === 'train' ? i : -1)).filter((i) => i >= 0);
  const meanOf = (c: number): number => { const v = trainIdx.filter((i) => matrix.y![i] === c).map((i) => matrix.X[i][j]); return v.reduce((a, b) => a + b, 0) / v.length; };
  const cut = (meanOf(0) + meanOf(1)) / 2;
  t.true(accuracy('test1') > 0.9, `test1 ${accuracy('test1')}`); // baseline 0.635
  t.true(accuracy('test2') > 0.9, `test2 ${accuracy('test2')}`); // baseline 0.790
});

test('the example spec validates and its hash is stable across key order', (t) => {
  const a = validatePipelineSpec(spec);
  t.is(a.features.window.type, 'sliding-count');
  const reverseKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(reverseKeys) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
  const reordered = reverseKeys(spec);
  t.notDeepEqual(Object.keys(reordered as object), Object.keys(spec as object));
  t.is(fitPipeline(concat([training, test1]), reordered).fitted.specHash, fitted.specHash);
  t.regex(fitted.specHash, /^[0-9a-f]{64}$/);
});
