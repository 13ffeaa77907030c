/**
 * What the two TFLite runners (runner-tflite.ts on @tensorflow/tfjs-tflite, runner-litert.ts on
 * LiteRT) share: the model file check and the batch-1 input contract. Both interpreters load models
 * with a fixed batch of 1, so a batch of N rows runs N times; both refuse the same bad inputs with the
 * same messages. No runtime import here: each runner stays the only module importing its package.
 */
import { EdgeloopError } from '../src/errors.ts';
import { checkInput } from './runner.ts';

/** A TFLite flatbuffer carries the file identifier 'TFL3' at bytes 4..8 (MODEL_CORRUPT otherwise). */
export function assertTfliteModel(bytes: Uint8Array): void {
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(4, 8)) !== 'TFL3') {
    throw new EdgeloopError('MODEL_CORRUPT', `tflite model must carry the file identifier 'TFL3' at bytes 4..8 (${bytes.length} bytes given)`);
  }
}

/** A single float32 input; MODEL_SIGNATURE naming the dtypes found otherwise. */
export function assertSingleFloatInput(dtypes: readonly string[]): void {
  if (dtypes.length !== 1 || dtypes[0] !== 'float32') {
    throw new EdgeloopError('MODEL_SIGNATURE', `tflite model must have exactly 1 float32 input, got ${dtypes.join(', ') || 'none'}`);
  }
}

export interface Batch1Input {
  /** The model's input shape, [1, …sample]. */
  readonly inShape: readonly number[];
  /** Values per row (product of the sample dims). */
  readonly rowSize: number;
  /** Checks a batch of rows against the model's sample shape; returns the row count. */
  rows(input: Float32Array, shape: number[]): number;
}

export function batch1Input(inShape: readonly number[]): Batch1Input {
  const rowSize = inShape.slice(1).reduce((a, d) => a * d, 1);
  return {
    inShape,
    rowSize,
    rows(input, shape) {
      checkInput(input, shape);
      const sample = shape.slice(1);
      if (sample.length !== inShape.length - 1 || sample.some((d, i) => d !== inShape[i + 1])) {
        throw new EdgeloopError('MODEL_SIGNATURE', `input shape must be [N, ${inShape.slice(1).join(', ')}], got [${shape.join(', ')}]`);
      }
      return shape[0]!;
    },
  };
}

/**
 * One load per process (an interpreter's wasm module is shared by every model loaded in it), forgotten
 * when it fails so that the next model load tries again instead of repeating a stale error.
 */
export function loadOnce<A extends unknown[], T>(load: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let pending: Promise<T> | undefined;
  return (...args) => {
    if (!pending) {
      const p = load(...args);
      pending = p;
      p.catch(() => {
        if (pending === p) pending = undefined;
      });
    }
    return pending;
  };
}
