/**
 * The dense Adam step of dense-step.ts on plain typed arrays, for small nets.
 *
 * Why: even fused, a step on the wasm backend is ~49 tfjs kernels at a fixed dispatch cost of
 * ~10 µs each, while the arithmetic of a small MLP is a few hundred thousand multiply-adds per
 * batch (the occupancy net: 200 rows × (7·32 + 32) weights ≈ 50k for the forward pass). Plain loops
 * over Float32Array/Float64Array do that arithmetic with no dispatch at all.
 *
 * The math is dense-step.ts's, operation for operation: forward x·W + b with the hidden activation,
 * the same row losses and dL/dlogits on logits (sigmoid: relu(z) − z·y + softplus(−|z|), σ(z) − y;
 * softmax: −Σ y·logSoftmax(z), softmax(z) − y; linear: (z − y)², 2(z − y)), row weights, the mean
 * over the batch, kernel gradients inputᵀ·dz plus l1·sign(W) + 2·l2·W, bias gradients Σ_rows dz,
 * dz·Wᵀ through the activation's derivative, and tfjs's Adam (ε of the active backend, bias
 * correction folded the same way). Parameters, m and v are kept in float32 like the tfjs tensors
 * (each step's results are rounded to float32); sums run in float64, so results agree with the
 * tfjs path to float32 rounding (test/training-dense-typed.test.ts). The trained weights are written
 * back into the layers' tf variables (`sync`), so predict, toIR and the ONNX/TFLite export are the
 * same code as after any other training.
 */
import type { Activation } from '../ir.ts';
import type { DenseTrainer } from './dense-step.ts';
import type { LiveLayer } from './forward.ts';
import type { Head } from './plan.ts';
import { gemm, rowMajor, transposed } from './gemm.ts';
import type { Tf, Variable } from './tf.ts';

export interface TypedDenseOptions {
  learningRate: number;
  l1: number;
  l2: number;
  /** Rows of the largest batch (buffers are allocated once). */
  maxBatch: number;
  /** Adam's ε: tf.train.adam takes the backend's (1e-7 for float32 backends). */
  epsilon: number;
  beta1?: number;
  beta2?: number;
}

interface DenseShape {
  inputSize: number;
  units: number;
  activation: Activation;
  /** Offsets of the kernel ([inputSize][units], row-major as Keras) and bias in the packed vector. */
  kernelAt: number;
  biasAt: number;
}

export function typedDenseTrainer(tf: Tf, layers: readonly LiveLayer[], head: Head, o: TypedDenseOptions): DenseTrainer {
  const variables: Variable[] = [];
  const shapes: DenseShape[] = [];
  let total = 0;
  for (const l of layers) {
    if (l.plan.kind !== 'dense' || !l.weights.kernel || !l.weights.bias) throw new Error('unreachable: typedDenseTrainer needs dense layers (denseStepApplies)');
    variables.push(l.weights.kernel as Variable, l.weights.bias as Variable);
    const kernelAt = total;
    total += l.plan.inputSize * l.plan.units;
    shapes.push({ inputSize: l.plan.inputSize, units: l.plan.units, activation: l.plan.activation, kernelAt, biasAt: total });
    total += l.plan.units;
  }
  // Packed parameters, layer by layer: kernel [in][units] then bias [units] — together the
  // (in + 1) × units matrix that multiplies an input row with a constant 1 appended, so one matrix
  // product gives x·W + b forward and both the kernel and the bias gradients backward.
  const theta = new Float32Array(total);
  for (const [i, v] of variables.entries()) theta.set(v.dataSync() as Float32Array, i % 2 === 0 ? shapes[i >> 1]!.kernelAt : shapes[i >> 1]!.biasAt);
  // The same float32 values as float64, the operand type of the matrix products.
  const w64 = Float64Array.from(theta);
  const m = new Float32Array(total);
  const v = new Float32Array(total);
  const grad = new Float64Array(total);
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  let accBeta1 = beta1;
  let accBeta2 = beta2;
  let loss = 0;
  const last = shapes.length - 1;
  const units = head.units;
  // inputs[i]: layer i's input rows with the constant 1 appended (maxBatch × (in + 1)); inputs[i + 1]
  // is also layer i's output, written in its first columns. logits: the last layer's output.
  const inputs = shapes.map((s) => {
    const buffer = new Float64Array(o.maxBatch * (s.inputSize + 1));
    for (let r = 0; r < o.maxBatch; r++) buffer[r * (s.inputSize + 1) + s.inputSize] = 1;
    return buffer;
  });
  const logits = new Float64Array(o.maxBatch * units);
  const inputViews = shapes.map((s, i) => rowMajor(inputs[i]!, s.inputSize + 1));
  const outputViews = shapes.map((s, i) => (i === last ? rowMajor(logits, units) : rowMajor(inputs[i + 1]!, s.units + 1)));
  /** Kernel and bias as one (in + 1) × units matrix; its first `in` rows are the kernel. */
  const paramViews = shapes.map((s) => rowMajor(w64, s.units, s.kernelAt));
  const gradViews = shapes.map((s) => rowMajor(grad, s.units, s.kernelAt));
  // dL/d(pre-activation) of a layer, two ping-pong buffers of the widest layer.
  const widest = Math.max(...shapes.map((s) => s.units));
  const dzA = new Float64Array(o.maxBatch * widest);
  const dzB = new Float64Array(o.maxBatch * widest);
  const inputSize = shapes[0]!.inputSize;

  return {
    step(x, y, rowWeights, nb) {
      // Forward.
      const x0 = inputs[0]!;
      for (let r = 0; r < nb; r++) for (let j = 0; j < inputSize; j++) x0[r * (inputSize + 1) + j] = x[r * inputSize + j]!;
      for (let li = 0; li <= last; li++) {
        const s = shapes[li]!;
        gemm(nb, s.units, s.inputSize + 1, inputViews[li]!, paramViews[li]!, outputViews[li]!);
        if (li < last) activate(s.activation, inputs[li + 1]!, nb, s.units);
      }
      // Row losses and dL/dlogits, scaled by row weight / nb.
      const z = logits;
      let dz = dzA;
      let batchLoss = 0;
      for (let r = 0; r < nb; r++) {
        const rw = rowWeights ? rowWeights[r]! : 1;
        const scale = rw / nb;
        let rowLoss: number;
        if (head.activation === 'softmax') {
          const at = r * units;
          let max = -Infinity;
          for (let k = 0; k < units; k++) if (z[at + k]! > max) max = z[at + k]!;
          let sum = 0;
          for (let k = 0; k < units; k++) sum += Math.exp(z[at + k]! - max);
          const logSum = max + Math.log(sum);
          rowLoss = 0;
          for (let k = 0; k < units; k++) {
            const logProb = z[at + k]! - logSum;
            const target = y[at + k]!;
            rowLoss -= target * logProb;
            dz[at + k] = (Math.exp(logProb) - target) * scale;
          }
        } else {
          const zr = z[r]!;
          const target = y[r]!;
          if (head.activation === 'sigmoid') {
            rowLoss = Math.max(zr, 0) - zr * target + Math.log1p(Math.exp(-Math.abs(zr)));
            dz[r] = (sigmoid(zr) - target) * scale;
          } else {
            const diff = zr - target;
            rowLoss = diff * diff;
            dz[r] = 2 * diff * scale;
          }
        }
        batchLoss += rowLoss * rw;
      }
      // Backward: [kernel; bias] gradient = [input, 1]ᵀ·dz per layer, then dz·Wᵀ through the
      // previous layer's activation.
      for (let li = last; li >= 0; li--) {
        const s = shapes[li]!;
        const dzView = rowMajor(dz, s.units);
        gemm(s.inputSize + 1, s.units, nb, transposed(inputViews[li]!), dzView, gradViews[li]!);
        if (o.l1 > 0 || o.l2 > 0) {
          for (let a = s.kernelAt; a < s.biasAt; a++) grad[a] += o.l1 * Math.sign(theta[a]!) + 2 * o.l2 * theta[a]!;
        }
        if (li > 0) {
          const next = dz === dzA ? dzB : dzA;
          // The kernel's transpose: units × in (the bias row is not part of it).
          gemm(nb, s.inputSize, s.units, dzView, transposed(paramViews[li]!), rowMajor(next, s.inputSize));
          backThroughActivation(shapes[li - 1]!.activation, inputs[li]!, next, nb, s.inputSize);
          dz = next;
        }
      }
      if (o.l1 > 0 || o.l2 > 0) {
        let p = 0;
        for (const s of shapes) {
          for (let a = s.kernelAt; a < s.biasAt; a++) {
            const w = theta[a]!;
            p += o.l1 * Math.abs(w) + o.l2 * w * w;
          }
        }
        batchLoss += p * nb;
      }
      loss += batchLoss;
      // tfjs Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − (m·lr/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
      const rate = o.learningRate / (1 - accBeta1);
      const invC2 = 1 / (1 - accBeta2);
      const b1c = 1 - beta1;
      const b2c = 1 - beta2;
      const eps = o.epsilon;
      for (let a = 0; a < total; a++) {
        const g = grad[a]!;
        m[a] = beta1 * m[a]! + b1c * g;
        v[a] = beta2 * v[a]! + b2c * g * g;
        // From the float32-rounded m, v, as the tfjs tensors hold them.
        theta[a] = theta[a]! - (m[a]! * rate) / (Math.sqrt(v[a]! * invC2) + eps);
        w64[a] = theta[a]!;
      }
      accBeta1 *= beta1;
      accBeta2 *= beta2;
    },
    takeLoss() {
      const value = loss;
      loss = 0;
      return value;
    },
    sync() {
      tf.tidy(() => {
        variables.forEach((variable, i) => {
          const s = shapes[i >> 1]!;
          const values = i % 2 === 0 ? theta.subarray(s.kernelAt, s.biasAt) : theta.subarray(s.biasAt, s.biasAt + s.units);
          variable.assign(tf.tensor(values.slice(), variable.shape));
        });
      });
    },
    dispose() {
      // Nothing to free: the buffers are plain typed arrays.
    },
  };
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** The hidden activation in place on the first `units` columns of rows of stride units + 1. */
function activate(act: Activation, out: Float64Array, nb: number, units: number): void {
  const stride = units + 1;
  const end = nb * stride;
  switch (act) {
    case 'linear': return;
    case 'relu':
      // (x + |x|)/2 is max(x, 0) exactly, without a data-dependent branch per unit.
      for (let at = 0; at < end; at += stride) for (let u = at; u < at + units; u++) { const a = out[u]!; out[u] = (a + Math.abs(a)) * 0.5; }
      return;
    case 'sigmoid': for (let at = 0; at < end; at += stride) for (let u = at; u < at + units; u++) out[u] = sigmoid(out[u]!); return;
    case 'tanh': for (let at = 0; at < end; at += stride) for (let u = at; u < at + units; u++) out[u] = Math.tanh(out[u]!); return;
    default: throw new Error(`unreachable: ${act} is rejected by denseStepApplies`);
  }
}

/**
 * grad ← grad · act′(out) (grad: nb × units; out: the activation's output, rows of stride units + 1);
 * relu′ is tf.step(out), 1 where out > 0, as in dense-step.ts.
 */
function backThroughActivation(act: Activation, out: Float64Array, grad: Float64Array, nb: number, units: number): void {
  const stride = units + 1;
  switch (act) {
    case 'linear': return;
    case 'relu':
      for (let r = 0, at = 0, g = 0; r < nb; r++, at += stride, g += units) for (let u = 0; u < units; u++) if (!(out[at + u]! > 0)) grad[g + u] = 0;
      return;
    case 'sigmoid':
      for (let r = 0, at = 0, g = 0; r < nb; r++, at += stride, g += units) for (let u = 0; u < units; u++) { const a = out[at + u]!; grad[g + u] = grad[g + u]! * a * (1 - a); }
      return;
    case 'tanh':
      for (let r = 0, at = 0, g = 0; r < nb; r++, at += stride, g += units) for (let u = 0; u < units; u++) { const a = out[at + u]!; grad[g + u] = grad[g + u]! * (1 - a * a); }
      return;
    default: throw new Error(`unreachable: ${act} is rejected by denseStepApplies`);
  }
}
