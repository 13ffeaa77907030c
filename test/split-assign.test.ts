import test from 'ava';
import { DEFAULT_PARTS, partCounts, randomSplit, stratifiedSplit, timeRangeSplit, timeSplit } from '../src/split/assign.ts';
import { kFold, stratifiedKFold, timeSeriesFolds } from '../src/split/cv.ts';
import { createRandom } from '../src/random.ts';

function count<T>(xs: readonly T[], v: T): number {
  return xs.filter((x) => x === v).length;
}

test('random split: 70/15/15 counts by largest remainder, every row assigned, seeded', (t) => {
  const a = randomSplit(101, DEFAULT_PARTS, 1);
  t.deepEqual(partCounts(101, DEFAULT_PARTS), [71, 15, 15]);
  t.is(count(a, 'train'), 71);
  t.is(count(a, 'val'), 15);
  t.is(count(a, 'test'), 15);
  t.deepEqual(randomSplit(101, DEFAULT_PARTS, 1), a);
  t.notDeepEqual(randomSplit(101, DEFAULT_PARTS, 2), a);
  // Not simply the first 71 rows.
  t.true(a.slice(0, 71).some((s) => s !== 'train'));
});

test('stratified split keeps class shares in every split', (t) => {
  const random = createRandom(3);
  const labels = Array.from({ length: 1000 }, () => (random.next() < 0.2 ? 'occupied' : 'empty'));
  const s = stratifiedSplit(labels, DEFAULT_PARTS, 9);
  const total = count(labels, 'occupied');
  for (const [name, f] of [['train', 0.7], ['val', 0.15], ['test', 0.15]] as const) {
    const inSplit = labels.filter((_, i) => s[i] === name && labels[i] === 'occupied').length;
    t.true(Math.abs(inSplit - total * f) <= 1, `${name}: ${inSplit} vs ${total * f}`);
  }
  const err = t.throws(() => stratifiedSplit(['a', null, 'b'], DEFAULT_PARTS, 1));
  t.is((err as { code?: string }).code, 'BAD_DATA');
  t.is(err?.message, 'stratified split: label of row 1 is missing');
});

test('time split orders parts in time and drops rows within gapMs after each cut', (t) => {
  const ts = Array.from({ length: 100 }, (_, i) => (99 - i) * 1000); // reversed input order
  const s = timeSplit(ts, DEFAULT_PARTS);
  const maxOf = (name: string): number => Math.max(...ts.filter((_, i) => s[i] === name));
  const minOf = (name: string): number => Math.min(...ts.filter((_, i) => s[i] === name));
  t.true(maxOf('train') < minOf('val'));
  t.true(maxOf('val') < minOf('test'));
  t.is(count(s, 'train'), 70);
  const g = timeSplit(ts, DEFAULT_PARTS, 2500);
  t.is(count(g, 'train'), 70);
  t.is(count(g, 'val'), 13); // two val rows within 2.5 s of the last train row dropped
  t.is(count(g, 'test'), 13);
  t.is(count(g, null), 4);
  t.true(minOf('val') - maxOf('train') <= 1000);
  t.true(Math.min(...ts.filter((_, i) => g[i] === 'val')) - 69_000 > 2500);
});

test('time range split assigns named ranges and leaves other rows out', (t) => {
  const s = timeRangeSplit([0, 5, 10, 15, 20, 25], [{ name: 'test1', startMs: 0, endMs: 10 }, { name: 'train', startMs: 10, endMs: 20 }]);
  t.deepEqual(s, ['test1', 'test1', 'train', 'train', null, null]);
  const err = t.throws(() => timeRangeSplit([1], [{ name: 'a', startMs: 0, endMs: 10 }, { name: 'b', startMs: 5, endMs: 20 }]));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(err?.message, "ranges: ranges 'a' and 'b' overlap");
});

test('bad split fractions are rejected with the argument and the allowed range', (t) => {
  const e1 = t.throws(() => randomSplit(10, [{ name: 'train', fraction: 0.7 }, { name: 'test', fraction: 0.2 }], 1));
  t.is((e1 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e1?.message, 'parts: fractions must sum to 1, got 0.8999999999999999');
  const e2 = t.throws(() => randomSplit(10, [{ name: 'train', fraction: 1.5 }], 1));
  t.is(e2?.message, "parts: fraction of 'train' must be in (0, 1], got 1.5");
  const e3 = t.throws(() => timeSplit([1, 2], DEFAULT_PARTS, -1));
  t.is(e3?.message, 'gapMs must be ≥ 0, got -1');
});

test('k-fold partitions the rows; folds are disjoint and seeded', (t) => {
  const folds = kFold(23, 5, { seed: 4 });
  t.deepEqual(folds.map((f) => f.test.length), [5, 5, 5, 4, 4]);
  t.deepEqual(folds.flatMap((f) => f.test).sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
  for (const f of folds) {
    t.is(f.train.length + f.test.length, 23);
    t.false(f.test.some((i) => f.train.includes(i)));
  }
  t.deepEqual(kFold(23, 5, { seed: 4 }), folds);
  t.deepEqual(kFold(6, 3, { shuffle: false }).map((f) => f.test), [[0, 1], [2, 3], [4, 5]]);
  const err = t.throws(() => kFold(3, 4));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(err?.message, 'k must be ≤ the number of rows (3), got 4');
  t.is(t.throws(() => kFold(10, 1))?.message, 'k must be an integer ≥ 2, got 1');
});

test('stratified k-fold keeps each class within one row of its share in every fold', (t) => {
  const labels = Array.from({ length: 97 }, (_, i) => (i % 5 === 0 ? 1 : 0));
  const folds = stratifiedKFold(labels, 4, 11);
  const ones = count(labels, 1);
  for (const f of folds) {
    const inFold = f.test.filter((i) => labels[i] === 1).length;
    t.true(Math.abs(inFold - ones / 4) <= 1);
    t.true(Math.abs(f.test.length - 97 / 4) <= 1);
  }
  t.deepEqual(folds.flatMap((f) => f.test).sort((a, b) => a - b), Array.from({ length: 97 }, (_, i) => i));
});

test('time-series folds match scikit-learn TimeSeriesSplit (plain, gap, max_train_size)', (t) => {
  const r = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  t.deepEqual(timeSeriesFolds(10, 3), [{ train: r(0, 3), test: [4, 5] }, { train: r(0, 5), test: [6, 7] }, { train: r(0, 7), test: [8, 9] }]);
  t.deepEqual(timeSeriesFolds(10, 3, { gap: 1 }), [{ train: r(0, 2), test: [4, 5] }, { train: r(0, 4), test: [6, 7] }, { train: r(0, 6), test: [8, 9] }]);
  t.deepEqual(timeSeriesFolds(10, 3, { maxTrainSize: 3 }), [{ train: r(1, 3), test: [4, 5] }, { train: r(3, 5), test: [6, 7] }, { train: r(5, 7), test: [8, 9] }]);
  const err = t.throws(() => timeSeriesFolds(5, 3, { gap: 3 }));
  t.is((err as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(err?.message, 'k=3 folds with testSize=1 and gap=3 need more than 6 rows, got 5');
});

test('the shared PRNG is deterministic, uniform enough, and rejects bad arguments', (t) => {
  const a = createRandom(42);
  const b = createRandom(42);
  const xs = Array.from({ length: 10_000 }, () => a.next());
  t.deepEqual(Array.from({ length: 10_000 }, () => b.next()), xs);
  t.true(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  t.true(Math.abs(mean - 0.5) < 0.01);
  const e1 = t.throws(() => createRandom(Number.NaN));
  t.is((e1 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e1?.message, 'seed must be a finite number, got NaN');
  const e2 = t.throws(() => a.int(0));
  t.is((e2 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e2?.message, 'n must be a positive integer, got 0');
});
