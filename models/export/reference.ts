/**
 * A plain-JS forward pass of any ModelIR — the oracle every exported file is checked against.
 * It is written from the IR's documented semantics (Keras layouts, TF 'same' padding, Keras
 * LSTM/GRU gate orders), not from an exporter, so an exporter bug cannot hide in it.
 *
 * Outputs (per sample, row-major, concatenated over the batch):
 *  - network: the last layer's output as is (its shape is `outputShape(body)`);
 *  - linear / tree-ensemble classifiers: class probabilities [classes] (a binary logistic model
 *    with one score gives [1 - p, p]); regressors: [outputs].
 * precision 'float32' rounds every intermediate tensor to float32 like the runtimes do.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation, Layer, LinearIR, ModelIR, NetworkIR, TreeEnsembleIR } from '../ir.ts';
import { layerOutputShape, networkOutputShape, samePadBefore } from './shapes.ts';

export type Precision = 'float64' | 'float32';

export interface ReferenceOptions {
  precision?: Precision;
  /** Skip the preprocess scaler (the input is already scaled). */
  skipPreprocess?: boolean;
}

/** Evaluate `model` on `batch` rows of flattened input; returns the flattened outputs. */
export function referenceForward(model: ModelIR, input: ArrayLike<number>, batch: number, options: ReferenceOptions = {}): Float64Array {
  const round = options.precision === 'float32' ? Math.fround : (v: number) => v;
  const inSize = modelInputSize(model);
  if (!Number.isInteger(batch) || batch < 1) throw new EdgeloopError('BAD_ARGUMENT', `batch must be an integer >= 1, got ${batch}`);
  if (input.length !== batch * inSize) {
    throw new EdgeloopError('BAD_ARGUMENT', `input length must be batch × ${inSize} = ${batch * inSize}, got ${input.length}`);
  }
  const outSize = modelOutputSize(model);
  const out = new Float64Array(batch * outSize);
  for (let b = 0; b < batch; b++) {
    let x: Float64Array = new Float64Array(inSize);
    for (let i = 0; i < inSize; i++) x[i] = round(input[b * inSize + i]);
    if (model.preprocess && !options.skipPreprocess) x = applyScaler(x, model.preprocess, round);
    const y = bodyForward(model, x, round);
    out.set(y, b * outSize);
  }
  return out;
}

export function modelInputSize(model: ModelIR): number {
  const body = model.body;
  switch (body.kind) {
    case 'network':
      return body.inputShape.reduce((a, d) => a * d, 1);
    case 'linear':
    case 'tree-ensemble':
      return body.nFeatures;
  }
}

export function modelOutputSize(model: ModelIR): number {
  return modelOutputShape(model).reduce((a, d) => a * d, 1);
}

/** Output shape per sample (without the batch dimension). */
export function modelOutputShape(model: ModelIR): number[] {
  const body = model.body;
  switch (body.kind) {
    case 'network':
      return networkOutputShape(body);
    case 'linear':
      return [body.link === 'logistic' && body.coef.length === 1 ? 2 : body.coef.length];
    case 'tree-ensemble': {
      const width = body.base.length;
      return [body.link === 'logistic' && width === 1 ? 2 : width];
    }
  }
}

function applyScaler(x: Float64Array, pre: { offset: number[]; scale: number[] }, round: (v: number) => number): Float64Array {
  const n = x.length;
  if (pre.offset.length !== n || pre.scale.length !== n) {
    throw new EdgeloopError('BAD_ARGUMENT', `preprocess offset and scale must have ${n} entries, got ${pre.offset.length} and ${pre.scale.length}`);
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = round(round(x[i] - pre.offset[i]) * pre.scale[i]);
  return y;
}

function bodyForward(model: ModelIR, x: Float64Array, round: (v: number) => number): Float64Array {
  const body = model.body;
  switch (body.kind) {
    case 'network':
      return networkForward(body, x, round);
    case 'linear':
      return linearForward(body, x, round);
    case 'tree-ensemble':
      return treeForward(body, x, round);
  }
}

// ---------------------------------------------------------------- networks

function networkForward(net: NetworkIR, x0: Float64Array, round: (v: number) => number): Float64Array {
  const trace = traceNetwork(net, x0, round);
  return trace.length > 0 ? trace[trace.length - 1] : x0;
}

/** Every layer's output for one sample (already preprocessed): used by calibration. */
export function traceNetwork(net: NetworkIR, x0: ArrayLike<number>, round: (v: number) => number = (v) => v): Float64Array[] {
  let x: Float64Array = Float64Array.from(x0);
  let shape = net.inputShape.slice();
  const outs: Float64Array[] = [];
  for (const layer of net.layers) {
    const outShape = layerOutputShape(layer, shape);
    x = layerForward(layer, x, shape, round);
    outs.push(x);
    shape = outShape;
  }
  return outs;
}

/** One layer on one sample (shape = the layer's input shape, without batch). */
export function layerForward(layer: Layer, x: Float64Array, shape: number[], round: (v: number) => number): Float64Array {
  switch (layer.kind) {
    case 'dense': {
      // Dense applies to the last axis (Keras), so a [steps, ch] input gives [steps, units].
      const rows = x.length / layer.inputSize;
      const y = new Float64Array(rows * layer.units);
      for (let r = 0; r < rows; r++) {
        const row = matVec(x, r * layer.inputSize, layer.inputSize, layer.kernel, layer.units, layer.bias, round);
        activateInPlace(row, layer.activation, round);
        y.set(row, r * layer.units);
      }
      return y;
    }
    case 'conv1d':
      return conv1d(layer, x, shape, round);
    case 'maxpool1d':
    case 'avgpool1d':
      return pool1d(layer, x, shape, round);
    case 'flatten':
    case 'dropout':
      return x;
    case 'lstm':
      return lstm(layer, x, shape[0], round);
    case 'gru':
      return gru(layer, x, shape[0], round);
  }
}

/** y[u] = bias[u] + Σ_i x[off + i] · kernel[i][u]. */
function matVec(
  x: ArrayLike<number>,
  off: number,
  n: number,
  kernel: Float32Array,
  units: number,
  bias: ArrayLike<number> | undefined,
  round: (v: number) => number,
  biasOff = 0,
): Float64Array {
  const y = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    let s = bias ? bias[biasOff + u] : 0;
    for (let i = 0; i < n; i++) s += x[off + i] * kernel[i * units + u];
    y[u] = round(s);
  }
  return y;
}

export function activate(v: number, act: Exclude<Activation, 'softmax'>): number {
  switch (act) {
    case 'linear':
      return v;
    case 'relu':
      return v > 0 ? v : 0;
    case 'relu6':
      return Math.min(Math.max(v, 0), 6);
    case 'tanh':
      return Math.tanh(v);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-v));
  }
}

function activateInPlace(y: Float64Array, act: Activation, round: (v: number) => number): void {
  if (act === 'softmax') {
    softmaxInPlace(y, 0, y.length, round);
    return;
  }
  for (let i = 0; i < y.length; i++) y[i] = round(activate(y[i], act));
}

function softmaxInPlace(y: Float64Array, off: number, n: number, round: (v: number) => number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, y[off + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    y[off + i] = Math.exp(y[off + i] - max);
    sum += y[off + i];
  }
  for (let i = 0; i < n; i++) y[off + i] = round(y[off + i] / sum);
}

function conv1d(layer: Extract<Layer, { kind: 'conv1d' }>, x: Float64Array, shape: number[], round: (v: number) => number): Float64Array {
  const [steps, inCh] = shape;
  const outSteps = layerOutputShape(layer, shape)[0];
  const pad = layer.padding === 'same' ? samePadBefore(steps, layer.kernelSize, layer.stride) : 0;
  const f = layer.filters;
  const y = new Float64Array(outSteps * f);
  for (let t = 0; t < outSteps; t++) {
    for (let o = 0; o < f; o++) {
      let s = layer.bias[o];
      for (let k = 0; k < layer.kernelSize; k++) {
        const src = t * layer.stride + k - pad;
        if (src < 0 || src >= steps) continue;
        for (let c = 0; c < inCh; c++) s += x[src * inCh + c] * layer.kernel[(k * inCh + c) * f + o];
      }
      y[t * f + o] = round(s);
    }
  }
  if (layer.activation === 'softmax') {
    for (let t = 0; t < outSteps; t++) softmaxInPlace(y, t * f, f, round);
  } else {
    for (let i = 0; i < y.length; i++) y[i] = round(activate(y[i], layer.activation));
  }
  return y;
}

function pool1d(layer: Extract<Layer, { kind: 'maxpool1d' | 'avgpool1d' }>, x: Float64Array, shape: number[], round: (v: number) => number): Float64Array {
  const [steps, ch] = shape;
  const outSteps = layerOutputShape(layer, shape)[0];
  const pad = layer.padding === 'same' ? samePadBefore(steps, layer.poolSize, layer.stride) : 0;
  const y = new Float64Array(outSteps * ch);
  for (let t = 0; t < outSteps; t++) {
    for (let c = 0; c < ch; c++) {
      // Padded positions are excluded (TF semantics): max ignores them, the mean divides by the valid count.
      let acc = layer.kind === 'maxpool1d' ? -Infinity : 0;
      let count = 0;
      for (let k = 0; k < layer.poolSize; k++) {
        const src = t * layer.stride + k - pad;
        if (src < 0 || src >= steps) continue;
        const v = x[src * ch + c];
        acc = layer.kind === 'maxpool1d' ? Math.max(acc, v) : acc + v;
        count++;
      }
      y[t * ch + c] = round(layer.kind === 'maxpool1d' ? acc : acc / count);
    }
  }
  return y;
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

function lstm(layer: Extract<Layer, { kind: 'lstm' }>, x: Float64Array, steps: number, round: (v: number) => number): Float64Array {
  const u = layer.units;
  let h = new Float64Array(u);
  const c = new Float64Array(u);
  const seq = new Float64Array(steps * u);
  for (let t = 0; t < steps; t++) {
    const zx = matVec(x, t * layer.inputSize, layer.inputSize, layer.kernel, 4 * u, layer.bias, round);
    const zh = matVec(h, 0, u, layer.recurrentKernel, 4 * u, undefined, round);
    const hNext = new Float64Array(u);
    for (let j = 0; j < u; j++) {
      const i = round(sigmoid(round(zx[j] + zh[j])));
      const f = round(sigmoid(round(zx[u + j] + zh[u + j])));
      const g = round(Math.tanh(round(zx[2 * u + j] + zh[2 * u + j])));
      const o = round(sigmoid(round(zx[3 * u + j] + zh[3 * u + j])));
      c[j] = round(round(f * c[j]) + round(i * g));
      hNext[j] = round(o * round(Math.tanh(c[j])));
    }
    h = hNext;
    seq.set(h, t * u);
  }
  return layer.returnSequences ? seq : h;
}

function gru(layer: Extract<Layer, { kind: 'gru' }>, x: Float64Array, steps: number, round: (v: number) => number): Float64Array {
  const u = layer.units;
  let h = new Float64Array(u);
  const seq = new Float64Array(steps * u);
  for (let t = 0; t < steps; t++) {
    const zx = matVec(x, t * layer.inputSize, layer.inputSize, layer.kernel, 3 * u, layer.bias, round);
    const zh = matVec(h, 0, u, layer.recurrentKernel, 3 * u, layer.bias, round, 3 * u);
    const hNext = new Float64Array(u);
    for (let j = 0; j < u; j++) {
      const z = round(sigmoid(round(zx[j] + zh[j])));
      const r = round(sigmoid(round(zx[u + j] + zh[u + j])));
      const hh = round(Math.tanh(round(zx[2 * u + j] + round(r * zh[2 * u + j]))));
      hNext[j] = round(round(z * h[j]) + round((1 - z) * hh));
    }
    h = hNext;
    seq.set(h, t * u);
  }
  return layer.returnSequences ? seq : h;
}

// ---------------------------------------------------------------- linear and trees

function linearForward(m: LinearIR, x: Float64Array, round: (v: number) => number): Float64Array {
  const k = m.coef.length;
  const scores = new Float64Array(k);
  for (let o = 0; o < k; o++) {
    let s = m.intercept[o];
    for (let i = 0; i < m.nFeatures; i++) s += m.coef[o][i] * x[i];
    scores[o] = round(s);
  }
  return applyLink(scores, m.link, round);
}

function applyLink(scores: Float64Array, link: LinearIR['link'], round: (v: number) => number): Float64Array {
  switch (link) {
    case 'identity':
      return scores;
    case 'logistic': {
      if (scores.length === 1) {
        const p = round(sigmoid(scores[0]));
        return Float64Array.of(round(1 - p), p);
      }
      return scores.map((s) => round(sigmoid(s)));
    }
    case 'softmax': {
      const y = scores.slice();
      softmaxInPlace(y, 0, y.length, round);
      return y;
    }
  }
}

function treeForward(m: TreeEnsembleIR, x: Float64Array, round: (v: number) => number): Float64Array {
  const width = m.base.length;
  const acc = new Float64Array(width);
  for (const tree of m.trees) {
    let node = 0;
    while (tree.feature[node] !== -1) {
      node = x[tree.feature[node]] <= round(tree.threshold[node]) ? tree.left[node] : tree.right[node];
    }
    for (let o = 0; o < width; o++) acc[o] += tree.value[node][o];
  }
  for (let o = 0; o < width; o++) {
    acc[o] = round(m.aggregate === 'average' ? acc[o] / m.trees.length + m.base[o] : acc[o] + m.base[o]);
  }
  return applyLink(acc, m.link, round);
}
