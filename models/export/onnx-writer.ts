/**
 * ModelIR → ONNX bytes (IR version 8, opset 13, ai.onnx.ml opset 3 for trees and the scaler).
 * Networks and linear models: Gemm/MatMul/Conv/LSTM/GRU with float32, float16 (Cast after fp16
 * constants), weight-only int8 (DequantizeLinear after int8 constants) or QDQ int8 (plus
 * QuantizeLinear/DequantizeLinear pairs on every activation, calibrated). Tree ensembles:
 * ai.onnx.ml TreeEnsembleRegressor producing the raw scores, then the link in standard ops —
 * the classifier op's binary special cases differ between runtimes, the regressor's do not.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { ModelIR, NetworkIR, TreeEnsembleIR } from '../ir.ts';
import { linearAsNetwork } from './as-network.ts';
import { foldPreprocess, type Scaler } from './fold.ts';
import { DataType, ML_DOMAIN, OnnxGraph, encodeModel } from './onnx-graph.ts';
import { activation, assertNetworkExportable, buildNetwork, type OnnxCodec } from './onnx-network.ts';
import { FIXED_PARAMS, activationParams, calibrateNetwork, quantizeWeights, toFloat16Array, type NetworkRanges, type QuantParams } from './quantize.ts';
import { modelOutputShape } from './reference.ts';
import { EXPORT_DEFAULTS, defaultFold, IO_NAMES, type ExportOptions, type ExportResult, type ExportVariant } from './types.ts';

export function exportOnnx(model: ModelIR, options: ExportOptions): ExportResult {
  const variant = options.variant ?? EXPORT_DEFAULTS.variant;
  const folded = foldPreprocess(model, options.foldPreprocess ?? defaultFold(variant));
  const body = folded.body;
  const g = new OnnxGraph();
  const inShape = body.kind === 'network' ? body.inputShape : [body.nFeatures];
  g.addInput(IO_NAMES.input, ['N', ...inShape]);
  const outName = model.body.task === 'classification' ? IO_NAMES.probabilities : IO_NAMES.predictions;
  let out: string;
  switch (body.kind) {
    case 'network':
    case 'linear': {
      const net = body.kind === 'network' ? body : linearAsNetwork(body);
      assertNetworkExportable(net);
      const x = folded.scaler ? scalerOps(g, IO_NAMES.input, folded.scaler, inShape.reduce((a, d) => a * d, 1), net.inputShape) : IO_NAMES.input;
      out = buildNetwork(g, net, x, codecFor(variant, net, folded.scaler, options));
      break;
    }
    case 'tree-ensemble': {
      if (variant !== 'float32') {
        throw new EdgeloopError('MODEL_UNSUPPORTED', `onnx export of a tree-ensemble model supports variant 'float32' only, got '${variant}'`);
      }
      const x = folded.scaler ? g.op('Scaler', [IO_NAMES.input], { offset: { floats: folded.scaler.offset }, scale: { floats: folded.scaler.scale } }, ML_DOMAIN) : IO_NAMES.input;
      out = treeEnsemble(g, body, x);
      break;
    }
  }
  const outShape = modelOutputShape(model);
  g.node('Identity', [out], {}, { outputs: [outName] });
  g.addOutput(outName, ['N', ...outShape]);
  const bytes = encodeModel(g, { graphName: `edgeloop_${model.body.kind}`, docString: `edgeloop export: ${model.body.kind}, ${variant}` });
  return {
    format: 'onnx',
    variant,
    bytes,
    inputs: [{ name: IO_NAMES.input, shape: [-1, ...inShape], dtype: 'float32' }],
    outputs: [{ name: outName, shape: [-1, ...outShape], dtype: 'float32' }],
  };
}

function scalerOps(g: OnnxGraph, x: string, s: Scaler, size: number, inputShape: number[]): string {
  // The scaler is per flattened feature; for a [steps, ch] input it is laid out the same way.
  const dims = inputShape.length === 1 ? [size] : inputShape;
  return g.op('Mul', [g.op('Sub', [x, g.float('offset', dims, s.offset)]), g.float('scale', dims, s.scale)]);
}

function codecFor(variant: ExportVariant, net: NetworkIR, scaler: Scaler | undefined, options: ExportOptions): OnnxCodec {
  const perChannel = options.perChannel ?? EXPORT_DEFAULTS.perChannel;
  const floatBias = (g: OnnxGraph, prefix: string, dims: number[], data: Float32Array): string => g.float(prefix, dims, data);
  const int8Weight = (g: OnnxGraph, prefix: string, dims: number[], data: Float32Array, axis: number): string => {
    const q = quantizeWeights(data, dims, axis, perChannel);
    const per = q.scales.length > 1;
    const qName = g.constant(`${prefix}_q`, dims, q.data, DataType.INT8);
    const sName = g.float(`${prefix}_scale`, per ? [q.scales.length] : [], q.scales);
    const zName = g.constant(`${prefix}_zp`, per ? [q.scales.length] : [], new Int8Array(q.scales.length), DataType.INT8);
    return g.op('DequantizeLinear', [qName, sName, zName], per ? { axis } : {});
  };
  switch (variant) {
    case 'float32':
      return { weight: (g, p, d, data) => g.float(p, d, data), bias: floatBias, activation: (_g, t) => t };
    case 'float16':
      return {
        weight: (g, p, d, data) => g.op('Cast', [g.constant(`${p}_fp16`, d, toFloat16Array(data), DataType.FLOAT16)], { to: DataType.FLOAT }),
        bias: floatBias,
        activation: (_g, t) => t,
      };
    case 'dynamic-int8':
      return { weight: int8Weight, bias: floatBias, activation: (_g, t) => t };
    case 'int8': {
      if (!options.calibration) throw new EdgeloopError('BAD_ARGUMENT', "calibration is required for variant 'int8' (a representative sample of inputs)");
      const c = options.calibration;
      const ranges = calibrateNetwork(net, scaler, c.sample, c.rows, c.method ?? EXPORT_DEFAULTS.calibration);
      return { weight: int8Weight, bias: floatBias, activation: (g, t, index) => qdq(g, t, activationQuant(net, ranges, index)) };
    }
  }
}

/** The int8 parameters of activation `index` (-1 = input), fixed for bounded activations as TFLite requires. */
export function activationQuant(net: NetworkIR, ranges: NetworkRanges, index: number): QuantParams {
  if (index < 0) return activationParams(ranges.input.min, ranges.input.max);
  const layer = net.layers[index];
  const act = layer.kind === 'dense' || layer.kind === 'conv1d' ? layer.activation : 'linear';
  if (act === 'softmax' || act === 'sigmoid') return FIXED_PARAMS.unit;
  if (act === 'tanh') return FIXED_PARAMS.symmetricUnit;
  const r = ranges.layers[index];
  return activationParams(r.min, r.max);
}

function qdq(g: OnnxGraph, t: string, p: QuantParams): string {
  const s = g.float('act_scale', [], [p.scale]);
  const z = g.constant('act_zp', [], Int8Array.of(p.zeroPoint), DataType.INT8);
  return g.op('DequantizeLinear', [g.op('QuantizeLinear', [t, s, z]), s, z]);
}

function treeEnsemble(g: OnnxGraph, m: TreeEnsembleIR, x: string): string {
  const width = m.base.length;
  const a = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    features: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    tTree: [] as number[],
    tNode: [] as number[],
    tId: [] as number[],
    tWeight: [] as number[],
  };
  m.trees.forEach((tree, t) => {
    for (let n = 0; n < tree.feature.length; n++) {
      const leaf = tree.feature[n] === -1;
      a.treeIds.push(t);
      a.nodeIds.push(n);
      a.features.push(leaf ? 0 : tree.feature[n]);
      a.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      a.values.push(leaf ? 0 : tree.threshold[n]);
      a.trueIds.push(leaf ? 0 : tree.left[n]);
      a.falseIds.push(leaf ? 0 : tree.right[n]);
      if (leaf) {
        for (let o = 0; o < width; o++) {
          a.tTree.push(t);
          a.tNode.push(n);
          a.tId.push(o);
          a.tWeight.push(tree.value[n][o]);
        }
      }
    }
  });
  const scores = g.op(
    'TreeEnsembleRegressor',
    [x],
    {
      n_targets: width,
      aggregate_function: m.aggregate === 'average' ? 'AVERAGE' : 'SUM',
      base_values: { floats: m.base },
      post_transform: 'NONE',
      nodes_treeids: a.treeIds,
      nodes_nodeids: a.nodeIds,
      nodes_featureids: a.features,
      nodes_modes: a.modes,
      nodes_values: { floats: a.values },
      nodes_truenodeids: a.trueIds,
      nodes_falsenodeids: a.falseIds,
      target_treeids: a.tTree,
      target_nodeids: a.tNode,
      target_ids: a.tId,
      target_weights: { floats: a.tWeight },
    },
    ML_DOMAIN,
  );
  switch (m.link) {
    case 'identity':
      return scores;
    case 'softmax':
      return activation(g, scores, 'softmax');
    case 'logistic': {
      const p = activation(g, scores, 'sigmoid');
      if (width !== 1) return p;
      return g.op('Concat', [g.op('Sub', [g.float('one', [], [1]), p]), p], { axis: 1 });
    }
  }
}
