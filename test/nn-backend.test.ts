/**
 * Backend selection: tfjs-node is absent here, so loadTf settles on wasm; the cpu backend can be
 * selected explicitly and trains to the same weights (same seed, same JavaScript-side init).
 */
import test from 'ava';
import { cnn1d, mlp } from '../models/nn/architectures.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import { loadTf } from '../models/nn/tf.ts';
import { EdgeloopError } from '../src/errors.ts';
import { createRandom } from '../src/random.ts';

function data(seed: number): { X: number[][]; y: number[]; W: number[][][] } {
  const random = createRandom(seed);
  const X = Array.from({ length: 64 }, () => [random.next(), random.next(), random.next()]);
  const y = X.map(([a, b]) => (a + b > 1 ? 1 : 0));
  const W = X.map((row) => Array.from({ length: 6 }, (_, s) => row.map((v) => v * (s + 1) / 6)));
  return { X, y, W };
}

test.serial('loadTf falls back from tensorflow (absent) to wasm, once per process', async (t) => {
  const first = await loadTf();
  t.is(first.backend, 'wasm');
  t.is(first.tf.getBackend(), 'wasm');
  t.is(await loadTf(), first);
  t.is(await loadTf({ prefer: ['wasm', 'cpu'] }), first);
});

test.serial('cpu backend on request: same seed gives the same model as on wasm (float32 rounding apart)', async (t) => {
  const { X, y, W } = data(3);
  const train = async (backend: 'wasm' | 'cpu', layers: NeuralNet['options']['layers'], Xs: number[][] | number[][][]): Promise<number[][]> => {
    const net = new NeuralNet({ task: 'classification', layers, epochs: 3, batchSize: 16, seed: 8 }, { backends: [backend] });
    await net.fit(Xs, y);
    t.is(net.backend, backend);
    const p = net.predictProba(Xs);
    net.dispose();
    return p;
  };
  for (const [layers, Xs] of [[mlp([6]), X], [cnn1d({ filters: [3], kernelSize: 3, poolSize: 2 }), W]] as const) {
    const onWasm = await train('wasm', [...layers], Xs);
    const onCpu = await train('cpu', [...layers], Xs);
    const maxDiff = Math.max(...onWasm.flatMap((row, i) => row.map((v, j) => Math.abs(v - onCpu[i][j]))));
    t.true(maxDiff < 1e-4, `max |wasm − cpu| = ${maxDiff}`);
  }
  t.is((await loadTf({ prefer: ['wasm'] })).backend, 'wasm');
});

test.serial('a backend that cannot start → RUNTIME, and the previous backend stays active', async (t) => {
  const error = await t.throwsAsync(loadTf({ prefer: ['tensorflow'] }), { instanceOf: EdgeloopError });
  t.is(error?.code, 'RUNTIME');
  t.regex(error?.message ?? '', /^no tensorflow\.js backend could be initialized \(tensorflow: /);
  const runtime = await loadTf();
  t.is(runtime.backend, 'wasm');
  t.is(runtime.tf.getBackend(), 'wasm');
});
