/**
 * The hand-derived dense training step (models/nn/dense-step.ts) against tfjs autograd + tf.train.adam
 * (the generic loop, trainer: 'tfjs-autograd'): same seed → same epoch losses and the same weights, for
 * the sigmoid, softmax and linear heads, relu/tanh/sigmoid hidden layers, L1/L2 penalties, class
 * weights and early stopping; and it issues far fewer kernels per batch (the point of it).
 */
import test from 'ava';
import { mlp } from '../models/nn/architectures.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import { loadTf } from '../models/nn/tf.ts';
import { assertSameTraining, data, DENSE_CASES, fitWith } from './helpers/dense-nets.ts';

for (const [name, options, c] of DENSE_CASES) {
  test(`fused dense step = autograd: ${name}`, async (t) => {
    await loadTf({ prefer: ['wasm'] });
    const train = data(300, 4, c.k, 1, c.regression);
    const val = c.validation ? data(100, 4, c.k, 2, c.regression) : undefined;
    const fused = await fitWith('tfjs-fused', options, train.X, train.y, val);
    fused.net.dispose();
    const autograd = await fitWith('tfjs-autograd', options, train.X, train.y, val);
    autograd.net.dispose();
    assertSameTraining(t, '', fused, autograd);
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
