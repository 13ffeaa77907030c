/**
 * The forward pass of a network on TensorFlow.js ops, with the weights in the IR's (Keras) layouts.
 *
 * Built from core ops instead of tf.layers because (1) tf.layers' GRU rejects reset_after=true, the
 * GRU form the IR and the exporters use, and (2) the wasm backend has no Conv2DBackpropFilter kernel,
 * so tf.conv1d cannot be trained there; conv1d is written as patches × kernel (slice, concat, matMul),
 * whose gradients every backend has. Caller wraps this in tf.tidy.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation } from '../ir.ts';
import { outputSteps, padBefore, type LayerPlan, type WeightName } from './plan.ts';
import type { Tensor, Tensor2D, Tensor3D, Tf } from './tf.ts';

export interface LiveLayer {
  plan: LayerPlan;
  weights: Partial<Record<WeightName, Tensor>>;
}

export interface ForwardOptions {
  /** Dropout is active only when training. */
  training: boolean;
  /** Seeds of the dropout masks (one call per dropout layer per step), from the model's PRNG. */
  nextSeed?: () => number;
  /** Skip the output layer's activation (losses are computed on logits for numeric stability). */
  logits?: boolean;
}

export function forward(tf: Tf, layers: readonly LiveLayer[], x: Tensor, options: ForwardOptions): Tensor {
  let h = x;
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    h = layerForward(tf, layer, h, options, last && options.logits === true);
  });
  return h;
}

function layerForward(tf: Tf, layer: LiveLayer, x: Tensor, options: ForwardOptions, skipActivation: boolean): Tensor {
  const { plan, weights } = layer;
  const w = (name: WeightName): Tensor => {
    const t = weights[name];
    if (t === undefined) throw new EdgeloopError('MODEL_CORRUPT', `${plan.kind} layer has no ${name} weights`);
    return t;
  };
  switch (plan.kind) {
    case 'dense': {
      const y = tf.add(tf.matMul(x as Tensor2D, w('kernel') as Tensor2D), w('bias'));
      return skipActivation ? y : activate(tf, plan.activation, y);
    }
    case 'conv1d': {
      const y = conv1d(tf, x as Tensor3D, w('kernel'), w('bias'), plan.kernelSize, plan.stride, plan.padding);
      return skipActivation ? y : activate(tf, plan.activation, y);
    }
    case 'maxpool1d':
    case 'avgpool1d': {
      const [b, steps, c] = x.shape;
      const x4 = tf.reshape(x, [b, steps, 1, c]) as TfTensor4D;
      const pooled =
        plan.kind === 'maxpool1d'
          ? tf.maxPool(x4, [plan.poolSize, 1], [plan.stride, 1], plan.padding)
          : tf.avgPool(x4, [plan.poolSize, 1], [plan.stride, 1], plan.padding);
      return tf.reshape(pooled, [b, outputSteps(steps, plan.poolSize, plan.stride, plan.padding), c]);
    }
    case 'flatten':
      return tf.reshape(x, [x.shape[0], -1]);
    case 'dropout': {
      if (!options.training || plan.rate === 0) return x;
      // Inverted dropout (Keras): keep with probability 1 - rate and scale kept units up.
      const seed = options.nextSeed ? options.nextSeed() : 0;
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), plan.rate), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - plan.rate)));
    }
    case 'lstm':
      return lstm(tf, x as Tensor3D, w('kernel'), w('recurrentKernel'), w('bias'), plan.units, plan.returnSequences);
    case 'gru':
      return gru(tf, x as Tensor3D, w('kernel'), w('recurrentKernel'), w('bias'), plan.units, plan.returnSequences);
    default: {
      const never: never = plan;
      throw new EdgeloopError('MODEL_UNSUPPORTED', `unknown layer kind ${JSON.stringify(never)}`);
    }
  }
}

type TfTensor4D = Parameters<Tf['maxPool']>[0];

export function activate(tf: Tf, activation: Activation, x: Tensor): Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'softmax':
      return tf.softmax(x);
    default: {
      const never: never = activation;
      throw new EdgeloopError('MODEL_UNSUPPORTED', `unknown activation ${String(never)}`);
    }
  }
}

/** x [b][steps][in], kernel [k][in][filters] → [b][outSteps][filters], TensorFlow padding rules. */
function conv1d(tf: Tf, x: Tensor3D, kernel: Tensor, bias: Tensor, k: number, stride: number, padding: 'valid' | 'same'): Tensor {
  const [b, steps, c] = x.shape;
  const out = outputSteps(steps, k, stride, padding);
  const before = padding === 'same' ? padBefore(steps, k, stride) : 0;
  const afterSame = padding === 'same' ? Math.max((out - 1) * stride + k - steps, 0) - before : 0;
  // Each tap j reads out·stride steps from j; pad the end so that slice never runs past it
  // (the extra zeros are never selected: only every stride-th step is kept).
  const extra = Math.max(k - 1 + out * stride - (before + steps + afterSame), 0);
  const tail = afterSame + extra;
  const xp = before + tail > 0 ? tf.pad(x, [[0, 0], [before, tail], [0, 0]]) : x;
  const taps: Tensor[] = [];
  for (let j = 0; j < k; j++) {
    let tap = tf.slice(xp, [0, j, 0], [b, out * stride, c]);
    if (stride > 1) tap = tf.reshape(tf.slice(tf.reshape(tap, [b, out, stride, c]), [0, 0, 0, 0], [b, out, 1, c]), [b, out, c]);
    taps.push(tap);
  }
  const patches = taps.length === 1 ? taps[0] : tf.concat(taps, 2); // [b][out][k·c], tap-major like the kernel
  const y = tf.matMul(tf.reshape(patches, [b * out, k * c]) as Tensor2D, tf.reshape(kernel, [k * c, -1]) as Tensor2D);
  return tf.reshape(tf.add(y, bias), [b, out, -1]);
}

/** Keras LSTM, gates i, f, c, o; kernel [in][4u], recurrentKernel [u][4u], bias [4u]. */
function lstm(tf: Tf, x: Tensor3D, kernel: Tensor, recurrent: Tensor, bias: Tensor, units: number, returnSequences: boolean): Tensor {
  const [b, steps, inputSize] = x.shape;
  // The input projection of every step at once; only h · U stays inside the loop.
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [b * steps, inputSize]) as Tensor2D, kernel as Tensor2D), bias), [b, steps, 4 * units]);
  const perStep = tf.unstack(projected, 1);
  let h: Tensor = tf.zeros([b, units]);
  let c: Tensor = tf.zeros([b, units]);
  const outputs: Tensor[] = [];
  for (const xt of perStep) {
    const z = tf.add(xt, tf.matMul(h as Tensor2D, recurrent as Tensor2D));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zc)));
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
    if (returnSequences) outputs.push(h);
  }
  return returnSequences ? tf.stack(outputs, 1) : h;
}

/**
 * Keras GRU with reset_after = true (the TF2/cuDNN form), gates z, r, h; kernel [in][3u],
 * recurrentKernel [u][3u], bias [2][3u] (input bias, recurrent bias):
 *   z = σ(x·Wz + bz + h·Uz + b'z), r = σ(x·Wr + br + h·Ur + b'r),
 *   ĥ = tanh(x·Wh + bh + r ⊙ (h·Uh + b'h)), h ← z ⊙ h + (1 − z) ⊙ ĥ.
 */
function gru(tf: Tf, x: Tensor3D, kernel: Tensor, recurrent: Tensor, bias: Tensor, units: number, returnSequences: boolean): Tensor {
  const [b, steps, inputSize] = x.shape;
  const [inputBias, recurrentBias] = tf.unstack(bias, 0);
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [b * steps, inputSize]) as Tensor2D, kernel as Tensor2D), inputBias), [b, steps, 3 * units]);
  const perStep = tf.unstack(projected, 1);
  let h: Tensor = tf.zeros([b, units]);
  const outputs: Tensor[] = [];
  for (const xt of perStep) {
    const inner = tf.add(tf.matMul(h as Tensor2D, recurrent as Tensor2D), recurrentBias);
    const [xz, xr, xh] = tf.split(xt, 3, 1);
    const [hz, hr, hh] = tf.split(inner, 3, 1);
    const z = tf.sigmoid(tf.add(xz, hz));
    const r = tf.sigmoid(tf.add(xr, hr));
    const candidate = tf.tanh(tf.add(xh, tf.mul(r, hh)));
    h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate));
    if (returnSequences) outputs.push(h);
  }
  return returnSequences ? tf.stack(outputs, 1) : h;
}
