/**
 * Every bad call fails with a stable code and a message naming the argument and its allowed range.
 */
import test from 'ava';
import { mlp } from '../models/nn/architectures.ts';
import { NeuralNet, type NeuralNetJson } from '../models/nn/neural-net.ts';
import type { NeuralNetInput } from '../models/nn/options.ts';
import { loadTf, type TfBackendName } from '../models/nn/tf.ts';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';

const base: NeuralNetInput = { task: 'classification', layers: mlp([4]), epochs: 2 };
const X = [[0, 1], [1, 0], [1, 1], [0, 0], [0.5, 0.2], [0.1, 0.9]];
const y = [0, 1, 1, 0, 1, 0];

function expectError(t: import('ava').ExecutionContext, fn: () => unknown, code: ErrorCode, message: string | RegExp): void {
  const error = t.throws(fn, { instanceOf: EdgeloopError });
  t.is(error?.code, code);
  if (typeof message === 'string') t.is(error?.message, message);
  else t.regex(error?.message ?? '', message);
}

async function expectRejection(t: import('ava').ExecutionContext, promise: Promise<unknown>, code: ErrorCode, message: string | RegExp): Promise<void> {
  const error = await t.throwsAsync(promise, { instanceOf: EdgeloopError });
  t.is(error?.code, code);
  if (typeof message === 'string') t.is(error?.message, message);
  else t.regex(error?.message ?? '', message);
}

const badOptions: [string, Partial<NeuralNetInput> | Record<string, unknown>, string][] = [
  ['task', { task: 'ranking' }, `task must be 'classification' or 'regression', got "ranking"`],
  ['epochs 0', { epochs: 0 }, 'epochs must be an integer in [1, 1000000], got 0'],
  ['epochs fractional', { epochs: 2.5 }, 'epochs must be an integer in [1, 1000000], got 2.5'],
  ['batchSize 0', { batchSize: 0 }, 'batchSize must be an integer in [1, 1000000], got 0'],
  ['batchSize string', { batchSize: 'half' }, 'batchSize must be an integer in [1, 1000000], got "half"'],
  ['optimizer', { optimizer: 'adagrad' }, 'optimizer must be one of sgd, momentum, adam, rmsprop, got "adagrad"'],
  ['learningRate 0', { learningRate: 0 }, 'learningRate must be a number in (0, 10], got 0'],
  ['learningRate NaN', { learningRate: NaN }, 'learningRate must be a number in (0, 10], got NaN'],
  ['momentum 1', { momentum: 1 }, 'momentum must be a number in [0, 1), got 1'],
  ['l1 negative', { l1: -0.1 }, 'l1 must be a number in [0, 1000], got -0.1'],
  ['l2 infinite', { l2: Infinity }, 'l2 must be a number in [0, 1000], got Infinity'],
  ['validationSplit 1', { validationSplit: 1 }, 'validationSplit must be a number in [0, 0.9], got 1'],
  ['patience negative', { earlyStopping: { patience: -1, minDelta: 0 } }, 'earlyStopping.patience must be an integer in [0, 1000000], got -1'],
  ['minDelta negative', { earlyStopping: { patience: 2, minDelta: -1 } }, 'earlyStopping.minDelta must be a number in [0, ∞), got -1'],
  ['classWeight word', { classWeight: 'auto' }, `classWeight must be 'none', 'balanced' or an array of per-class weights, got "auto"`],
  ['classWeight negative', { classWeight: [1, -2] }, 'classWeight[1] must be a number in [0, ∞), got -2'],
  ['classWeight regression', { task: 'regression', classWeight: [1, 2] }, `classWeight applies to task 'classification' only, got task "regression"`],
  ['seed', { seed: -1 }, 'seed must be an integer in [0, 4294967295], got -1'],
  ['shuffle', { shuffle: 'yes' }, 'shuffle must be a boolean, got "yes"'],
  ['classes duplicate', { classes: ['a', 'a'] }, 'classes must list at least 2 distinct names, got ["a","a"]'],
  ['layers not array', { layers: 'mlp' }, 'layers must be an array of layer specs, got "mlp"'],
  ['dense units', { layers: [{ kind: 'dense', units: 0 }] }, 'layers[0].units must be an integer in [1, 65536], got 0'],
  ['activation', { layers: [{ kind: 'dense', units: 3, activation: 'gelu' }] }, 'layers[0].activation must be one of linear, relu, relu6, tanh, sigmoid, got "gelu"'],
  ['conv kernelSize', { layers: [{ kind: 'conv1d', filters: 2, kernelSize: 0 }] }, 'layers[0].kernelSize must be an integer in [1, 4096], got 0'],
  ['conv padding', { layers: [{ kind: 'conv1d', filters: 2, kernelSize: 2, padding: 'causal' }] }, `layers[0].padding must be 'valid' or 'same', got "causal"`],
  ['pool stride', { layers: [{ kind: 'maxpool1d', poolSize: 2, stride: 0 }] }, 'layers[0].stride must be an integer in [1, 4096], got 0'],
  ['dropout rate 1', { layers: [{ kind: 'dropout', rate: 1 }] }, 'layers[0].rate must be a number in [0, 1), got 1'],
  ['lstm units', { layers: [{ kind: 'lstm', units: 2.5 }] }, 'layers[0].units must be an integer in [1, 65536], got 2.5'],
  ['layer kind', { layers: [{ kind: 'attention' }] }, 'layers[0].kind must be one of dense, conv1d, maxpool1d, avgpool1d, flatten, dropout, lstm, gru, got "attention"'],
];

for (const [name, patch, message] of badOptions) {
  test(`bad option (${name}) → BAD_ARGUMENT naming it and its range`, (t) => {
    expectError(t, () => new NeuralNet({ ...base, ...patch } as NeuralNetInput), 'BAD_ARGUMENT', `bad neural network options: ${message}`);
  });
}

test('all bad options are listed in one error', (t) => {
  expectError(
    t,
    () => new NeuralNet({ ...base, epochs: 0, learningRate: -1, seed: 0.5 }),
    'BAD_ARGUMENT',
    'bad neural network options: epochs must be an integer in [1, 1000000], got 0; learningRate must be a number in (0, 10], got -1; seed must be an integer in [0, 4294967295], got 0.5',
  );
});

test('bad data for fit → BAD_ARGUMENT / BAD_DATA naming the sample', async (t) => {
  const net = new NeuralNet(base);
  await expectRejection(t, net.fit([], []), 'BAD_ARGUMENT', 'X must be a non-empty array of samples, got an array of length 0');
  await expectRejection(t, net.fit([[1, 2], [3]], [0, 1]), 'BAD_ARGUMENT', 'X[1] must have shape [2] like X[0], got an array of length 1');
  await expectRejection(t, net.fit([[1, 2], [3, NaN]], [0, 1]), 'BAD_DATA', 'X[1][1] must be a finite number, got NaN');
  await expectRejection(t, net.fit(X, [0, 1]), 'BAD_ARGUMENT', 'y must have one target per sample (6), got 2');
  await expectRejection(t, net.fit(X, [0, 1, 0.5, 0, 1, 0]), 'BAD_ARGUMENT', 'y[2] must be a class index, an integer in [0, 1], got 0.5');
  await expectRejection(t, net.fit(X, [0, 0, 0, 0, 0, 0]), 'BAD_ARGUMENT', "y must contain at least 2 classes (indices 0 and 1) for task 'classification', got max index 0");
  await expectRejection(t, new NeuralNet({ ...base, classes: ['a', 'b'] }).fit(X, [0, 1, 2, 0, 1, 0]), 'BAD_ARGUMENT', 'y[2] must be a class index, an integer in [0, 1], got 2');
  await expectRejection(t, new NeuralNet({ ...base, task: 'regression' }).fit(X, [0, 1, Infinity, 0, 1, 0]), 'BAD_DATA', 'y[2] must be a finite number, got Infinity');
  await expectRejection(t, net.fit(X, y, { validation: { X: [[1, 2, 3]], y: [1] } }), 'BAD_ARGUMENT', 'validation.X samples must have shape [2] (as in training), got [3]');
  await expectRejection(t, net.fit(X, y, { validation: { X: [[1, 2]], y: [3] } }), 'BAD_ARGUMENT', 'validation.y[0] must be a class index, an integer in [0, 1], got 3');
  t.false(net.fitted);
});

test('architectures that do not fit the input → BAD_ARGUMENT naming the layer', async (t) => {
  const seq = [[[1, 2], [3, 4], [5, 6]], [[0, 1], [1, 0], [0, 0]]];
  const fit = (layers: NeuralNetInput['layers'], Xs: number[][] | number[][][]): Promise<unknown> => new NeuralNet({ ...base, layers }).fit(Xs, [0, 1].concat(Xs.length > 2 ? [1, 0, 1, 0] : []));
  await expectRejection(t, fit([{ kind: 'dense', units: 3 }], seq), 'BAD_ARGUMENT', "layers[0] (dense) needs a flat input: add { kind: 'flatten' } before it, got input shape [3, 2]");
  await expectRejection(t, fit([{ kind: 'lstm', units: 3 }], X), 'BAD_ARGUMENT', 'layers[0] (lstm) needs an input of shape [steps, channels], got input shape [2]');
  await expectRejection(t, fit([{ kind: 'conv1d', filters: 2, kernelSize: 4 }, { kind: 'flatten' }], seq), 'BAD_ARGUMENT', 'layers[0] (conv1d) kernelSize 4 is longer than the input, got input shape [3, 2]');
  await expectRejection(t, fit([{ kind: 'avgpool1d', poolSize: 5 }, { kind: 'flatten' }], seq), 'BAD_ARGUMENT', 'layers[0] (avgpool1d) poolSize 5 is longer than the input, got input shape [3, 2]');
  await expectRejection(t, fit([{ kind: 'gru', units: 3, returnSequences: true }], seq), 'BAD_ARGUMENT', "layers must end with a flat output (add { kind: 'flatten' } or an lstm/gru without returnSequences), got shape [3, 3]");
});

test('training options that need more → BAD_ARGUMENT', async (t) => {
  await expectRejection(t, new NeuralNet({ ...base, earlyStopping: { patience: 2, minDelta: 0 } }).fit(X, y), 'BAD_ARGUMENT', 'earlyStopping needs validation data: pass fit(X, y, { validation }) or set validationSplit in (0, 0.9]');
  await expectRejection(t, new NeuralNet({ ...base, classWeight: [1, 2, 3] }).fit(X, y), 'BAD_ARGUMENT', 'classWeight must have one weight per class (2), got 3');
  await expectRejection(t, new NeuralNet({ ...base, validationSplit: 0.9 }).fit(X, y), 'BAD_ARGUMENT', 'validationSplit 0.9 leaves no training or no validation rows out of 6');
});

test('using an unfitted model or wrong inputs → BAD_ARGUMENT', async (t) => {
  const net = new NeuralNet(base);
  expectError(t, () => net.predict(X), 'BAD_ARGUMENT', 'predict needs a fitted model: call fit() or fromJSON() first');
  expectError(t, () => net.predictProba(X), 'BAD_ARGUMENT', 'predictProba needs a fitted model: call fit() or fromJSON() first');
  expectError(t, () => net.score(X, y), 'BAD_ARGUMENT', 'score needs a fitted model: call fit() or fromJSON() first');
  expectError(t, () => net.toIR(), 'BAD_ARGUMENT', 'toIR needs a fitted model: call fit() or fromJSON() first');
  expectError(t, () => net.toJSON(), 'BAD_ARGUMENT', 'toIR needs a fitted model: call fit() or fromJSON() first');
  await net.fit(X, y);
  expectError(t, () => net.predict([[1, 2, 3]]), 'BAD_ARGUMENT', 'X samples must have shape [2] (as in training), got [3]');
  expectError(t, () => net.predict([[[1, 2]]]), 'BAD_ARGUMENT', 'X samples must have shape [2] (as in training), got [1, 2]');
  expectError(t, () => net.score(X, [0, 1]), 'BAD_ARGUMENT', 'y must have one target per sample (6), got 2');
  const regression = new NeuralNet({ ...base, task: 'regression' });
  await regression.fit(X, [1, 2, 3, 4, 5, 6]);
  expectError(t, () => regression.predictProba(X), 'BAD_ARGUMENT', "predictProba needs task 'classification', got 'regression'");
  net.dispose();
  regression.dispose();
});

test('corrupt JSON → MODEL_CORRUPT naming what is wrong', async (t) => {
  const net = new NeuralNet(base);
  await net.fit(X, y);
  const good = JSON.parse(JSON.stringify(net.toJSON())) as NeuralNetJson;
  net.dispose();
  const edit = (f: (j: NeuralNetJson & Record<string, unknown>) => void): unknown => {
    const copy = structuredClone(good) as NeuralNetJson & Record<string, unknown>;
    f(copy);
    return copy;
  };
  const layer0 = (j: NeuralNetJson): Record<string, { base64: string } & Record<string, unknown>> =>
    j.network.layers[0] as Record<string, { base64: string } & Record<string, unknown>>;
  await expectRejection(t, NeuralNet.fromJSON('x'), 'MODEL_CORRUPT', 'neural net JSON must be an object');
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (j.version = 2 as 1))), 'MODEL_CORRUPT', `neural net JSON must have format 'edgeloop-nn' version 1, got "edgeloop-nn" version 2`);
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (j.options.epochs = -3))), 'MODEL_CORRUPT', /^neural net JSON has bad options: bad neural network options: epochs must be an integer/);
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (layer0(j).kernel.base64 = layer0(j).kernel.base64.slice(0, 16)))), 'MODEL_CORRUPT', 'network JSON: layers[0].kernel has 3 values, expected 8 for shape [2, 4]');
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (layer0(j).bias.base64 = 'AAA'))), 'MODEL_CORRUPT', 'layers[0].bias: 2 bytes is not a whole number of float32 values');
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => delete layer0(j).bias)), 'MODEL_CORRUPT', "network JSON: layers[0].bias must be { dtype: 'float32', base64 }");
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => ((layer0(j) as Record<string, unknown>).kind = 'moe'))), 'MODEL_CORRUPT', /^network JSON: layers\[0\]\.kind "moe" is not one of dense, conv1d/);
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (j.network.inputShape = [0]))), 'MODEL_CORRUPT', 'network JSON: inputShape must be an array of positive integers');
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (j.network.inputShape = [3]))), 'MODEL_CORRUPT', /^neural net JSON: layers do not fit together: /);
  await expectRejection(t, NeuralNet.fromJSON(edit((j) => (j.options.task = 'regression'))), 'MODEL_CORRUPT', 'neural net JSON: the last layer must be a dense linear layer of 1 units');
});

test('loadTf: bad backend names → BAD_ARGUMENT', async (t) => {
  await expectRejection(t, loadTf({ prefer: [] }), 'BAD_ARGUMENT', 'prefer must list at least one of tensorflow, wasm, cpu');
  await expectRejection(t, loadTf({ prefer: ['webgl' as TfBackendName] }), 'BAD_ARGUMENT', 'prefer entries must be one of tensorflow, wasm, cpu, got "webgl"');
});
