/**
 * JSON form of a NetworkIR: every weight array as base64 of little-endian float32, the rest as is.
 * Reading checks structure and weight sizes, so a truncated or edited file fails with MODEL_CORRUPT
 * instead of producing a network that computes garbage.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { Layer, NetworkIR } from '../ir.ts';
import { weightShapes, type LayerPlan, type WeightName } from './plan.ts';

const WEIGHT_NAMES: readonly WeightName[] = ['kernel', 'recurrentKernel', 'bias'];
const LAYER_KINDS: readonly Layer['kind'][] = ['dense', 'conv1d', 'maxpool1d', 'avgpool1d', 'flatten', 'dropout', 'lstm', 'gru'];

export interface EncodedWeight {
  dtype: 'float32';
  shape: number[];
  base64: string;
}

export type NetworkIRJson = Omit<NetworkIR, 'layers'> & { layers: Record<string, unknown>[] };

export function encodeFloat32(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return Buffer.from(bytes).toString('base64');
}

export function decodeFloat32(base64: string, at: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length % 4 !== 0) throw new EdgeloopError('MODEL_CORRUPT', `${at}: ${bytes.length} bytes is not a whole number of float32 values`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function networkToJson(ir: NetworkIR): NetworkIRJson {
  return {
    ...ir,
    layers: ir.layers.map((layer) => {
      const shapes = weightShapes(layer);
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(layer)) {
        out[key] = value instanceof Float32Array ? ({ dtype: 'float32', shape: shapes[key as WeightName] ?? [value.length], base64: encodeFloat32(value) } satisfies EncodedWeight) : value;
      }
      return out;
    }),
  };
}

export function networkFromJson(json: unknown): NetworkIR {
  const bad = (what: string): never => {
    throw new EdgeloopError('MODEL_CORRUPT', `network JSON: ${what}`);
  };
  if (json === null || typeof json !== 'object') return bad('not an object');
  const o = json as Record<string, unknown>;
  if (o.kind !== 'network') bad(`kind must be 'network', got ${JSON.stringify(o.kind)}`);
  if (o.task !== 'classification' && o.task !== 'regression') bad(`task must be 'classification' or 'regression', got ${JSON.stringify(o.task)}`);
  if (!Array.isArray(o.inputShape) || !o.inputShape.every((d) => Number.isInteger(d) && d > 0)) bad('inputShape must be an array of positive integers');
  if (!Array.isArray(o.layers) || o.layers.length === 0) bad('layers must be a non-empty array');
  if (o.classes !== undefined && (!Array.isArray(o.classes) || !o.classes.every((c) => typeof c === 'string'))) bad('classes must be an array of strings');
  const layers = (o.layers as unknown[]).map((raw, i): Layer => {
    if (raw === null || typeof raw !== 'object') return bad(`layers[${i}] is not an object`);
    const entry = { ...(raw as Record<string, unknown>) };
    if (!LAYER_KINDS.includes(entry.kind as Layer['kind'])) bad(`layers[${i}].kind ${JSON.stringify(entry.kind)} is not one of ${LAYER_KINDS.join(', ')}`);
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'kind' || WEIGHT_NAMES.includes(key as WeightName)) continue;
      if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0)) bad(`layers[${i}].${key} must be a non-negative number`);
    }
    const shapes = weightShapes(entry as unknown as LayerPlan);
    for (const name of WEIGHT_NAMES) {
      const shape = shapes[name];
      if (shape === undefined) continue;
      const w = entry[name] as Partial<EncodedWeight> | undefined;
      if (w === undefined || w === null || w.dtype !== 'float32' || typeof w.base64 !== 'string') bad(`layers[${i}].${name} must be { dtype: 'float32', base64 }`);
      const values = decodeFloat32((w as EncodedWeight).base64, `layers[${i}].${name}`);
      const expected = shape.reduce((a, b) => a * b, 1);
      if (values.length !== expected) bad(`layers[${i}].${name} has ${values.length} values, expected ${expected} for shape [${shape.join(', ')}]`);
      entry[name] = values;
    }
    return entry as unknown as Layer;
  });
  return { kind: 'network', task: o.task as NetworkIR['task'], inputShape: [...(o.inputShape as number[])], layers, ...(o.classes ? { classes: [...(o.classes as string[])] } : {}) };
}
