/**
 * The export contract: which file format, which numeric variant, and what the produced file's
 * signature is. Formats and variants are closed unions; every switch over them is exhaustive.
 */

export type ExportFormat = 'tflite' | 'onnx';

/**
 * float32: weights and math in float32.
 * float16: weights stored as float16 (half the size), dequantized to float32 at load/run time.
 * dynamic-int8: weights int8, activations float (quantized on the fly by the runtime).
 * int8: full-integer post-training quantization calibrated on a representative sample;
 *       float input/output with QUANTIZE/DEQUANTIZE (TFLite) or QDQ pairs (ONNX) inside.
 */
export type ExportVariant = 'float32' | 'float16' | 'dynamic-int8' | 'int8';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['tflite', 'onnx'];
export const EXPORT_VARIANTS: readonly ExportVariant[] = ['float32', 'float16', 'dynamic-int8', 'int8'];

export type CalibrationMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

export interface Calibration {
  /** Representative inputs (raw, before preprocess), row-major, `rows` × input size. */
  sample: ArrayLike<number>;
  rows: number;
  /** Default min-max. */
  method?: CalibrationMethod;
}

export interface ExportOptions {
  format: ExportFormat;
  variant?: ExportVariant;
  /** Required for variant 'int8'. */
  calibration?: Calibration;
  /** Per-channel (per output unit) weight scales; default per-tensor, the most portable. */
  perChannel?: boolean;
  /**
   * Fold the preprocess scaler into the first affine layer when possible. Default: true for the
   * float variants, false for the int8 ones — folding multiplies each input row of the first
   * weight matrix by its feature's scale (1/std spans 1e-3…1e3 on real sensors), and one int8
   * scale per tensor then rounds most rows to zero.
   */
  foldPreprocess?: boolean;
}

export type TensorDtype = 'float32' | 'int8' | 'int64';

export interface TensorSpec {
  name: string;
  /** -1 marks the batch dimension when the file accepts any batch size. */
  shape: number[];
  dtype: TensorDtype;
}

export interface ExportResult {
  format: ExportFormat;
  variant: ExportVariant;
  bytes: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export const EXPORT_DEFAULTS = {
  variant: 'float32' as ExportVariant,
  perChannel: false,
  calibration: { kind: 'minmax' } as CalibrationMethod,
};

export function defaultFold(variant: ExportVariant): boolean {
  switch (variant) {
    case 'float32':
    case 'float16':
      return true;
    case 'dynamic-int8':
    case 'int8':
      return false;
  }
}

/** Tensor names every exported file uses (documented in docs/models-export.md). */
export const IO_NAMES = {
  input: 'input',
  /** Classifiers: class probabilities [N, classes]. */
  probabilities: 'probabilities',
  /** Regressors and networks with a regression task: [N, outputs...]. */
  predictions: 'predictions',
} as const;
