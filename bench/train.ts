/**
 * Training benchmark on the occupancy features (5 sensors + NSM + weekend): accuracy on both
 * test files and fit time for our models vs scikit-learn (n_jobs=1) measured in the same run.
 * Run: node --import tsx bench/train.ts
 */
import { spawnSync } from 'node:child_process';
import { createModel, type ModelKind } from '../models/registry.ts';
import type { Classifier } from '../models/types.ts';
import { readOccupancy } from '../test/helpers/models-occupancy.ts';

const REPEATS = 3;
const train = readOccupancy('datatraining.txt');
const tests = [readOccupancy('datatest.txt'), readOccupancy('datatest2.txt')];

interface Row { family: string; kind: ModelKind; params: Record<string, unknown>; exportable: boolean }
const ROWS: Row[] = [
  { family: 'random-forest', kind: 'random-forest-classifier', params: { nEstimators: 100, seed: 0 }, exportable: true },
  { family: 'logistic-regression', kind: 'logistic-regression', params: {}, exportable: true },
  { family: 'lda', kind: 'lda', params: {}, exportable: true },
];

const py = spawnSync('/usr/bin/python3', [new URL('./train_sklearn.py', import.meta.url).pathname], {
  input: JSON.stringify({ X: train.X, y: train.y, tests, repeats: REPEATS }), encoding: 'utf8', maxBuffer: 1 << 26,
});
if (py.status !== 0) throw new Error(`sklearn baseline failed: ${py.stderr}`);
const sk = JSON.parse(py.stdout) as Record<string, { fitMs: number; accuracy: number[] }>;

const results: { row: Row; fitMs: number; accuracy: number[] }[] = [];
for (const row of ROWS) {
  let best = Infinity;
  let model: Classifier | undefined;
  for (let r = 0; r < REPEATS; r++) {
    const m = createModel(row.kind, row.params) as Classifier;
    const t0 = performance.now();
    m.fit(train.X, train.y);
    best = Math.min(best, performance.now() - t0);
    model = m;
  }
  const accuracy = tests.map((t) => model!.score(t.X, t.y));
  results.push({ row, fitMs: best, accuracy });
  const s = sk[row.family];
  console.log(`${row.family.padEnd(20)} ours: test1 ${accuracy[0].toFixed(4)} test2 ${accuracy[1].toFixed(4)} fit ${best.toFixed(0)} ms | sklearn: test1 ${s.accuracy[0].toFixed(4)} test2 ${s.accuracy[1].toFixed(4)} fit ${s.fitMs.toFixed(0)} ms | ratio ${(best / s.fitMs).toFixed(2)}`);
}
const mlp = sk.mlp;
console.log(`${'mlp'.padEnd(20)} ours: not benchmarked here (models/nn is another helper's) | sklearn MLPClassifier(32): test1 ${mlp.accuracy[0].toFixed(4)} test2 ${mlp.accuracy[1].toFixed(4)} fit ${mlp.fitMs.toFixed(0)} ms`);

const best = results.filter((r) => r.row.exportable).sort((a, b) => Math.min(...b.accuracy) - Math.min(...a.accuracy))[0];
console.log(`occupancy: test1 ${best.accuracy[0].toFixed(4)}, test2 ${best.accuracy[1].toFixed(4)}, model ${best.row.kind}`);
const worst = results.filter((r) => r.row.family !== 'lda').map((r) => ({ r, ratio: r.fitMs / sk[r.row.family].fitMs })).sort((a, b) => b.ratio - a.ratio)[0];
const skAcc = sk[worst.r.row.family].accuracy;
console.log(`train: accuracy ${worst.r.accuracy[0].toFixed(4)} vs sklearn ${skAcc[0].toFixed(4)}, time ratio ${worst.ratio.toFixed(2)}`);
