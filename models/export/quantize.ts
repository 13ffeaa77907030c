/**
 * Post-training quantization math shared by both writers (TFLite's int8 spec, which ONNX QDQ
 * also follows): weights symmetric int8 in [-127, 127] with zero point 0, per tensor or per output
 * channel; activations asymmetric int8 with a range that always contains 0 (so 0 and ReLU are
 * exact); float16 by IEEE 754 round-to-nearest-even.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation, NetworkIR } from '../ir.ts';
import type { Scaler } from './fold.ts';
import { layerForward, traceNetwork } from './reference.ts';
import { networkShapes } from './shapes.ts';
import type { CalibrationMethod } from './types.ts';

/** Activations a TFLite kernel fuses into FULLY_CONNECTED / CONV_2D (no separate op, no separate range). */
export const FUSABLE: ReadonlySet<Activation> = new Set<Activation>(['linear', 'relu', 'relu6']);

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

export interface QuantizedWeights {
  data: Int8Array;
  /** One scale per tensor, or one per output channel. */
  scales: Float32Array;
  /** The axis the scales run along (only meaningful when scales.length > 1). */
  axis: number;
}

/**
 * Quantize a float weight tensor of `dims` to int8 symmetric. With `perChannel`, one scale per
 * index of `axis`. An all-zero channel gets scale 1 (any positive scale represents it exactly).
 */
export function quantizeWeights(data: Float32Array, dims: number[], axis: number, perChannel: boolean): QuantizedWeights {
  const channels = perChannel ? dims[axis] : 1;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const channelOf = (i: number): number => (perChannel ? Math.floor(i / inner) % dims[axis] : 0);
  const absMax = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) absMax[channelOf(i)] = Math.max(absMax[channelOf(i)], Math.abs(data[i]));
  const scales = Float32Array.from(absMax, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = clamp(Math.round(data[i] / scales[channelOf(i)]), -127, 127);
  return { data: q, scales, axis };
}

/** int8 activation parameters for a [min, max] range, widened to contain 0. */
export function activationParams(min: number, max: number): QuantParams {
  const lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  if (hi - lo < 1e-8) hi = lo + 1e-8;
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = clamp(Math.round(-128 - lo / scale), -128, 127);
  return { scale, zeroPoint };
}

/** Fixed output parameters the TFLite int8 kernels require for bounded activations. */
export const FIXED_PARAMS = {
  /** Softmax and logistic: [0, 1) in 256 steps. */
  unit: { scale: 1 / 256, zeroPoint: -128 },
  /** Tanh: [-1, 1) in 256 steps. */
  symmetricUnit: { scale: 1 / 128, zeroPoint: 0 },
} as const;

export function quantizeValue(v: number, p: QuantParams): number {
  return clamp(Math.round(v / p.scale) + p.zeroPoint, -128, 127);
}

export function dequantizeValue(q: number, p: QuantParams): number {
  return (q - p.zeroPoint) * p.scale;
}

export interface Range {
  min: number;
  max: number;
}

export interface NetworkRanges {
  /** The network's input (after a scaler that stays in the graph). */
  input: Range;
  /** Each layer's output. */
  layers: Range[];
  /** Dense/conv layers with a separate (non-fused) activation: the range before it; else undefined. */
  preActivation: (Range | undefined)[];
}

/**
 * Run the float64 reference over the representative sample and collect each tensor's range:
 * min-max, or the two-sided percentile of the values (robust to a few outliers).
 */
export function calibrateNetwork(net: NetworkIR, scaler: Scaler | undefined, sample: ArrayLike<number>, rows: number, method: CalibrationMethod): NetworkRanges {
  const size = net.inputShape.reduce((a, d) => a * d, 1);
  if (!Number.isInteger(rows) || rows < 1) throw new EdgeloopError('BAD_ARGUMENT', `calibration.rows must be an integer >= 1, got ${rows}`);
  if (sample.length !== rows * size) {
    throw new EdgeloopError('BAD_ARGUMENT', `calibration.sample must have rows × ${size} = ${rows * size} values, got ${sample.length}`);
  }
  if (method.kind === 'percentile' && !(method.percentile > 50 && method.percentile <= 100)) {
    throw new EdgeloopError('BAD_ARGUMENT', `calibration.method.percentile must be in (50, 100], got ${method.percentile}`);
  }
  const collect: number[][] = Array.from({ length: net.layers.length + 1 }, () => []);
  const pre: number[][] = net.layers.map(() => []);
  const shapes = networkShapes(net);
  for (let r = 0; r < rows; r++) {
    const x = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const v = sample[r * size + i];
      if (!Number.isFinite(v)) throw new EdgeloopError('BAD_ARGUMENT', `calibration.sample must be finite, got ${v} at row ${r}, column ${i}`);
      x[i] = scaler ? (v - scaler.offset[i]) * scaler.scale[i] : v;
    }
    pushAll(collect[0], x);
    const outs = traceNetwork(net, x);
    outs.forEach((out, l) => {
      pushAll(collect[l + 1], out);
      const layer = net.layers[l];
      if ((layer.kind === 'dense' || layer.kind === 'conv1d') && !FUSABLE.has(layer.activation)) {
        pushAll(pre[l], layerForward({ ...layer, activation: 'linear' }, l === 0 ? x : outs[l - 1], shapes[l], (v) => v));
      }
    });
  }
  const ranges = collect.map((values) => rangeOf(values, method));
  return { input: ranges[0], layers: ranges.slice(1), preActivation: pre.map((v) => (v.length > 0 ? rangeOf(v, method) : undefined)) };
}

function pushAll(target: number[], values: Float64Array): void {
  for (const v of values) target.push(v);
}

export function rangeOf(values: number[], method: CalibrationMethod): Range {
  if (values.length === 0) return { min: 0, max: 0 };
  switch (method.kind) {
    case 'minmax': {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      return { min, max };
    }
    case 'percentile': {
      const sorted = Float64Array.from(values).sort();
      const tail = (100 - method.percentile) / 100;
      return { min: quantile(sorted, tail), max: quantile(sorted, 1 - tail) };
    }
  }
}

/** Linear-interpolated quantile of sorted values (numpy's default 'linear' method). */
export function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// ---------------------------------------------------------------- float16

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `v`, round to nearest even; overflow → ±Inf. */
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function toFloat16Array(data: ArrayLike<number>): Uint16Array {
  return Uint16Array.from({ length: data.length }, (_, i) => toFloat16Bits(data[i]));
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
