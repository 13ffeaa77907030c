/**
 * Folding the preprocess scaler x' = (x - offset) * scale into the first affine map, so the
 * exported graph has no separate scaling ops:  W' = diag(scale) W,  b' = b - (offset * scale) W.
 * Trees are never folded: a negative scale flips `<=` and a rounded threshold can move a split.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Layer, ModelBodyIR, ModelIR } from '../ir.ts';
import { modelInputSize } from './reference.ts';

export interface Scaler {
  offset: number[];
  scale: number[];
}

export interface FoldResult {
  body: ModelBodyIR;
  /** The scaler the graph must still apply, when it could not be folded (or folding was off). */
  scaler?: Scaler;
}

export function foldPreprocess(model: ModelIR, fold: boolean): FoldResult {
  const pre = model.preprocess;
  if (!pre) return { body: model.body };
  const n = modelInputSize(model);
  if (pre.offset.length !== n || pre.scale.length !== n) {
    throw new EdgeloopError('BAD_ARGUMENT', `preprocess offset and scale must have ${n} entries (the model input size), got ${pre.offset.length} and ${pre.scale.length}`);
  }
  if (!fold) return { body: model.body, scaler: pre };
  const body = model.body;
  switch (body.kind) {
    case 'linear': {
      const coef = body.coef.map((row) => row.map((w, i) => w * pre.scale[i]));
      const intercept = body.intercept.map((b, o) => b - body.coef[o].reduce((s, w, i) => s + pre.offset[i] * pre.scale[i] * w, 0));
      return { body: { ...body, coef, intercept } };
    }
    case 'tree-ensemble':
      return { body, scaler: pre };
    case 'network': {
      const first = body.layers.findIndex((l) => l.kind !== 'dropout');
      const layer = body.layers[first];
      if (first < 0 || layer.kind !== 'dense' || body.inputShape.length !== 1) return { body, scaler: pre };
      const kernel = new Float32Array(layer.kernel.length);
      const bias = Float64Array.from(layer.bias); // accumulate in float64, round once
      for (let i = 0; i < layer.inputSize; i++) {
        for (let u = 0; u < layer.units; u++) {
          const w = layer.kernel[i * layer.units + u];
          kernel[i * layer.units + u] = w * pre.scale[i];
          bias[u] -= pre.offset[i] * pre.scale[i] * w;
        }
      }
      const layers: Layer[] = body.layers.slice();
      layers[first] = { ...layer, kernel, bias: Float32Array.from(bias) };
      return { body: { ...body, layers } };
    }
  }
}
