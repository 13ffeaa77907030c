/**
 * A real network for the accuracy checks: a small MLP trained on the UCI occupancy data with plain
 * JS mini-batch Adam (seeded), independent of the tfjs trainer so the export tests stand alone.
 * Rows: `"id","date",Temperature,Humidity,Light,CO2,HumidityRatio,Occupancy` (README quirks).
 */
import { readFileSync } from 'node:fs';
import type { ModelIR, NetworkIR } from '../models/ir.ts';
import { createRandom, shuffleInPlace } from '../src/random.ts';
import { dense } from './export-nets.ts';

export interface Occupancy {
  X: Float32Array;
  y: Int32Array;
  rows: number;
}

export const OCCUPANCY_FEATURES = 5;

export function loadOccupancy(file: 'datatraining.txt' | 'datatest.txt' | 'datatest2.txt'): Occupancy {
  const text = readFileSync(new URL(`../datasets/occupancy/${file}`, import.meta.url), 'utf8');
  const lines = text.split(/\r?\n/).slice(1).filter((l) => l.trim().length > 0);
  const X = new Float32Array(lines.length * OCCUPANCY_FEATURES);
  const y = new Int32Array(lines.length);
  lines.forEach((line, r) => {
    const f = line.split(',');
    const nums = f.slice(f.length - 6).map(Number);
    for (let j = 0; j < OCCUPANCY_FEATURES; j++) X[r * OCCUPANCY_FEATURES + j] = nums[j];
    y[r] = nums[5];
  });
  return { X, y, rows: lines.length };
}

/** Train a [5 → hidden… → 2 softmax] MLP; the standard scaler goes into `preprocess`. */
export function trainOccupancyMlp(data: Occupancy, hidden: number[], epochs: number, seed: number): ModelIR {
  const n = OCCUPANCY_FEATURES;
  const mean = new Array<number>(n).fill(0);
  const sd = new Array<number>(n).fill(0);
  for (let r = 0; r < data.rows; r++) for (let j = 0; j < n; j++) mean[j] += data.X[r * n + j] / data.rows;
  for (let r = 0; r < data.rows; r++) for (let j = 0; j < n; j++) sd[j] += (data.X[r * n + j] - mean[j]) ** 2 / data.rows;
  const scale = sd.map((v) => 1 / Math.sqrt(v || 1));
  const random = createRandom(seed);
  const sizes = [n, ...hidden, 2];
  const layers = sizes.slice(0, -1).map((s, i) => dense(random, s, sizes[i + 1], i === sizes.length - 2 ? 'softmax' : 'relu')) as Extract<NetworkIR['layers'][number], { kind: 'dense' }>[];
  const params = layers.flatMap((l) => [l.kernel, l.bias]);
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const grads = params.map((p) => new Float64Array(p.length));
  const order = Array.from({ length: data.rows }, (_, i) => i);
  const batch = 32;
  const lr = 0.003;
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    shuffleInPlace(order, random);
    for (let start = 0; start < order.length; start += batch) {
      grads.forEach((g) => g.fill(0));
      const idx = order.slice(start, start + batch);
      for (const r of idx) {
        const acts: Float64Array[] = [Float64Array.from({ length: n }, (_, j) => (data.X[r * n + j] - mean[j]) * scale[j])];
        for (const l of layers) {
          const x = acts[acts.length - 1];
          const out = new Float64Array(l.units);
          for (let u = 0; u < l.units; u++) {
            let s = l.bias[u];
            for (let i = 0; i < l.inputSize; i++) s += x[i] * l.kernel[i * l.units + u];
            out[u] = s;
          }
          if (l.activation === 'relu') for (let u = 0; u < l.units; u++) out[u] = Math.max(0, out[u]);
          else {
            const mx = Math.max(...out);
            let sum = 0;
            for (let u = 0; u < l.units; u++) sum += out[u] = Math.exp(out[u] - mx);
            for (let u = 0; u < l.units; u++) out[u] /= sum;
          }
          acts.push(out);
        }
        // Softmax + cross-entropy: dL/dz = p - onehot.
        let delta = acts[acts.length - 1].map((p, u) => (p - (u === data.y[r] ? 1 : 0)) / idx.length);
        for (let li = layers.length - 1; li >= 0; li--) {
          const l = layers[li];
          const x = acts[li];
          const gk = grads[2 * li];
          const gb = grads[2 * li + 1];
          const prev = new Float64Array(l.inputSize);
          for (let i = 0; i < l.inputSize; i++) {
            let s = 0;
            for (let u = 0; u < l.units; u++) {
              gk[i * l.units + u] += x[i] * delta[u];
              s += l.kernel[i * l.units + u] * delta[u];
            }
            prev[i] = li > 0 && x[i] <= 0 ? 0 : s;
          }
          for (let u = 0; u < l.units; u++) gb[u] += delta[u];
          delta = prev;
        }
      }
      step++;
      params.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) {
          m[k][i] = 0.9 * m[k][i] + 0.1 * grads[k][i];
          v[k][i] = 0.999 * v[k][i] + 0.001 * grads[k][i] ** 2;
          p[i] -= (lr * (m[k][i] / (1 - 0.9 ** step))) / (Math.sqrt(v[k][i] / (1 - 0.999 ** step)) + 1e-8);
        }
      });
    }
  }
  return { preprocess: { offset: mean, scale }, body: { kind: 'network', task: 'classification', inputShape: [n], layers, classes: ['empty', 'occupied'] } };
}

export function argmaxRows(y: ArrayLike<number>, width: number): Int32Array {
  const rows = y.length / width;
  return Int32Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let k = 1; k < width; k++) if (y[r * width + k] > y[r * width + best]) best = k;
    return best;
  });
}
