/**
 * The typed-array trainer (models/nn/dense-typed.ts) against tfjs: autograd + tf.train.adam (the
 * independent reference: tfjs's own gradients and optimizer) and the fused tfjs step, from the same
 * seeded initialization. Same epoch losses and weights to float32 rounding for every head, hidden
 * activation, penalty, class weights, full batch and early stopping; bit-for-bit deterministic with
 * a seed; chosen by 'auto' only for small dense nets; refused with a reason for other nets; and the
 * trained net exports to ONNX and runs in onnxruntime with the predictions of the tfjs model.
 */
import test from 'ava';
import { createRunner } from '../device/runner.ts';
import { exportModel } from '../models/export/index.ts';
import { mlp } from '../models/nn/architectures.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import type { NeuralNetInput } from '../models/nn/options.ts';
import { loadTf } from '../models/nn/tf.ts';
import type { NeuralNetTrainer } from '../models/nn/train.ts';
import { EdgeloopError } from '../src/errors.ts';
import { assertSameTraining, data, DENSE_CASES, fitWith, type DenseCase } from './helpers/dense-nets.ts';
import { readOccupancy } from './helpers/models-occupancy.ts';

// The shared nets, and one whose last hidden layer is linear and whose last batch is short.
const CASES: DenseCase[] = [
  ...DENSE_CASES.slice(0, 3),
  ['two hidden layers 4 → 16 relu → 3 linear → sigmoid head, a last batch of 3 rows', { task: 'classification', layers: [{ kind: 'dense', units: 16 }, { kind: 'dense', units: 3, activation: 'linear' }], epochs: 5, batchSize: 33, optimizer: 'adam', learningRate: 0.01, seed: 13 }, { k: 2 }],
  ...DENSE_CASES.slice(3),
];

for (const [name, options, c] of CASES) {
  test(`typed-array trainer = tfjs autograd = tfjs fused: ${name}`, async (t) => {
    await loadTf({ prefer: ['wasm'] });
    const train = data(300, 4, c.k, 1, c.regression);
    const val = c.validation ? data(100, 4, c.k, 2, c.regression) : undefined;
    const typed = await fitWith('typed-array', options, train.X, train.y, val);
    t.is(typed.history.trainer, 'typed-array');
    for (const reference of ['tfjs-autograd', 'tfjs-fused'] as const) {
      const ref = await fitWith(reference, options, train.X, train.y, val);
      t.is(ref.history.trainer, reference);
      assertSameTraining(t, `${reference}: `, typed, ref);
      ref.net.dispose();
    }
    // Not trivially equal: training moved the weights away from the shared initialization.
    t.true(typed.history.epochs.at(-1)!.loss < typed.history.epochs[0]!.loss);
    typed.net.dispose();
  });
}

test('typed-array training is deterministic: same seed, bit-identical weights; another seed differs', async (t) => {
  await loadTf({ prefer: ['wasm'] });
  const { X, y } = data(250, 5, 3, 21);
  const options: NeuralNetInput = { task: 'classification', layers: mlp([12]), epochs: 4, batchSize: 20, optimizer: 'adam', learningRate: 0.01, seed: 8 };
  const a = await fitWith('typed-array', options, X, y);
  const b = await fitWith('typed-array', options, X, y);
  const c = await fitWith('typed-array', { ...options, seed: 9 }, X, y);
  t.deepEqual(a.weights, b.weights);
  t.notDeepEqual(a.weights, c.weights);
  for (const r of [a, b, c]) r.net.dispose();
});

test("'auto' picks typed-array for small dense Adam nets, tfjs-fused for large ones and autograd otherwise", async (t) => {
  await loadTf({ prefer: ['wasm'] });
  const { X, y } = data(64, 4, 2, 3);
  const trainerOf = async (options: Partial<NeuralNetInput>, rows = X): Promise<string> => {
    const net = new NeuralNet({ task: 'classification', layers: mlp([8]), epochs: 1, batchSize: 32, ...options }, { backends: ['wasm'] });
    const h = await net.fit(rows, y);
    net.dispose();
    return h.trainer;
  };
  t.is(await trainerOf({}), 'typed-array');
  t.is(await trainerOf({ layers: mlp([8], { dropout: 0.2 }) }), 'tfjs-autograd');
  t.is(await trainerOf({ optimizer: 'sgd' }), 'tfjs-autograd');
  // 4·200 + 200·100 = 20,800 multiply-adds per row > TYPED_ARRAY_MAX_MACS_PER_ROW (16,384).
  t.is(await trainerOf({ layers: mlp([200, 100]) }), 'tfjs-fused');
});

test("trainer 'typed-array' on a net it cannot train, or an unknown trainer: BAD_ARGUMENT with the reason", async (t) => {
  await loadTf({ prefer: ['wasm'] });
  const { X, y } = data(40, 4, 2, 4);
  const net = new NeuralNet({ task: 'classification', layers: mlp([8], { dropout: 0.2 }), epochs: 1 }, { backends: ['wasm'], trainer: 'typed-array' });
  const err = await t.throwsAsync(net.fit(X, y), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_ARGUMENT');
  t.is(err?.message, "trainer 'typed-array' needs dense layers only (no dropout, conv1d or recurrent layers), hidden activations linear, relu, sigmoid or tanh, flat inputs and optimizer adam; use 'auto' or 'tfjs-autograd' for this net");
  const bad = t.throws(() => new NeuralNet({ task: 'classification', layers: mlp([8]) }, { trainer: 'gpu' as NeuralNetTrainer }), { instanceOf: EdgeloopError });
  t.is(bad?.code, 'BAD_ARGUMENT');
  t.is(bad?.message, 'trainer must be one of auto, typed-array, tfjs-fused, tfjs-autograd, got "gpu"');
});

test('occupancy MLP [32] (20 epochs): typed-array and tfjs-fused reach the same weights and accuracy; the ONNX export runs in onnxruntime like predict', async (t) => {
  await loadTf({ prefer: ['wasm'] });
  const train = readOccupancy('datatraining.txt');
  const test1 = readOccupancy('datatest.txt');
  const d = train.X[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => train.X.reduce((a, row) => a + row[j]!, 0) / train.X.length);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(train.X.reduce((a, row) => a + (row[j]! - mean[j]!) ** 2, 0) / train.X.length) || 1);
  const z = (rows: number[][]): number[][] => rows.map((row) => row.map((v, j) => (v - mean[j]!) / std[j]!));
  const options: NeuralNetInput = { task: 'classification', layers: mlp([32]), epochs: 20, batchSize: 200, optimizer: 'adam', learningRate: 0.001, seed: 4 };
  const typed = await fitWith('typed-array', options, z(train.X), train.y);
  const fused = await fitWith('tfjs-fused', options, z(train.X), train.y);
  const worst = Math.max(...typed.weights.map((w, i) => Math.abs(w - fused.weights[i]!)));
  t.true(worst < 1e-3, `largest weight difference ${worst}`);
  const accTyped = typed.net.score(z(test1.X), test1.y);
  const accFused = fused.net.score(z(test1.X), test1.y);
  t.log(`test1 accuracy: typed-array ${accTyped.toFixed(4)}, tfjs-fused ${accFused.toFixed(4)}; largest weight difference ${worst.toExponential(2)}`);
  t.true(Math.abs(accTyped - accFused) <= 0.002, `${accTyped} vs ${accFused}`);
  t.true(accTyped > 0.85);

  const probe = z(test1.X.slice(0, 50));
  const { bytes } = exportModel({ body: typed.net.toIR() }, { format: 'onnx' });
  const runner = await createRunner('onnx', bytes);
  try {
    const [out] = await runner.run(Float32Array.from(probe.flat()), [probe.length, d]);
    const proba = typed.net.predictProba(probe).map((p) => p[1]!);
    const maxErr = Math.max(...proba.map((p, i) => Math.abs(p - out![i]!)));
    t.true(maxErr < 1e-5, `onnxruntime vs predictProba: ${maxErr}`);
  } finally {
    await runner.close();
  }
  typed.net.dispose();
  fused.net.dispose();
});
