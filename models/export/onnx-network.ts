/**
 * NetworkIR → ONNX nodes. Layout: tensors are [N, ...sample shape] as in the IR (channels last);
 * Conv/Pool see [N, channels, steps] through a Transpose pair that ORT's optimizer cancels between
 * consecutive conv/pool layers. LSTM/GRU map onto the native ONNX ops with the gate orders
 * permuted (Keras i,f,c,o → ONNX i,o,f,c; GRU z,r,h is the same, reset_after = linear_before_reset).
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Activation, Layer, NetworkIR } from '../ir.ts';
import type { AttrValue, OnnxGraph } from './onnx-graph.ts';
import { samePadBefore, samePadTotal, networkShapes } from './shapes.ts';

/** How constants and activations are stored: float32, float16, weight-only int8, or QDQ int8. */
export interface OnnxCodec {
  /** A weight with `channelAxis` the output-channel axis (for per-channel scales); returns the float tensor name. */
  weight(g: OnnxGraph, prefix: string, dims: number[], data: Float32Array, channelAxis: number): string;
  /** Biases and recurrent weights stay float in every variant (accuracy; ORT folds them). */
  bias(g: OnnxGraph, prefix: string, dims: number[], data: Float32Array): string;
  /** Observe an activation tensor: `index` -1 is the network input, i the output of layer i. */
  activation(g: OnnxGraph, tensor: string, index: number): string;
}

export function buildNetwork(g: OnnxGraph, net: NetworkIR, input: string, codec: OnnxCodec): string {
  const shapes = networkShapes(net);
  let x = codec.activation(g, input, -1);
  net.layers.forEach((layer, i) => {
    const before = x;
    x = buildLayer(g, layer, x, shapes[i], codec);
    if (x !== before) x = codec.activation(g, x, i);
  });
  return x;
}

function buildLayer(g: OnnxGraph, layer: Layer, x: string, shape: number[], codec: OnnxCodec): string {
  switch (layer.kind) {
    case 'dense': {
      const w = codec.weight(g, 'dense_w', [layer.inputSize, layer.units], layer.kernel, 1);
      const b = codec.bias(g, 'dense_b', [layer.units], layer.bias);
      const y = shape.length === 1 ? g.op('Gemm', [x, w, b]) : g.op('Add', [g.op('MatMul', [x, w]), b]);
      return activation(g, y, layer.activation);
    }
    case 'conv1d': {
      const { filters: f, inChannels: c, kernelSize: k } = layer;
      // Keras kernel [k][c][f] → ONNX [f][c][k].
      const w = new Float32Array(f * c * k);
      for (let kk = 0; kk < k; kk++) for (let cc = 0; cc < c; cc++) for (let ff = 0; ff < f; ff++) w[(ff * c + cc) * k + kk] = layer.kernel[(kk * c + cc) * f + ff];
      const pads = padsFor(shape[0], k, layer.stride, layer.padding);
      const xt = g.op('Transpose', [x], { perm: [0, 2, 1] });
      const wName = codec.weight(g, 'conv_w', [f, c, k], w, 0);
      const bName = codec.bias(g, 'conv_b', [f], layer.bias);
      const y = g.op('Conv', [xt, wName, bName], { kernel_shape: [k], strides: [layer.stride], pads });
      return activation(g, g.op('Transpose', [y], { perm: [0, 2, 1] }), layer.activation);
    }
    case 'maxpool1d':
    case 'avgpool1d': {
      const pads = padsFor(shape[0], layer.poolSize, layer.stride, layer.padding);
      const xt = g.op('Transpose', [x], { perm: [0, 2, 1] });
      // count_include_pad = 0: padded steps are excluded from the mean, as in TF.
      const attrs: Record<string, AttrValue> = layer.kind === 'avgpool1d' ? { count_include_pad: 0 } : {};
      const y = g.op(layer.kind === 'maxpool1d' ? 'MaxPool' : 'AveragePool', [xt], { kernel_shape: [layer.poolSize], strides: [layer.stride], pads, ...attrs });
      return g.op('Transpose', [y], { perm: [0, 2, 1] });
    }
    case 'flatten':
      return shape.length === 1 ? x : g.op('Flatten', [x], { axis: 1 });
    case 'dropout':
      return x;
    case 'lstm':
      return recurrent(g, layer, x, 4, [0, 3, 1, 2], 'LSTM');
    case 'gru':
      return recurrent(g, layer, x, 3, [0, 1, 2], 'GRU');
  }
}

function padsFor(steps: number, window: number, stride: number, padding: 'valid' | 'same'): number[] {
  if (padding === 'valid') return [0, 0];
  const before = samePadBefore(steps, window, stride);
  return [before, samePadTotal(steps, window, stride) - before];
}

/** `gateMap[onnxGate]` is the Keras gate index. */
function recurrent(g: OnnxGraph, layer: Extract<Layer, { kind: 'lstm' | 'gru' }>, x: string, gates: number, gateMap: number[], op: 'LSTM' | 'GRU'): string {
  const { units: u, inputSize: n } = layer;
  const width = gates * u;
  const W = new Float32Array(width * n);
  const R = new Float32Array(width * u);
  const B = new Float32Array(2 * width);
  for (let og = 0; og < gates; og++) {
    const kg = gateMap[og];
    for (let j = 0; j < u; j++) {
      const row = og * u + j;
      const col = kg * u + j;
      for (let i = 0; i < n; i++) W[row * n + i] = layer.kernel[i * width + col];
      for (let i = 0; i < u; i++) R[row * u + i] = layer.recurrentKernel[i * width + col];
      B[row] = layer.bias[col];
      // GRU carries a recurrent bias (Keras reset_after); LSTM has only the input bias.
      B[width + row] = op === 'GRU' ? layer.bias[width + col] : 0;
    }
  }
  const xt = g.op('Transpose', [x], { perm: [1, 0, 2] });
  const attrs: Record<string, AttrValue> = op === 'GRU' ? { hidden_size: u, linear_before_reset: 1 } : { hidden_size: u };
  const [y, yh] = g.node(op, [xt, g.float(`${op}_W`, [1, width, n], W), g.float(`${op}_R`, [1, width, u], R), g.float(`${op}_B`, [1, 2 * width], B)], attrs, {
    nOutputs: 2,
  });
  if (layer.returnSequences) {
    const seq = g.op('Squeeze', [y, g.int64('axes', [1])]);
    return g.op('Transpose', [seq], { perm: [1, 0, 2] });
  }
  return g.op('Squeeze', [yh, g.int64('axes', [0])]);
}

export function activation(g: OnnxGraph, x: string, act: Activation): string {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return g.op('Relu', [x]);
    case 'relu6':
      return g.op('Clip', [x, g.float('zero', [], [0]), g.float('six', [], [6])]);
    case 'tanh':
      return g.op('Tanh', [x]);
    case 'sigmoid':
      return g.op('Sigmoid', [x]);
    case 'softmax':
      return g.op('Softmax', [x], { axis: -1 });
  }
}

export function assertNetworkExportable(net: NetworkIR): void {
  if (net.layers.length === 0) throw new EdgeloopError('MODEL_SIGNATURE', 'network must have at least one layer, got 0');
  networkShapes(net);
}
