/**
 * NetworkIR (and linear models, as one dense layer) → TFLite flatbuffer, batch 1, float input and
 * output. Variants:
 *  - float32: FULLY_CONNECTED/CONV_2D with fused linear/relu/relu6, then LOGISTIC/TANH/SOFTMAX ops;
 *  - float16: weights stored fp16, each behind a DEQUANTIZE to float32 (the converter's fp16 form);
 *  - dynamic-int8: FULLY_CONNECTED/CONV_2D weights int8 (per-tensor), activations float (hybrid);
 *  - int8: every activation int8 with calibrated scales, int32 biases, QUANTIZE at the input and
 *    DEQUANTIZE at the output; bounded activations use the fixed scales the int8 kernels require.
 * Conv1D/pooling run as CONV_2D / *_POOL_2D on an NHWC tensor of height 1 (RESHAPE in and out).
 * LSTM/GRU are unrolled over the time steps into FULLY_CONNECTED/SPLIT/ADD/MUL/LOGISTIC/TANH ops
 * (float32 and float16 only).
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation, Layer, ModelIR, NetworkIR } from '../ir.ts';
import { linearAsNetwork } from './as-network.ts';
import { foldPreprocess, type Scaler } from './fold.ts';
import { FIXED_PARAMS, FUSABLE, activationParams, calibrateNetwork, quantizeWeights, toFloat16Array, type NetworkRanges, type QuantParams } from './quantize.ts';
import { ActivationFunctionType, BuiltinOperator, Padding, TensorType, type FusedActivation } from './schema/tflite.ts';
import { networkShapes } from './shapes.ts';
import {
  TfliteBuilder,
  addOptions,
  concatenationOptions,
  conv2dOptions,
  fullyConnectedOptions,
  mulOptions,
  pool2dOptions,
  reshapeOptions,
  softmaxOptions,
  splitOptions,
  subOptions,
  type QuantSpec,
} from './tflite-builder.ts';
import { EXPORT_DEFAULTS, defaultFold, IO_NAMES, type ExportOptions, type ExportResult, type ExportVariant } from './types.ts';

export function exportTflite(model: ModelIR, options: ExportOptions): ExportResult {
  const variant = options.variant ?? EXPORT_DEFAULTS.variant;
  const folded = foldPreprocess(model, options.foldPreprocess ?? defaultFold(variant));
  const body = folded.body;
  let net: NetworkIR;
  switch (body.kind) {
    case 'network':
      net = body;
      break;
    case 'linear':
      net = linearAsNetwork(body);
      break;
    case 'tree-ensemble':
      throw new EdgeloopError('MODEL_UNSUPPORTED', `tflite export does not support model kind 'tree-ensemble' (TFLite has no tree ops); export it to onnx`);
  }
  if (net.layers.length === 0) throw new EdgeloopError('MODEL_SIGNATURE', 'network must have at least one layer, got 0');
  if (variant === 'int8' || variant === 'dynamic-int8') {
    const rec = net.layers.find((l) => l.kind === 'lstm' || l.kind === 'gru');
    if (rec) throw new EdgeloopError('MODEL_UNSUPPORTED', `tflite export of a ${rec.kind} layer supports variants 'float32' and 'float16', got '${variant}'`);
  }
  let ranges: NetworkRanges | undefined;
  if (variant === 'int8') {
    const c = options.calibration;
    if (!c) throw new EdgeloopError('BAD_ARGUMENT', "calibration is required for variant 'int8' (a representative sample of inputs)");
    ranges = calibrateNetwork(net, folded.scaler, c.sample, c.rows, c.method ?? EXPORT_DEFAULTS.calibration);
  }
  const w = new Writer(new TfliteBuilder(), variant, options.perChannel ?? EXPORT_DEFAULTS.perChannel, ranges);
  const shapes = networkShapes(net);
  const inputShape = [1, ...net.inputShape];
  const input = w.b.tensor(IO_NAMES.input, inputShape);
  let v: Value = { t: input, shape: inputShape };
  if (folded.scaler) v = w.scaler(v, folded.scaler, net.inputShape);
  if (ranges) v = w.quantizeInput(v, activationParams(ranges.input.min, ranges.input.max));
  net.layers.forEach((layer, i) => {
    v = w.layer(layer, i, v, shapes[i], shapes[i + 1]);
  });
  v = w.reshapeTo(v, [1, ...shapes[shapes.length - 1]]);
  const outName = model.body.task === 'classification' ? IO_NAMES.probabilities : IO_NAMES.predictions;
  const output = w.finalOutput(v, outName);
  const bytes = w.b.finish([input], [output], `edgeloop export: ${model.body.kind}, ${variant}`);
  return {
    format: 'tflite',
    variant,
    bytes,
    inputs: [{ name: IO_NAMES.input, shape: inputShape, dtype: 'float32' }],
    outputs: [{ name: outName, shape: [1, ...shapes[shapes.length - 1]], dtype: 'float32' }],
  };
}

/** An activation tensor and its TFLite shape (batch first; conv layers keep NHWC with H = 1). */
interface Value {
  t: number;
  shape: number[];
}

const FUSED: Record<'linear' | 'relu' | 'relu6', FusedActivation> = {
  linear: ActivationFunctionType.NONE,
  relu: ActivationFunctionType.RELU,
  relu6: ActivationFunctionType.RELU6,
};

class Writer {
  private n = 0;

  constructor(
    readonly b: TfliteBuilder,
    readonly variant: ExportVariant,
    readonly perChannel: boolean,
    readonly ranges: NetworkRanges | undefined,
  ) {}

  private name(prefix: string): string {
    return `${prefix}_${this.n++}`;
  }

  /** A new activation tensor: int8 with `q` in the int8 variant, float otherwise. */
  private act(prefix: string, shape: number[], q?: QuantParams): Value {
    const t = this.ranges && q ? this.b.tensor(this.name(prefix), shape, TensorType.INT8, { scale: [q.scale], zeroPoint: [q.zeroPoint] }) : this.b.tensor(this.name(prefix), shape);
    return { t, shape };
  }

  /** A tensor with the same quantization as `v` (reshape, pooling). */
  private like(prefix: string, v: Value, shape: number[]): Value {
    const q = this.b.quantOf(v.t);
    return { t: this.b.tensor(this.name(prefix), shape, this.b.typeOf(v.t), q), shape };
  }

  scaler(v: Value, s: Scaler, sampleShape: number[]): Value {
    const dims = sampleShape.length === 1 ? [1, s.offset.length] : [1, ...sampleShape];
    const sub = this.act('scaled_sub', v.shape);
    this.b.op(BuiltinOperator.SUB, [v.t, this.b.float(this.name('offset'), dims, s.offset)], [sub.t], subOptions());
    const mul = this.act('scaled', v.shape);
    this.b.op(BuiltinOperator.MUL, [sub.t, this.b.float(this.name('scale'), dims, s.scale)], [mul.t], mulOptions());
    return mul;
  }

  quantizeInput(v: Value, q: QuantParams): Value {
    const out = this.act('input_q', v.shape, q);
    this.b.op(BuiltinOperator.QUANTIZE, [v.t], [out.t], undefined, 2);
    return out;
  }

  finalOutput(v: Value, name: string): number {
    const out = this.b.tensor(name, v.shape);
    if (this.ranges) this.b.op(BuiltinOperator.DEQUANTIZE, [v.t], [out], undefined, 2);
    else this.b.op(BuiltinOperator.RESHAPE, [v.t, this.b.int32(this.name('shape'), v.shape)], [out], reshapeOptions(v.shape));
    return out;
  }

  reshapeTo(v: Value, shape: number[]): Value {
    if (sameShape(v.shape, shape)) return v;
    const out = this.like('reshape', v, shape);
    this.b.op(BuiltinOperator.RESHAPE, [v.t, this.b.int32(this.name('shape'), shape)], [out.t], reshapeOptions(shape));
    return out;
  }

  /** The output quantization of layer i (after its activation). */
  private outQ(layer: Layer, i: number): QuantParams | undefined {
    if (!this.ranges) return undefined;
    const act = layer.kind === 'dense' || layer.kind === 'conv1d' ? layer.activation : 'linear';
    if (act === 'softmax' || act === 'sigmoid') return FIXED_PARAMS.unit;
    if (act === 'tanh') return FIXED_PARAMS.symmetricUnit;
    const r = this.ranges.layers[i];
    return activationParams(r.min, r.max);
  }

  private preQ(i: number): QuantParams | undefined {
    const r = this.ranges?.preActivation[i];
    return r ? activationParams(r.min, r.max) : undefined;
  }

  layer(layer: Layer, i: number, v: Value, inShape: number[], outShape: number[]): Value {
    switch (layer.kind) {
      case 'dense': {
        const rows = inShape.length === 1 ? 1 : inShape.slice(0, -1).reduce((a, d) => a * d, 1);
        const x = this.reshapeTo(v, [rows, layer.inputSize]);
        const weights = transpose(layer.kernel, layer.inputSize, layer.units);
        const y = this.affine(BuiltinOperator.FULLY_CONNECTED, x, weights, [layer.units, layer.inputSize], layer.bias, [rows, layer.units], layer.activation, i, (act) =>
          fullyConnectedOptions(act),
        );
        return inShape.length === 1 ? y : this.reshapeTo(y, [1, ...outShape]);
      }
      case 'conv1d': {
        const { filters: f, inChannels: c, kernelSize: k } = layer;
        const x = this.to4d(v, inShape);
        // Keras [k][c][f] → TFLite OHWI [f][1][k][c].
        const weights = new Float32Array(f * k * c);
        for (let kk = 0; kk < k; kk++) for (let cc = 0; cc < c; cc++) for (let ff = 0; ff < f; ff++) weights[(ff * k + kk) * c + cc] = layer.kernel[(kk * c + cc) * f + ff];
        const padding = layer.padding === 'same' ? Padding.SAME : Padding.VALID;
        return this.affine(BuiltinOperator.CONV_2D, x, weights, [f, 1, k, c], layer.bias, [1, 1, outShape[0], f], layer.activation, i, (act) =>
          conv2dOptions(padding, layer.stride, 1, act),
        );
      }
      case 'maxpool1d':
      case 'avgpool1d': {
        const x = this.to4d(v, inShape);
        const out = this.like('pool', x, [1, 1, outShape[0], outShape[1]]);
        const op = layer.kind === 'maxpool1d' ? BuiltinOperator.MAX_POOL_2D : BuiltinOperator.AVERAGE_POOL_2D;
        this.b.op(op, [x.t], [out.t], pool2dOptions(layer.padding === 'same' ? Padding.SAME : Padding.VALID, layer.stride, layer.poolSize), this.ranges ? 2 : 1);
        return out;
      }
      case 'flatten':
        return this.reshapeTo(v, [1, outShape[0]]);
      case 'dropout':
        return v;
      case 'lstm':
        return this.lstm(layer, this.reshapeTo(v, [1, ...inShape]), inShape[0]);
      case 'gru':
        return this.gru(layer, this.reshapeTo(v, [1, ...inShape]), inShape[0]);
    }
  }

  private to4d(v: Value, inShape: number[]): Value {
    return this.reshapeTo(v, [1, 1, inShape[0], inShape[1]]);
  }

  /** FULLY_CONNECTED or CONV_2D with the weight storage of the variant, then the activation. */
  private affine(
    op: typeof BuiltinOperator.FULLY_CONNECTED | typeof BuiltinOperator.CONV_2D,
    x: Value,
    weights: Float32Array,
    wShape: number[],
    bias: Float32Array,
    outShape: number[],
    activation: Activation,
    i: number,
    options: (act: FusedActivation) => ReturnType<typeof fullyConnectedOptions>,
  ): Value {
    const fusable = FUSABLE.has(activation);
    const fused = fusable ? FUSED[activation as 'linear' | 'relu' | 'relu6'] : ActivationFunctionType.NONE;
    const units = wShape[0];
    const layerQ = this.outQ({ kind: 'dense', activation } as Layer, i);
    const yQ = fusable ? layerQ : this.preQ(i);
    const y = this.act(op === BuiltinOperator.CONV_2D ? 'conv' : 'fc', outShape, yQ);
    let version = 1;
    let wT: number;
    let bT: number;
    switch (this.variant) {
      case 'float32':
        wT = this.b.float(this.name('weights'), wShape, weights);
        bT = this.b.float(this.name('bias'), [units], bias);
        break;
      case 'float16': {
        const half = this.b.constant(this.name('weights_fp16'), wShape, TensorType.FLOAT16, toFloat16Array(weights));
        wT = this.b.tensor(this.name('weights'), wShape);
        this.b.op(BuiltinOperator.DEQUANTIZE, [half], [wT], undefined, 3);
        bT = this.b.float(this.name('bias'), [units], bias);
        break;
      }
      case 'dynamic-int8': {
        // Hybrid kernels take one scale per tensor on every runtime; per-channel is an int8-only option.
        const q = quantizeWeights(weights, wShape, 0, false);
        wT = this.b.constant(this.name('weights_int8'), wShape, TensorType.INT8, q.data, { scale: Array.from(q.scales), zeroPoint: [0] });
        bT = this.b.float(this.name('bias'), [units], bias);
        version = op === BuiltinOperator.FULLY_CONNECTED ? 3 : 2;
        break;
      }
      case 'int8': {
        const inQ = this.b.quantOf(x.t);
        if (!inQ) throw new Error('internal: int8 layer input is not quantized');
        const q = quantizeWeights(weights, wShape, 0, this.perChannel);
        const per = q.scales.length > 1;
        wT = this.b.constant(this.name('weights_int8'), wShape, TensorType.INT8, q.data, {
          scale: Array.from(q.scales),
          zeroPoint: Array.from(q.scales, () => 0),
          quantizedDimension: 0,
        });
        const bScales = Array.from({ length: units }, (_, u) => inQ.scale[0] * q.scales[per ? u : 0]);
        const bq = Int32Array.from(bias, (bv, u) => Math.round(bv / bScales[u]));
        bT = this.b.constant(this.name('bias_int32'), [units], TensorType.INT32, bq, {
          scale: per ? bScales : [bScales[0]],
          zeroPoint: per ? bScales.map(() => 0) : [0],
          quantizedDimension: 0,
        });
        version = op === BuiltinOperator.FULLY_CONNECTED ? 4 : 3;
        break;
      }
    }
    this.b.op(op, [x.t, wT, bT], [y.t], options(fused), version);
    if (fusable) return y;
    return this.activation(y, activation as 'sigmoid' | 'tanh' | 'softmax', layerQ);
  }

  private activation(y: Value, act: 'sigmoid' | 'tanh' | 'softmax', q: QuantParams | undefined): Value {
    const out = this.act(act, y.shape, q);
    const version = this.ranges ? 2 : 1;
    switch (act) {
      case 'sigmoid':
        this.b.op(BuiltinOperator.LOGISTIC, [y.t], [out.t], undefined, version);
        break;
      case 'tanh':
        this.b.op(BuiltinOperator.TANH, [y.t], [out.t], undefined, version);
        break;
      case 'softmax':
        this.b.op(BuiltinOperator.SOFTMAX, [y.t], [out.t], softmaxOptions(1), version);
        break;
    }
    return out;
  }

  // ------------------------------------------------------------ recurrent (float only)

  private weightsConst(prefix: string, data: Float32Array, shape: number[]): number {
    if (this.variant === 'float16') {
      const half = this.b.constant(this.name(`${prefix}_fp16`), shape, TensorType.FLOAT16, toFloat16Array(data));
      const out = this.b.tensor(this.name(prefix), shape);
      this.b.op(BuiltinOperator.DEQUANTIZE, [half], [out], undefined, 3);
      return out;
    }
    return this.b.float(this.name(prefix), shape, data);
  }

  private fc(x: number, w: number, bias: number, rows: number, units: number): number {
    const out = this.b.tensor(this.name('fc'), [rows, units]);
    this.b.op(BuiltinOperator.FULLY_CONNECTED, [x, w, bias], [out], fullyConnectedOptions(ActivationFunctionType.NONE));
    return out;
  }

  private split(x: number, axis: number, parts: number, partShape: number[]): number[] {
    const outs = Array.from({ length: parts }, () => this.b.tensor(this.name('split'), partShape));
    this.b.op(BuiltinOperator.SPLIT, [this.b.constant(this.name('axis'), [], TensorType.INT32, Int32Array.of(axis)), x], outs, splitOptions(parts));
    return outs;
  }

  private binary(op: typeof BuiltinOperator.ADD | typeof BuiltinOperator.MUL | typeof BuiltinOperator.SUB, a: number, c: number, shape: number[]): number {
    const out = this.b.tensor(this.name('t'), shape);
    const opts = op === BuiltinOperator.ADD ? addOptions() : op === BuiltinOperator.MUL ? mulOptions() : subOptions();
    this.b.op(op, [a, c], [out], opts);
    return out;
  }

  private unary(op: typeof BuiltinOperator.LOGISTIC | typeof BuiltinOperator.TANH, a: number, shape: number[]): number {
    const out = this.b.tensor(this.name(op === BuiltinOperator.TANH ? 'tanh' : 'sigmoid'), shape);
    this.b.op(op, [a], [out]);
    return out;
  }

  /** x [1, T, n] → per-step input projections [1, gates·u] each. */
  private projectSteps(x: Value, steps: number, n: number, kernel: Float32Array, width: number, bias: Float32Array): number[] {
    const xs = this.reshapeTo(x, [steps, n]);
    const wx = this.weightsConst('rnn_wx', transpose(kernel, n, width), [width, n]);
    const proj = this.fc(xs.t, wx, this.b.float(this.name('rnn_bx'), [width], bias), steps, width);
    return steps === 1 ? [proj] : this.split(proj, 0, steps, [1, width]);
  }

  private finishSequence(hs: number[], steps: number, u: number, returnSequences: boolean): Value {
    if (!returnSequences) return { t: hs[hs.length - 1], shape: [1, u] };
    let seq = hs[0];
    if (steps > 1) {
      seq = this.b.tensor(this.name('seq'), [steps, u]);
      this.b.op(BuiltinOperator.CONCATENATION, hs, [seq], concatenationOptions(0));
    }
    return this.reshapeTo({ t: seq, shape: [steps, u] }, [1, steps, u]);
  }

  private lstm(layer: Extract<Layer, { kind: 'lstm' }>, x: Value, steps: number): Value {
    const u = layer.units;
    const width = 4 * u;
    const xp = this.projectSteps(x, steps, layer.inputSize, layer.kernel, width, layer.bias);
    const wh = this.weightsConst('lstm_wh', transpose(layer.recurrentKernel, u, width), [width, u]);
    const gate = [1, u];
    let h = -1;
    let c = -1;
    const hs: number[] = [];
    for (let t = 0; t < steps; t++) {
      const z = h < 0 ? xp[t] : this.binary(BuiltinOperator.ADD, xp[t], this.fcNoBias(h, wh, width), [1, width]);
      const [zi, zf, zg, zo] = this.split(z, 1, 4, gate);
      const i = this.unary(BuiltinOperator.LOGISTIC, zi, gate);
      const g = this.unary(BuiltinOperator.TANH, zg, gate);
      const o = this.unary(BuiltinOperator.LOGISTIC, zo, gate);
      const ig = this.binary(BuiltinOperator.MUL, i, g, gate);
      if (c < 0) {
        c = ig;
      } else {
        const f = this.unary(BuiltinOperator.LOGISTIC, zf, gate);
        c = this.binary(BuiltinOperator.ADD, this.binary(BuiltinOperator.MUL, f, c, gate), ig, gate);
      }
      h = this.binary(BuiltinOperator.MUL, o, this.unary(BuiltinOperator.TANH, c, gate), gate);
      hs.push(h);
    }
    return this.finishSequence(hs, steps, u, layer.returnSequences);
  }

  private fcNoBias(h: number, w: number, width: number): number {
    const out = this.b.tensor(this.name('fc'), [1, width]);
    // -1 marks the optional bias as absent.
    this.b.op(BuiltinOperator.FULLY_CONNECTED, [h, w, -1], [out], fullyConnectedOptions(ActivationFunctionType.NONE));
    return out;
  }

  private gru(layer: Extract<Layer, { kind: 'gru' }>, x: Value, steps: number): Value {
    const u = layer.units;
    const width = 3 * u;
    const xp = this.projectSteps(x, steps, layer.inputSize, layer.kernel, width, layer.bias.subarray(0, width));
    const recBias = layer.bias.subarray(width, 2 * width);
    const wh = this.weightsConst('gru_wh', transpose(layer.recurrentKernel, u, width), [width, u]);
    const bh = this.b.float(this.name('gru_bh'), [width], recBias);
    const gate = [1, u];
    let h = -1;
    const hs: number[] = [];
    for (let t = 0; t < steps; t++) {
      const [xz, xr, xh] = this.split(xp[t], 1, 3, gate);
      // At t = 0, h = 0 and the recurrent projection is just the recurrent bias.
      const [hz, hr, hh] =
        h < 0 ? [0, 1, 2].map((k) => this.b.float(this.name('gru_bh0'), gate, recBias.subarray(k * u, (k + 1) * u))) : this.split(this.fc(h, wh, bh, 1, width), 1, 3, gate);
      const z = this.unary(BuiltinOperator.LOGISTIC, this.binary(BuiltinOperator.ADD, xz, hz, gate), gate);
      const r = this.unary(BuiltinOperator.LOGISTIC, this.binary(BuiltinOperator.ADD, xr, hr, gate), gate);
      const n = this.unary(BuiltinOperator.TANH, this.binary(BuiltinOperator.ADD, xh, this.binary(BuiltinOperator.MUL, r, hh, gate), gate), gate);
      // h' = z·h + (1 − z)·n = n + z·(h − n); with h = 0: n − z·n.
      h =
        h < 0
          ? this.binary(BuiltinOperator.SUB, n, this.binary(BuiltinOperator.MUL, z, n, gate), gate)
          : this.binary(BuiltinOperator.ADD, n, this.binary(BuiltinOperator.MUL, z, this.binary(BuiltinOperator.SUB, h, n, gate), gate), gate);
      hs.push(h);
    }
    return this.finishSequence(hs, steps, u, layer.returnSequences);
  }
}

/** [rows][cols] → [cols][rows]. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export type { QuantSpec };
