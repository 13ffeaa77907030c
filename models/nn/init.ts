/**
 * Seeded weight initialization, the Keras defaults: glorot-uniform kernels, orthogonal recurrent
 * kernels, zero biases and an LSTM forget-gate bias of 1 (unit_forget_bias). Values are drawn in
 * JavaScript from the edgeloop PRNG rather than tf.randomUniform, so a seed means the same weights
 * on every backend.
 */
import type { Random } from '../../src/random.ts';
import { weightShapes, type LayerPlan, type WeightName } from './plan.ts';

export type LayerWeights = Partial<Record<WeightName, Float32Array>>;

export function initialWeights(plan: LayerPlan, random: Random): LayerWeights {
  const shapes = weightShapes(plan);
  const out: LayerWeights = {};
  if (shapes.kernel) out.kernel = glorotUniform(shapes.kernel, random);
  if (shapes.recurrentKernel) out.recurrentKernel = orthogonalRows(shapes.recurrentKernel[0], shapes.recurrentKernel[1], random);
  if (shapes.bias) {
    const bias = new Float32Array(shapes.bias.reduce((a, b) => a * b, 1));
    if (plan.kind === 'lstm') bias.fill(1, plan.units, 2 * plan.units); // gate order i, f, c, o
    out.bias = bias;
  }
  return out;
}

/** Uniform in ±sqrt(6 / (fanIn + fanOut)); for a conv kernel [k][in][out] the fans include k. */
function glorotUniform(shape: number[], random: Random): Float32Array {
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const fanIn = shape[shape.length - 2] * receptive;
  const fanOut = shape[shape.length - 1] * receptive;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = (2 * random.next() - 1) * limit;
  return out;
}

/** A rows×cols matrix (rows ≤ cols) with orthonormal rows: Gram–Schmidt over Gaussian rows. */
function orthogonalRows(rows: number, cols: number, random: Random): Float32Array {
  const m: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    let v = new Float64Array(cols);
    for (;;) {
      for (let c = 0; c < cols; c++) v[c] = gaussian(random);
      for (const u of m) {
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += v[c] * u[c];
        for (let c = 0; c < cols; c++) v[c] -= dot * u[c];
      }
      let norm = 0;
      for (let c = 0; c < cols; c++) norm += v[c] * v[c];
      norm = Math.sqrt(norm);
      if (norm > 1e-6) {
        v = v.map((x) => x / norm);
        break;
      } // else a (measure-zero) degenerate draw: draw again
    }
    m.push(v);
  }
  const out = new Float32Array(rows * cols);
  m.forEach((row, r) => out.set(row, r * cols));
  return out;
}

function gaussian(random: Random): number {
  // Box–Muller; 1 - next() is in (0, 1] so the log is finite.
  const u = 1 - random.next();
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
