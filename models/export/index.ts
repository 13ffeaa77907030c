/**
 * exportModel: ModelIR → file bytes plus the file's input/output signature, selecting the writer
 * by format. A model/format/variant with no exporter fails with MODEL_UNSUPPORTED naming both.
 */
import { EdgeloopError } from '../../src/errors.ts';
import type { ModelIR } from '../ir.ts';
import { exportOnnx } from './onnx-writer.ts';
import { exportTflite } from './tflite-writer.ts';
import { EXPORT_VARIANTS, type ExportOptions, type ExportResult } from './types.ts';

export function exportModel(model: ModelIR, options: ExportOptions): ExportResult {
  if (!model || typeof model !== 'object' || !model.body || typeof model.body !== 'object') {
    throw new EdgeloopError('BAD_ARGUMENT', 'model must be a ModelIR ({ body, preprocess? })');
  }
  const variant = options.variant ?? 'float32';
  if (!EXPORT_VARIANTS.includes(variant)) {
    throw new EdgeloopError('BAD_ARGUMENT', `variant must be one of ${EXPORT_VARIANTS.join(', ')}, got '${String(variant)}'`);
  }
  const format = options.format;
  switch (format) {
    case 'onnx':
      return exportOnnx(model, options);
    case 'tflite':
      return exportTflite(model, options);
    default:
      throw new EdgeloopError('MODEL_UNSUPPORTED', `format must be 'tflite' or 'onnx', got '${String(format satisfies never)}' (model kind '${String(model.body.kind)}')`);
  }
}

export * from './types.ts';
export { referenceForward, modelInputSize, modelOutputShape, modelOutputSize } from './reference.ts';
