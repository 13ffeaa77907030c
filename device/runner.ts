/**
 * One interface over the runtimes that execute exported models on a device. Each runtime lives
 * in its own wrapper module (the only importer of its package) and is loaded on demand, so a
 * device that only runs TFLite never loads onnxruntime.
 */
import { EdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export type RunnerFormat = 'onnx' | 'tflite';

/** TFLite engines: the TFLite interpreter of @tensorflow/tfjs-tflite, or LiteRT (@litertjs/core). */
export type TfliteEngine = 'tfjs-tflite' | 'litert';

export interface ModelRunner {
  readonly format: RunnerFormat;
  /** Float input of `shape` (batch first); returns each model output, flattened, in output order. */
  run(input: Float32Array, shape: number[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export interface RunnerOptions {
  logger?: Logger;
  /** TFLite only; default 'tfjs-tflite'. */
  tfliteEngine?: TfliteEngine;
  /** Intra-op threads (ONNX); default 1, the device case. */
  threads?: number;
}

export const RUNNER_DEFAULTS = { tfliteEngine: 'tfjs-tflite' as TfliteEngine, threads: 1 };

export async function createRunner(format: RunnerFormat, bytes: Uint8Array, options: RunnerOptions = {}): Promise<ModelRunner> {
  const logger = (options.logger ?? silentLogger).child('runner');
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new EdgeloopError('MODEL_CORRUPT', `model bytes must be a non-empty Uint8Array, got ${bytes instanceof Uint8Array ? '0 bytes' : typeof bytes}`);
  }
  switch (format) {
    case 'onnx': {
      const { createOnnxRunner } = await import('./runner-onnx.ts');
      return createOnnxRunner(bytes, { logger, threads: options.threads ?? RUNNER_DEFAULTS.threads });
    }
    case 'tflite': {
      const engine = options.tfliteEngine ?? RUNNER_DEFAULTS.tfliteEngine;
      switch (engine) {
        case 'tfjs-tflite': {
          const { createTfliteRunner } = await import('./runner-tflite.ts');
          return createTfliteRunner(bytes, { logger });
        }
        case 'litert': {
          const { createLitertRunner } = await import('./runner-litert.ts');
          return createLitertRunner(bytes, { logger });
        }
        default:
          throw new EdgeloopError('BAD_ARGUMENT', `tfliteEngine must be 'tfjs-tflite' or 'litert', got '${String(engine satisfies never)}'`);
      }
    }
    default:
      throw new EdgeloopError('MODEL_UNSUPPORTED', `format must be 'onnx' or 'tflite', got '${String(format satisfies never)}'`);
  }
}

/** Shared argument check: the flat input must hold exactly the elements of `shape`. */
export function checkInput(input: Float32Array, shape: number[]): number {
  if (!(input instanceof Float32Array)) throw new EdgeloopError('BAD_ARGUMENT', `input must be a Float32Array, got ${typeof input}`);
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new EdgeloopError('BAD_ARGUMENT', `shape must be a non-empty list of positive integers, got [${String(shape)}]`);
  }
  const size = shape.reduce((a, d) => a * d, 1);
  if (size !== input.length) throw new EdgeloopError('BAD_ARGUMENT', `input length must equal the product of shape [${shape.join(', ')}] = ${size}, got ${input.length}`);
  return size;
}

export function closedError(format: RunnerFormat): EdgeloopError {
  return new EdgeloopError('RUNTIME', `${format} runner is closed; create a new runner to run the model`);
}
