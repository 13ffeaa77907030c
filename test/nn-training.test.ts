/**
 * Training behaviour: determinism under a seed, no tensor leaks, JSON round trip, early stopping
 * restoring the best weights, every optimizer and batch mode, class weights, penalties, abort.
 * Serial: the tensor-count check reads a process-wide counter.
 */
import test from 'ava';
import { mlp, recurrent, cnn1d } from '../models/nn/architectures.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import type { NeuralNetInput, OptimizerName } from '../models/nn/options.ts';
import { loadTf } from '../models/nn/tf.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { createRandom } from '../src/random.ts';

/** Two noisy Gaussian blobs in `d` dimensions; `share1` of the rows are class 1. */
function blobs(n: number, d: number, seed: number, options: { share1?: number; separation?: number } = {}): { X: number[][]; y: number[] } {
  const random = createRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = random.next() < (options.share1 ?? 0.5) ? 1 : 0;
    X.push(Array.from({ length: d }, (_, j) => gauss() + (c === 1 && j < 2 ? (options.separation ?? 2) : 0)));
    y.push(c);
  }
  return { X, y };
}

function windows(n: number, steps: number, seed: number): { X: number[][][]; y: number[] } {
  const random = createRandom(seed);
  const X: number[][][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const rising = random.next() < 0.5;
    X.push(Array.from({ length: steps }, (_, s) => [(rising ? s : steps - s) / steps + 0.3 * (random.next() - 0.5), random.next() - 0.5]));
    y.push(rising ? 1 : 0);
  }
  return { X, y };
}

function allWeights(net: NeuralNet): number[] {
  return net.toIR().layers.flatMap((l) => [
    ...('kernel' in l ? l.kernel : []),
    ...('recurrentKernel' in l ? l.recurrentKernel : []),
    ...('bias' in l ? l.bias : []),
  ]);
}

function logLoss(p: number[][], y: number[]): number {
  return -y.reduce((a, c, i) => a + Math.log(Math.max(p[i][c], 1e-12)), 0) / y.length;
}

test.serial('same seed → identical weights (MLP with dropout and shuffling, LSTM, CNN); other seed → different', async (t) => {
  const { X, y } = blobs(120, 4, 5);
  const w = windows(40, 6, 6);
  const specs: [NeuralNetInput, number[][] | number[][][], number[]][] = [
    [{ task: 'classification', layers: mlp([8, 4], { dropout: 0.3 }), epochs: 4, batchSize: 16, seed: 42 }, X, y],
    [{ task: 'classification', layers: recurrent('lstm', 4, { dropout: 0.2 }), epochs: 2, batchSize: 8, seed: 42 }, w.X, w.y],
    [{ task: 'classification', layers: cnn1d({ filters: [3], kernelSize: 3, poolSize: 2 }), epochs: 2, batchSize: 8, seed: 42 }, w.X, w.y],
  ];
  for (const [options, Xs, ys] of specs) {
    const runs = [];
    for (const seed of [42, 42, 43]) {
      const net = new NeuralNet({ ...options, seed });
      await net.fit(Xs, ys);
      runs.push(allWeights(net));
      net.dispose();
    }
    t.deepEqual(runs[0], runs[1], `${options.layers[0].kind}: same seed`);
    t.notDeepEqual(runs[0], runs[2], `${options.layers[0].kind}: other seed`);
  }
});

test.serial('no tensor leaks: the tensor count stays flat across fit/predict/score/toIR/toJSON/fromJSON/dispose', async (t) => {
  const { tf } = await loadTf();
  const { X, y } = blobs(64, 3, 1);
  const w = windows(24, 5, 2);
  const cycle = async (): Promise<void> => {
    for (const [layers, Xs, ys] of [
      [mlp([6], { dropout: 0.2 }), X, y],
      [recurrent('gru', 3), w.X, w.y],
      [cnn1d({ filters: [2], kernelSize: 2, poolSize: 2 }), w.X, w.y],
    ] as const) {
      const net = new NeuralNet({ task: 'classification', layers: [...layers], epochs: 2, batchSize: 16, validationSplit: 0.25, earlyStopping: { patience: 1, minDelta: 0 }, l1: 1e-4, l2: 1e-4 });
      await net.fit(Xs, ys);
      net.predict(Xs);
      net.predictProba(Xs);
      net.score(Xs, ys);
      net.toIR();
      const copy = await NeuralNet.fromJSON(JSON.parse(JSON.stringify(net.toJSON())));
      copy.predict(Xs);
      copy.dispose();
      net.dispose();
    }
  };
  await cycle(); // the first cycle may create lasting backend state (kernels, the wasm heap)
  const before = tf.memory().numTensors;
  await cycle();
  await cycle();
  t.is(tf.memory().numTensors, before);

  // A fitted model holds exactly its weight variables.
  const net = new NeuralNet({ task: 'classification', layers: mlp([6]), epochs: 1 });
  await net.fit(X, y);
  t.is(tf.memory().numTensors, before + 4); // 2 dense layers × (kernel, bias)
  net.dispose();
  t.is(tf.memory().numTensors, before);
});

test.serial('toJSON → fromJSON gives the same predictions, weights and options', async (t) => {
  const w = windows(32, 6, 3);
  const net = new NeuralNet({ task: 'classification', layers: recurrent('gru', 4, { dense: 3 }), epochs: 2, batchSize: 8, seed: 9, classes: ['falling', 'rising'] });
  await net.fit(w.X, w.y);
  const json = JSON.parse(JSON.stringify(net.toJSON())) as unknown;
  const copy = await NeuralNet.fromJSON(json);
  t.deepEqual(copy.predictProba(w.X), net.predictProba(w.X));
  t.deepEqual(copy.toIR(), net.toIR());
  t.deepEqual(copy.options, net.options);
  t.deepEqual(copy.toIR().classes, ['falling', 'rising']);
  t.is(copy.backend, 'wasm');
  copy.dispose();
  net.dispose();
});

test.serial('early stopping: stops after `patience` epochs without improvement and restores the best weights', async (t) => {
  // Few noisy rows, a wide network and a large step: the validation loss turns up quickly.
  const train = blobs(40, 10, 11, { separation: 0.8 });
  const val = blobs(200, 10, 12, { separation: 0.8 });
  const net = new NeuralNet({ task: 'classification', layers: mlp([64, 64]), epochs: 200, batchSize: 8, learningRate: 0.01, seed: 4, earlyStopping: { patience: 3, minDelta: 0 } });
  const history = await net.fit(train.X, train.y, { validation: val });
  const valLosses = history.epochs.map((e) => e.valLoss as number);
  t.true(history.stoppedEarly);
  t.is(history.epochs.length, history.bestEpoch + 3);
  t.is(Math.min(...valLosses), valLosses[history.bestEpoch - 1]);
  // The model holds the best epoch's weights: its validation loss is the recorded best one.
  const restored = logLoss(net.predictProba(val.X), val.y);
  t.true(Math.abs(restored - valLosses[history.bestEpoch - 1]) < 1e-4, `restored ${restored} vs best ${valLosses[history.bestEpoch - 1]}`);
  t.true(restored < valLosses[valLosses.length - 1]);
  net.dispose();
});

test.serial('validationSplit holds out the last rows (before shuffling)', async (t) => {
  const { X, y } = blobs(80, 3, 13);
  const net = new NeuralNet({ task: 'classification', layers: mlp([5]), epochs: 3, batchSize: 10, validationSplit: 0.25 });
  const history = await net.fit(X, y);
  const last = history.epochs[2].valLoss as number;
  t.true(Math.abs(logLoss(net.predictProba(X.slice(60)), y.slice(60)) - last) < 1e-5);
  t.false(Math.abs(logLoss(net.predictProba(X.slice(0, 20)), y.slice(0, 20)) - last) < 1e-5);
  net.dispose();
});

for (const optimizer of ['sgd', 'momentum', 'adam', 'rmsprop'] as OptimizerName[]) {
  for (const batchSize of [1, 16, 'full'] as const) {
    test.serial(`${optimizer}, batchSize ${batchSize}: the training loss falls and the blobs are learned`, async (t) => {
      const { X, y } = blobs(96, 3, 21);
      const epochs = batchSize === 'full' ? 60 : batchSize === 1 ? 4 : 15;
      const learningRate = optimizer === 'sgd' || optimizer === 'momentum' ? (batchSize === 'full' ? 0.3 : 0.05) : batchSize === 'full' ? 0.05 : 0.01;
      const net = new NeuralNet({ task: 'classification', layers: mlp([8]), optimizer, batchSize, epochs, learningRate, seed: 2 });
      const history = await net.fit(X, y);
      const first = history.epochs[0].loss;
      const last = history.epochs[history.epochs.length - 1].loss;
      t.true(last < 0.8 * first, `loss ${first} → ${last}`);
      t.true(net.score(X, y) > 0.85, `train accuracy ${net.score(X, y)}`);
      net.dispose();
    });
  }
}

test.serial("classWeight 'balanced' raises the recall of a rare class", async (t) => {
  const { X, y } = blobs(400, 3, 31, { share1: 0.08, separation: 1.2 });
  const recall = async (classWeight: 'none' | 'balanced' | number[]): Promise<number> => {
    const net = new NeuralNet({ task: 'classification', layers: mlp([6]), epochs: 15, batchSize: 32, learningRate: 0.01, seed: 1, classWeight });
    await net.fit(X, y);
    const p = net.predict(X);
    net.dispose();
    const positives = y.filter((c) => c === 1).length;
    return p.filter((c, i) => c === 1 && y[i] === 1).length / positives;
  };
  const plain = await recall('none');
  const balanced = await recall('balanced');
  const explicit = await recall([1, 11.5]);
  t.log(`rare-class recall: none ${plain.toFixed(3)}, balanced ${balanced.toFixed(3)}, [1, 11.5] ${explicit.toFixed(3)}`);
  t.true(balanced > plain + 0.2);
  t.true(explicit > plain + 0.2);
});

test.serial('L1 and L2 penalties shrink the kernels', async (t) => {
  const { X, y } = blobs(96, 6, 41);
  const kernelNorm = async (l1: number, l2: number): Promise<{ abs: number; sq: number }> => {
    const net = new NeuralNet({ task: 'classification', layers: mlp([8]), epochs: 20, batchSize: 16, learningRate: 0.01, seed: 3, l1, l2 });
    await net.fit(X, y);
    const kernels = net.toIR().layers.flatMap((l) => ('kernel' in l ? Array.from(l.kernel) : []));
    net.dispose();
    return { abs: kernels.reduce((a, v) => a + Math.abs(v), 0), sq: kernels.reduce((a, v) => a + v * v, 0) };
  };
  const none = await kernelNorm(0, 0);
  const l1 = await kernelNorm(0.01, 0);
  const l2 = await kernelNorm(0, 0.01);
  t.true(l1.abs < 0.8 * none.abs, `Σ|w| ${none.abs} → ${l1.abs}`);
  t.true(l2.sq < 0.8 * none.sq, `Σw² ${none.sq} → ${l2.sq}`);
});

test.serial('regression: R² on a smooth target, predict returns values', async (t) => {
  const random = createRandom(51);
  const X = Array.from({ length: 200 }, () => [random.next() * 2 - 1, random.next() * 2 - 1]);
  const y = X.map(([a, b]) => 2 * a - b + 0.5 * a * b + 3);
  const net = new NeuralNet({ task: 'regression', layers: mlp([16], { activation: 'tanh' }), epochs: 60, batchSize: 16, learningRate: 0.01, seed: 5 });
  await net.fit(X, y);
  const r2 = net.score(X, y);
  t.true(r2 > 0.97, `R² ${r2}`);
  const [p] = net.predict([[0.5, -0.5]]);
  t.true(Math.abs(p - (1 + 0.5 - 0.125 + 3)) < 0.4, `prediction ${p}`);
  net.dispose();
});

test.serial('onEpoch reports each epoch; an aborted signal stops training with ABORTED', async (t) => {
  const { X, y } = blobs(32, 2, 61);
  const seen: number[] = [];
  const controller = new AbortController();
  const net = new NeuralNet({ task: 'classification', layers: mlp([4]), epochs: 50 });
  const error = await t.throwsAsync(
    net.fit(X, y, {
      signal: controller.signal,
      onEpoch: (log) => {
        seen.push(log.epoch);
        if (log.epoch === 3) controller.abort();
      },
    }),
  );
  t.true(isEdgeloopError(error, 'ABORTED'));
  t.is(error?.message, 'training aborted at epoch 4');
  t.deepEqual(seen, [1, 2, 3]);
  t.false(net.fitted);
});

test.serial('multiclass softmax: predictProba rows sum to 1 and predict is their argmax', async (t) => {
  const random = createRandom(71);
  const X = Array.from({ length: 150 }, () => [random.next() * 3, random.next()]);
  const y = X.map(([a]) => Math.floor(a));
  const net = new NeuralNet({ task: 'classification', layers: mlp([12]), epochs: 40, batchSize: 16, learningRate: 0.01, seed: 1 });
  await net.fit(X, y);
  const proba = net.predictProba(X);
  const predicted = net.predict(X);
  t.true(proba.every((row) => row.length === 3 && Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5));
  t.deepEqual(predicted, proba.map((row) => row.indexOf(Math.max(...row))));
  t.true(net.score(X, y) > 0.9, `accuracy ${net.score(X, y)}`);
  net.dispose();
});

test.serial('the model keeps its own copy of the options (caller arrays may change afterwards)', async (t) => {
  const layers = mlp([4]);
  const classWeight = [1, 2];
  const net = new NeuralNet({ task: 'classification', layers, classWeight, epochs: 1 });
  (layers[0] as { units: number }).units = 99;
  classWeight[1] = -5;
  const { X, y } = blobs(16, 2, 81);
  await net.fit(X, y);
  const first = net.toIR().layers[0];
  t.is(first.kind === 'dense' ? first.units : -1, 4);
  t.deepEqual(net.options.classWeight, [1, 2]);
  net.dispose();
});
