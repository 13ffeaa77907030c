/**
 * A faster training step for the common case: a stack of dense layers trained with Adam, no dropout.
 *
 * Why: on the wasm backend every tfjs op costs a fixed dispatch (~10 µs) whatever its size, and
 * `optimizer.minimize` on a small MLP issues ~110 kernels per batch (autograd of the softmax
 * loss and of the L1/L2 penalty, then Adam's ~13 ops per variable). For the occupancy MLP
 * (8,143 rows × 7 features, 32 hidden units, batches of 200) the arithmetic is tiny, so the time is
 * all dispatch. This step computes the same gradients by hand (fused matMul + bias + activation
 * forward, one matMul per weight gradient backward) and runs Adam once on all parameters packed in
 * one flat tensor: ~40 kernels per batch. The math is tfjs's Adam (same β₁, β₂, ε and bias
 * correction) and the loss of train.ts; test/nn-training.test.ts checks both paths give the same weights.
 */
import type { Activation } from '../ir.ts';
import type { LiveLayer } from './forward.ts';
import type { Head } from './plan.ts';
import type { Tensor, Tensor2D, Tf, Variable } from './tf.ts';

const FUSABLE: readonly Activation[] = ['linear', 'relu', 'sigmoid'];
const DIFFERENTIABLE: readonly Activation[] = ['linear', 'relu', 'sigmoid', 'tanh'];

/** True when `denseTrainer` can train these layers (else train.ts uses autograd). */
export function denseStepApplies(layers: readonly LiveLayer[], optimizer: string): boolean {
  if (optimizer !== 'adam' || layers.length === 0) return false;
  return layers.every((l, i) => l.plan.kind === 'dense' && l.weights.kernel !== undefined && l.weights.bias !== undefined
    && (i === layers.length - 1 || DIFFERENTIABLE.includes(l.plan.activation)));
}

export interface DenseTrainer {
  /**
   * One Adam step on a batch; adds Σ_rows(weighted row loss)/nb·nb + penalty·nb (what train.ts's
   * `cost × rows` sums) to the on-device loss accumulator, read once per epoch by `takeLoss`.
   */
  step(x: Float32Array, y: Float32Array, rowWeights: Float32Array | undefined, nb: number): void;
  /** The summed (cost × rows) of the steps since the last call. */
  takeLoss(): number;
  /** Writes the packed parameters back into the layer variables (before validation, at the end). */
  sync(): void;
  dispose(): void;
}

interface Options { learningRate: number; l1: number; l2: number; inputSize: number; beta1?: number; beta2?: number }

export function denseTrainer(tf: Tf, layers: readonly LiveLayer[], head: Head, o: Options): DenseTrainer {
  const variables = layers.flatMap((l) => [l.weights.kernel!, l.weights.bias!]) as Variable[];
  const shapes = variables.map((v) => v.shape);
  const sizes = variables.map((v) => v.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  // tf.train.adam(rate) takes ε from the backend (1e-7 for float32 backends).
  const epsilon = tf.backend().epsilon();
  let theta: Tensor = tf.tidy(() => tf.concat(variables.map((v) => tf.reshape(v, [-1]))));
  let m: Tensor = tf.keep(tf.zeros([total]));
  let v: Tensor = tf.keep(tf.zeros([total]));
  let loss: Tensor = tf.keep(tf.scalar(0));
  let accBeta1 = beta1;
  let accBeta2 = beta2;
  const units = head.units;
  const penalized = o.l1 > 0 || o.l2 > 0;

  const activate = (a: Activation, z: Tensor): Tensor => {
    switch (a) {
      case 'linear': return z;
      case 'relu': return tf.relu(z);
      case 'sigmoid': return tf.sigmoid(z);
      case 'tanh': return tf.tanh(z);
      default: throw new Error(`unreachable: ${a} is rejected by denseStepApplies`);
    }
  };
  /** dL/dz from dL/da and the activation's output a. */
  const backAct = (a: Activation, out: Tensor, grad: Tensor): Tensor => {
    switch (a) {
      case 'linear': return grad;
      case 'relu': return tf.mul(grad, tf.step(out));
      case 'sigmoid': return tf.mul(grad, tf.mul(out, tf.sub(1, out)));
      case 'tanh': return tf.mul(grad, tf.sub(1, tf.square(out)));
      default: throw new Error(`unreachable: ${a} is rejected by denseStepApplies`);
    }
  };

  return {
    step(xData, yData, rowWeights, nb) {
      const c1 = 1 - accBeta1;
      const c2 = 1 - accBeta2;
      const next = tf.tidy(() => {
        const parts = tf.split(theta, sizes);
        const w = parts.map((p, i) => (shapes[i]!.length === 1 ? p : tf.reshape(p, shapes[i]!)));
        const x = tf.tensor2d(xData, [nb, o.inputSize]);
        // Forward, keeping each layer's input.
        const inputs: Tensor[] = [x];
        let h: Tensor = x;
        layers.forEach((l, i) => {
          const kernel = w[2 * i] as Tensor2D;
          const bias = w[2 * i + 1]!;
          const act = l.plan.kind === 'dense' ? l.plan.activation : 'linear';
          if (i === layers.length - 1) h = tf.fused.matMul({ a: h as Tensor2D, b: kernel, bias });
          else if (FUSABLE.includes(act)) h = tf.fused.matMul({ a: h as Tensor2D, b: kernel, bias, activation: act as 'linear' | 'relu' | 'sigmoid' });
          else h = activate(act, tf.add(tf.matMul(h as Tensor2D, kernel), bias));
          if (i < layers.length - 1) inputs.push(h);
        });
        // Row losses and dL/dlogits (mean over the batch of the class-weighted row loss, as train.ts).
        let rowLoss: Tensor;
        let dz: Tensor;
        if (head.activation === 'softmax') {
          const target = tf.tensor2d(yData, [nb, units]);
          const logProb = tf.logSoftmax(h);
          rowLoss = tf.neg(tf.sum(tf.mul(target, logProb), 1));
          dz = tf.sub(tf.exp(logProb), target);
        } else {
          const target = tf.tensor2d(yData, [nb, 1]);
          // Row losses stay [nb, 1]: only their (weighted) sum is needed.
          if (head.activation === 'sigmoid') {
            rowLoss = tf.add(tf.sub(tf.relu(h), tf.mul(h, target)), tf.softplus(tf.neg(tf.abs(h))));
            dz = tf.sub(tf.sigmoid(h), target);
          } else {
            const diff = tf.sub(h, target);
            rowLoss = tf.square(diff);
            dz = tf.mul(diff, 2);
          }
        }
        if (rowWeights) {
          const rw = tf.tensor2d(rowWeights, [nb, 1]);
          rowLoss = tf.mul(rowLoss, head.activation === 'softmax' ? tf.reshape(rw, [nb]) : rw);
          dz = tf.mul(dz, rw);
        }
        dz = tf.mul(dz, 1 / nb);
        let batchLoss = tf.sum(rowLoss); // = mean × nb
        // Backward.
        const grads: Tensor[] = new Array<Tensor>(w.length);
        for (let i = layers.length - 1; i >= 0; i--) {
          const kernel = w[2 * i]!;
          let gk = tf.matMul(inputs[i] as Tensor2D, dz as Tensor2D, true, false) as Tensor;
          if (o.l1 > 0) gk = tf.add(gk, tf.mul(tf.sign(kernel), o.l1));
          if (o.l2 > 0) gk = tf.add(gk, tf.mul(kernel, 2 * o.l2));
          grads[2 * i] = tf.reshape(gk, [-1]);
          grads[2 * i + 1] = tf.sum(dz, 0);
          if (i > 0) {
            const prev = layers[i - 1]!.plan;
            dz = backAct(prev.kind === 'dense' ? prev.activation : 'linear', inputs[i]!, tf.matMul(dz as Tensor2D, kernel as Tensor2D, false, true));
          }
        }
        if (penalized) {
          let p: Tensor = tf.scalar(0);
          for (let i = 0; i < layers.length; i++) {
            const kernel = w[2 * i]!;
            if (o.l1 > 0) p = tf.add(p, tf.mul(tf.sum(tf.abs(kernel)), o.l1));
            if (o.l2 > 0) p = tf.add(p, tf.mul(tf.sum(tf.square(kernel)), o.l2));
          }
          batchLoss = tf.add(batchLoss, tf.mul(p, nb));
        }
        const g = tf.concat(grads);
        // tfjs Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
        const m2 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const update = tf.div(tf.mul(m2, o.learningRate / c1), tf.add(tf.sqrt(tf.mul(v2, 1 / c2)), epsilon));
        return [tf.sub(theta, update), m2, v2, tf.add(loss, batchLoss)];
      });
      theta.dispose(); m.dispose(); v.dispose(); loss.dispose();
      [theta, m, v, loss] = next.map((t) => tf.keep(t)) as [Tensor, Tensor, Tensor, Tensor];
      accBeta1 *= beta1;
      accBeta2 *= beta2;
    },
    takeLoss() {
      const value = loss.dataSync()[0] ?? NaN;
      loss.dispose();
      loss = tf.keep(tf.scalar(0));
      return value;
    },
    sync() {
      tf.tidy(() => {
        const parts = tf.split(theta, sizes);
        variables.forEach((variable, i) => variable.assign(tf.reshape(parts[i]!, shapes[i]!)));
      });
    },
    dispose() {
      theta.dispose(); m.dispose(); v.dispose(); loss.dispose();
    },
  };
}
