/**
 * toIR() is faithful: an independent float64 forward pass written from the layout comments of
 * models/ir.ts (Keras semantics, TensorFlow padding rules) must reproduce tfjs predictions within
 * 1e-5 for trained MLP, 1-D CNN, LSTM and GRU networks. The networks are trained a few epochs
 * first so that biases are non-zero and a swapped gate or bias row cannot hide.
 */
import test from 'ava';
import fc from 'fast-check';
import { networkToJson } from '../models/nn/codec.ts';
import type { Activation, Layer, NetworkIR } from '../models/ir.ts';
import { NeuralNet } from '../models/nn/neural-net.ts';
import type { LayerSpec, NeuralNetInput } from '../models/nn/options.ts';
import { createRandom, type Random } from '../src/random.ts';

type Vec = number[];
type Seq = number[][]; // [steps][channels]

function act(a: Activation, v: Vec): Vec {
  switch (a) {
    case 'linear':
      return v;
    case 'relu':
      return v.map((x) => Math.max(0, x));
    case 'relu6':
      return v.map((x) => Math.min(6, Math.max(0, x)));
    case 'tanh':
      return v.map(Math.tanh);
    case 'sigmoid':
      return v.map(sigmoid);
    case 'softmax': {
      const m = Math.max(...v);
      const e = v.map((x) => Math.exp(x - m));
      const s = e.reduce((a2, b) => a2 + b, 0);
      return e.map((x) => x / s);
    }
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** TensorFlow 'same': total padding split with the odd one after. */
function padding(steps: number, size: number, stride: number, mode: 'valid' | 'same'): { out: number; before: number } {
  if (mode === 'valid') return { out: Math.floor((steps - size) / stride) + 1, before: 0 };
  const out = Math.ceil(steps / stride);
  const total = Math.max((out - 1) * stride + size - steps, 0);
  return { out, before: Math.floor(total / 2) };
}

function referenceForward(ir: NetworkIR, input: Vec | Seq): Vec {
  let x: Vec | Seq = input;
  for (const layer of ir.layers) x = referenceLayer(layer, x);
  return x as Vec;
}

function referenceLayer(layer: Layer, x: Vec | Seq): Vec | Seq {
  switch (layer.kind) {
    case 'dense': {
      const v = x as Vec;
      const out: Vec = [];
      for (let u = 0; u < layer.units; u++) {
        let s = layer.bias[u];
        for (let i = 0; i < layer.inputSize; i++) s += v[i] * layer.kernel[i * layer.units + u];
        out.push(s);
      }
      return act(layer.activation, out);
    }
    case 'conv1d': {
      const s = x as Seq;
      const { out, before } = padding(s.length, layer.kernelSize, layer.stride, layer.padding);
      const y: Seq = [];
      for (let t = 0; t < out; t++) {
        const row: Vec = [];
        for (let f = 0; f < layer.filters; f++) {
          let acc = layer.bias[f];
          for (let j = 0; j < layer.kernelSize; j++) {
            const p = t * layer.stride + j - before;
            if (p < 0 || p >= s.length) continue;
            for (let c = 0; c < layer.inChannels; c++) acc += s[p][c] * layer.kernel[(j * layer.inChannels + c) * layer.filters + f];
          }
          row.push(acc);
        }
        y.push(act(layer.activation, row));
      }
      return y;
    }
    case 'maxpool1d':
    case 'avgpool1d': {
      const s = x as Seq;
      const { out, before } = padding(s.length, layer.poolSize, layer.stride, layer.padding);
      const y: Seq = [];
      for (let t = 0; t < out; t++) {
        const row: Vec = [];
        for (let c = 0; c < s[0].length; c++) {
          const vals: number[] = [];
          for (let j = 0; j < layer.poolSize; j++) {
            const p = t * layer.stride + j - before;
            if (p >= 0 && p < s.length) vals.push(s[p][c]); // padding never counts (TF semantics)
          }
          row.push(layer.kind === 'maxpool1d' ? Math.max(...vals) : vals.reduce((a, b) => a + b, 0) / vals.length);
        }
        y.push(row);
      }
      return y;
    }
    case 'flatten':
      return (x as Seq).flat();
    case 'dropout':
      return x;
    case 'lstm': {
      const u = layer.units;
      let h = new Array<number>(u).fill(0);
      let c = new Array<number>(u).fill(0);
      const seq: Seq = [];
      for (const xt of x as Seq) {
        const z: Vec = [];
        for (let g = 0; g < 4 * u; g++) {
          let s = layer.bias[g];
          for (let i = 0; i < layer.inputSize; i++) s += xt[i] * layer.kernel[i * 4 * u + g];
          for (let k = 0; k < u; k++) s += h[k] * layer.recurrentKernel[k * 4 * u + g];
          z.push(s);
        }
        const gi = z.slice(0, u).map(sigmoid);
        const gf = z.slice(u, 2 * u).map(sigmoid);
        const gc = z.slice(2 * u, 3 * u).map(Math.tanh);
        const go = z.slice(3 * u).map(sigmoid);
        c = c.map((cv, k) => gf[k] * cv + gi[k] * gc[k]);
        h = c.map((cv, k) => go[k] * Math.tanh(cv));
        seq.push(h);
      }
      return layer.returnSequences ? seq : h;
    }
    case 'gru': {
      const u = layer.units;
      let h = new Array<number>(u).fill(0);
      const seq: Seq = [];
      for (const xt of x as Seq) {
        const mx: Vec = [];
        const mh: Vec = [];
        for (let g = 0; g < 3 * u; g++) {
          let a = layer.bias[g]; // input bias: row 0
          for (let i = 0; i < layer.inputSize; i++) a += xt[i] * layer.kernel[i * 3 * u + g];
          let b = layer.bias[3 * u + g]; // recurrent bias: row 1
          for (let k = 0; k < u; k++) b += h[k] * layer.recurrentKernel[k * 3 * u + g];
          mx.push(a);
          mh.push(b);
        }
        const z = Array.from({ length: u }, (_, k) => sigmoid(mx[k] + mh[k]));
        const r = Array.from({ length: u }, (_, k) => sigmoid(mx[u + k] + mh[u + k]));
        const cand = Array.from({ length: u }, (_, k) => Math.tanh(mx[2 * u + k] + r[k] * mh[2 * u + k]));
        h = h.map((hv, k) => z[k] * hv + (1 - z[k]) * cand[k]);
        seq.push(h);
      }
      return layer.returnSequences ? seq : h;
    }
  }
}

function randomRows(random: Random, n: number, shape: number[]): Vec[] | Seq[] {
  const g = (): number => 2 * random.next() - 1;
  if (shape.length === 1) return Array.from({ length: n }, () => Array.from({ length: shape[0] }, g));
  return Array.from({ length: n }, () => Array.from({ length: shape[0] }, () => Array.from({ length: shape[1] }, g)));
}

/** A learnable target: class from the sign/size of a weighted sum, regression the sum itself. */
function targets(X: (Vec | Seq)[], task: 'classification' | 'regression', nClasses: number): number[] {
  return X.map((row) => {
    const flat = (row as (number | number[])[]).flat();
    const s = flat.reduce((a, v, i) => a + v * ((i % 3) - 1 + 0.3), 0);
    if (task === 'regression') return s;
    return nClasses === 2 ? (s > 0 ? 1 : 0) : Math.min(nClasses - 1, Math.max(0, Math.floor(s + nClasses / 2)));
  });
}

interface Case {
  name: string;
  inputShape: number[];
  layers: LayerSpec[];
  task: 'classification' | 'regression';
  nClasses: number;
}

const cases: Case[] = [
  { name: 'MLP binary (relu, tanh, dropout)', inputShape: [6], task: 'classification', nClasses: 2, layers: [
    { kind: 'dense', units: 7, activation: 'relu' }, { kind: 'dropout', rate: 0.2 }, { kind: 'dense', units: 5, activation: 'tanh' }] },
  { name: 'MLP softmax 3 classes (relu6, sigmoid)', inputShape: [5], task: 'classification', nClasses: 3, layers: [
    { kind: 'dense', units: 6, activation: 'relu6' }, { kind: 'dense', units: 4, activation: 'sigmoid' }] },
  { name: 'MLP regression', inputShape: [4], task: 'regression', nClasses: 1, layers: [{ kind: 'dense', units: 8, activation: 'tanh' }] },
  { name: 'CNN same/stride 2, maxpool, avgpool same', inputShape: [11, 3], task: 'classification', nClasses: 2, layers: [
    { kind: 'conv1d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
    { kind: 'conv1d', filters: 5, kernelSize: 4, stride: 2, padding: 'same', activation: 'tanh' },
    { kind: 'maxpool1d', poolSize: 2 },
    { kind: 'avgpool1d', poolSize: 2, stride: 1, padding: 'same' },
    { kind: 'flatten' }, { kind: 'dense', units: 6, activation: 'relu' }] },
  { name: 'CNN valid/stride 3, avgpool valid, softmax', inputShape: [13, 2], task: 'classification', nClasses: 3, layers: [
    { kind: 'conv1d', filters: 3, kernelSize: 5, stride: 3, padding: 'valid', activation: 'linear' },
    { kind: 'avgpool1d', poolSize: 2, stride: 1 }, { kind: 'flatten' }] },
  { name: 'LSTM stacked (returnSequences) binary', inputShape: [7, 3], task: 'classification', nClasses: 2, layers: [
    { kind: 'lstm', units: 5, returnSequences: true }, { kind: 'lstm', units: 4 }] },
  { name: 'LSTM regression', inputShape: [6, 2], task: 'regression', nClasses: 1, layers: [{ kind: 'lstm', units: 6 }, { kind: 'dense', units: 4, activation: 'relu' }] },
  { name: 'GRU stacked (returnSequences) softmax', inputShape: [7, 3], task: 'classification', nClasses: 3, layers: [
    { kind: 'gru', units: 5, returnSequences: true }, { kind: 'gru', units: 4 }] },
  { name: 'GRU then conv1d', inputShape: [8, 2], task: 'regression', nClasses: 1, layers: [
    { kind: 'gru', units: 3, returnSequences: true }, { kind: 'conv1d', filters: 2, kernelSize: 2 }, { kind: 'flatten' }] },
];

for (const c of cases) {
  test(`toIR is faithful: ${c.name}`, async (t) => {
    const random = createRandom(c.name.length * 7919);
    const X = randomRows(random, 96, c.inputShape);
    const y = targets(X, c.task, c.nClasses);
    const options: NeuralNetInput = { task: c.task, layers: c.layers, epochs: 3, batchSize: 16, learningRate: 0.02, seed: 3 };
    const net = new NeuralNet(options);
    await net.fit(X, y);
    const ir = net.toIR();
    t.deepEqual(ir.inputShape, c.inputShape);
    const biases = ir.layers.flatMap((l) => ('bias' in l ? Array.from(l.bias) : []));
    t.true(biases.some((b) => Math.abs(b) > 1e-4 && Math.abs(b - 1) > 1e-4), 'training moved the biases away from their initial values');

    const probe = randomRows(createRandom(99), 24, c.inputShape);
    const expected = probe.map((row) => referenceForward(ir, row));
    const actual: number[][] =
      c.task === 'regression' ? net.predict(probe).map((v) => [v]) : c.nClasses === 2 ? net.predictProba(probe).map((p) => [p[1]]) : net.predictProba(probe);
    let maxErr = 0;
    expected.forEach((row, i) => row.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - actual[i][j])))));
    t.true(maxErr < 1e-5, `max |reference − tfjs| = ${maxErr}`);
    t.is(expected[0].length, c.task === 'classification' && c.nClasses > 2 ? c.nClasses : 1);
    if (c.task === 'classification') t.deepEqual(ir.classes, Array.from({ length: c.nClasses }, (_, i) => String(i)));
    net.dispose();
  });
}

test('IR layouts: shapes of every weight as documented in models/ir.ts', async (t) => {
  const net = new NeuralNet({ task: 'classification', epochs: 1, layers: [
    { kind: 'conv1d', filters: 4, kernelSize: 3 }, { kind: 'lstm', units: 5, returnSequences: true }, { kind: 'gru', units: 6 }, { kind: 'dense', units: 3 }] });
  const X = randomRows(createRandom(1), 8, [9, 2]);
  await net.fit(X, [0, 1, 0, 1, 0, 1, 0, 1]);
  const [conv, lstm, gru, dense, out] = net.toIR().layers;
  if (conv.kind !== 'conv1d' || lstm.kind !== 'lstm' || gru.kind !== 'gru' || dense.kind !== 'dense' || out.kind !== 'dense') return t.fail('layer kinds');
  t.is(conv.kernel.length, 3 * 2 * 4);
  t.is(lstm.kernel.length, 4 * 4 * 5);
  t.is(lstm.recurrentKernel.length, 5 * 4 * 5);
  t.is(lstm.bias.length, 4 * 5);
  t.is(gru.kernel.length, 5 * 3 * 6);
  t.is(gru.recurrentKernel.length, 6 * 3 * 6);
  t.is(gru.bias.length, 2 * 3 * 6);
  t.is(dense.inputSize, 6);
  t.deepEqual([out.units, out.activation], [1, 'sigmoid']);
  net.dispose();
});

test('property: random conv1d/pool geometries loaded with fromJSON match the reference forward pass', async (t) => {
  const geometry = fc.record({
    steps: fc.integer({ min: 1, max: 12 }),
    channels: fc.integer({ min: 1, max: 3 }),
    filters: fc.integer({ min: 1, max: 3 }),
    kernelSize: fc.integer({ min: 1, max: 5 }),
    stride: fc.integer({ min: 1, max: 3 }),
    padding: fc.constantFrom('valid' as const, 'same' as const),
    pool: fc.constantFrom('none' as const, 'maxpool1d' as const, 'avgpool1d' as const),
    poolSize: fc.integer({ min: 1, max: 3 }),
    poolStride: fc.integer({ min: 1, max: 3 }),
    poolPadding: fc.constantFrom('valid' as const, 'same' as const),
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
  });
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(geometry, async (g) => {
      const convSteps = g.padding === 'same' ? Math.ceil(g.steps / g.stride) : Math.floor((g.steps - g.kernelSize) / g.stride) + 1;
      const poolSteps = g.poolPadding === 'same' ? Math.ceil(convSteps / g.poolStride) : Math.floor((convSteps - g.poolSize) / g.poolStride) + 1;
      fc.pre(convSteps >= 1 && (g.pool === 'none' || poolSteps >= 1));
      const random = createRandom(g.seed);
      const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * random.next() - 1);
      const flat = (g.pool === 'none' ? convSteps : poolSteps) * g.filters;
      const layers: Layer[] = [
        { kind: 'conv1d', inChannels: g.channels, filters: g.filters, kernelSize: g.kernelSize, stride: g.stride, padding: g.padding,
          kernel: values(g.kernelSize * g.channels * g.filters), bias: values(g.filters), activation: 'tanh' },
        ...(g.pool === 'none' ? [] : [{ kind: g.pool, poolSize: g.poolSize, stride: g.poolStride, padding: g.poolPadding } as Layer]),
        { kind: 'flatten' },
        { kind: 'dense', inputSize: flat, units: 1, kernel: values(flat), bias: values(1), activation: 'sigmoid' },
      ];
      const ir: NetworkIR = { kind: 'network', task: 'classification', inputShape: [g.steps, g.channels], layers, classes: ['0', '1'] };
      const net = await NeuralNet.fromJSON({ format: 'edgeloop-nn', version: 1, options: { task: 'classification', layers: [] }, network: networkToJson(ir) });
      const probe = randomRows(random, 5, [g.steps, g.channels]);
      const actual = net.predictProba(probe).map((p) => p[1]);
      net.dispose();
      probe.forEach((row, i) => {
        const expected = referenceForward(ir, row)[0];
        if (Math.abs(expected - actual[i]) > 1e-5) throw new Error(`${JSON.stringify(g)}: reference ${expected}, tfjs ${actual[i]}`);
      });
      checked++;
    }),
    { numRuns: 150, seed: 20240501 },
  );
  t.true(checked >= 50, `${checked} geometries checked`);
});
