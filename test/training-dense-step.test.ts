/**
 * The hand-derived dense training step (models/nn/dense-step.ts) against tfjs autograd + tf.train.adam
 * (the generic loop, trainer: 'tfjs-autograd'): same seed → same epoch losses and the same weights, for
 * the sigmoid, softmax and linear heads, relu/tanh/sigmoid hidden layers, L1/L2 penalties, class
 * weights and early stopping; and it issues far fewer kernels per batch (the point of it).
 */
import test from 'ava';
import { mlp } from '../models/nn/architectures.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import type { NeuralNetInput } from '../models/nn/options.ts';
import { loadTf } from '../models/nn/tf.ts';
import type { NetworkIR } from '../models/ir.ts';
import { createRandom } from '../src/random.ts';

function data(n: number, d: number, k: number, seed: number, regression = false): { X: number[][]; y: number[] } {
  const r = createRandom(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: d }, () => r.next() * 4 - 2);
    X.push(row);
    const s = row[0] + 0.5 * row[1] - 0.3 * row[2] + 0.3 * (r.next() - 0.5);
    y.push(regression ? s : Math.min(k - 1, Math.max(0, Math.floor(((s + 2.5) / 5) * k))));
  }
  return { X, y };
}

async function fitBoth(options: NeuralNetInput, X: number[][], y: number[], validation?: { X: number[][]; y: number[] }) {
  const out = [];
  for (const trainer of ['tfjs-fused', 'tfjs-autograd'] as const) {
    const net = new NeuralNet(options, { backends: ['wasm'], trainer });
    const history = await net.fit(X, y, validation ? { validation } : {});
    const ir = net.toIR() as NetworkIR;
    out.push({ history, weights: ir.layers.flatMap((l) => (l.kind === 'dense' ? [...l.kernel, ...l.bias] : [])) });
    net.dispose();
  }
  return { fused: out[0]!, autograd: out[1]! };
}

const CASES: [string, NeuralNetInput, { k: number; regression?: boolean; validation?: boolean }][] = [
  ['binary (sigmoid head), relu, l2', { task: 'classification', layers: mlp([8]), epochs: 6, batchSize: 32, optimizer: 'adam', learningRate: 0.01, l2: 0.001, seed: 3 }, { k: 2 }],
  ['3 classes (softmax head), tanh + sigmoid, l1, balanced class weights', { task: 'classification', layers: mlp([8, 6], { activation: 'tanh' }), epochs: 5, batchSize: 50, optimizer: 'adam', l1: 0.001, classWeight: 'balanced', seed: 5 }, { k: 3 }],
  ['regression (linear head), relu, full batch', { task: 'regression', layers: mlp([6]), epochs: 8, batchSize: 'full', optimizer: 'adam', learningRate: 0.02, seed: 7 }, { k: 1, regression: true }],
  ['early stopping on validation restores the same best epoch', { task: 'classification', layers: mlp([8]), epochs: 12, batchSize: 16, optimizer: 'adam', learningRate: 0.05, earlyStopping: { patience: 2, minDelta: 0 }, seed: 11 }, { k: 2, validation: true }],
];

for (const [name, options, c] of CASES) {
  test(`fused dense step = autograd: ${name}`, async (t) => {
    await loadTf({ prefer: ['wasm'] });
    const train = data(300, 4, c.k, 1, c.regression);
    const val = c.validation ? data(100, 4, c.k, 2, c.regression) : undefined;
    const { fused, autograd } = await fitBoth(options, train.X, train.y, val);
    t.is(fused.history.epochs.length, autograd.history.epochs.length);
    t.is(fused.history.bestEpoch, autograd.history.bestEpoch);
    fused.history.epochs.forEach((e, i) => {
      const a = autograd.history.epochs[i]!;
      t.true(Math.abs(e.loss - a.loss) <= 1e-4 * Math.max(1, Math.abs(a.loss)), `epoch ${e.epoch} loss ${e.loss} vs ${a.loss}`);
      if (a.valLoss !== undefined) t.true(Math.abs(e.valLoss! - a.valLoss) <= 1e-4 * Math.max(1, a.valLoss), `epoch ${e.epoch} val loss`);
    });
    t.is(fused.weights.length, autograd.weights.length);
    const worst = Math.max(...fused.weights.map((w, i) => Math.abs(w - autograd.weights[i]!)));
    t.true(worst < 2e-4, `largest weight difference ${worst}`);
    // Not trivially equal: training moved the weights away from the shared initialization.
    t.true(fused.history.epochs.at(-1)!.loss < fused.history.epochs[0]!.loss);
  });
}

test.serial('the fused step issues far fewer kernels than autograd + tf.train.adam', async (t) => {
  const { tf } = await loadTf({ prefer: ['wasm'] });
  const { X, y } = data(400, 7, 2, 9);
  const counts: number[] = [];
  for (const trainer of ['tfjs-fused', 'tfjs-autograd'] as const) {
    const net = new NeuralNet({ task: 'classification', layers: mlp([32]), epochs: 1, batchSize: 200, optimizer: 'adam', seed: 1 }, { backends: ['wasm'], trainer });
    const info = await tf.profile(async () => { await net.fit(X, y); });
    counts.push(info.kernels.length);
    net.dispose();
  }
  t.log(`kernels for 2 batches: fused ${counts[0]}, autograd ${counts[1]}`);
  t.true(counts[0]! * 2 < counts[1]!, `fused ${counts[0]} vs autograd ${counts[1]}`);
});
