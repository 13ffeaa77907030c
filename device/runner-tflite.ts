/**
 * The TFLite runner on the TFLite interpreter shipped in @tensorflow/tfjs-tflite — the only module
 * importing it. Its browser client fetches the wasm by URL and fails in Node; the emscripten
 * factory in its wasm/ folder runs fine when given the binary, so we load that directly.
 * The interpreter cannot resize inputs: the model has batch 1 and a batch of N rows runs N times.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { checkInput, closedError, type ModelRunner } from './runner.ts';

interface TensorInfo {
  name: string;
  /** Comma-separated dims, e.g. "1,4". */
  shape: string;
  dataType: string;
  data(): Float32Array | Int8Array | Uint8Array | Int32Array;
}
interface CppVector<T> {
  size(): number;
  get(i: number): T;
  delete(): void;
}
interface CppRunner {
  GetInputs(): CppVector<TensorInfo>;
  GetOutputs(): CppVector<TensorInfo>;
  Infer(): boolean;
  delete(): void;
}
interface TfliteModule {
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
  TFLiteWebModelRunner: {
    CreateFromBufferAndOptions(ptr: number, len: number, options: { numThreads: number; enableProfiling: boolean; maxProfilingBufferEntries: number }): {
      ok(): boolean;
      errorMessage(): string;
      value(): CppRunner;
    };
  };
}
type Factory = (moduleArg: Record<string, unknown>) => Promise<TfliteModule>;

const require = createRequire(import.meta.url);
let modulePromise: Promise<TfliteModule> | undefined;

/** One interpreter module per process (the wasm heap is shared by all models loaded in it). */
function loadModule(logger: Logger): Promise<TfliteModule> {
  if (!modulePromise) {
    const js = require.resolve('@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js');
    const factory = require(js) as Factory;
    const wasmBinary = readFileSync(js.replace(/\.js$/, '.wasm'));
    modulePromise = factory({ wasmBinary, print: (s: string) => logger.debug(s), printErr: (s: string) => logger.debug(s) });
    modulePromise.catch(() => {
      modulePromise = undefined;
    });
  }
  return modulePromise;
}

export async function createTfliteRunner(bytes: Uint8Array, options: { logger: Logger }): Promise<ModelRunner> {
  const mod = await loadModule(options.logger);
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(4, 8)) !== 'TFL3') {
    throw new EdgeloopError('MODEL_CORRUPT', `tflite model must carry the file identifier 'TFL3' at bytes 4..8 (${bytes.length} bytes given)`);
  }
  const ptr = mod._malloc(bytes.length);
  mod.HEAPU8.set(bytes, ptr);
  let runner: CppRunner;
  try {
    const status = mod.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, bytes.length, { numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024 });
    if (!status.ok()) throw new Error(status.errorMessage());
    runner = status.value();
  } catch (err) {
    mod._free(ptr);
    throw new EdgeloopError('MODEL_CORRUPT', `tflite model could not be loaded (${bytes.length} bytes): ${errorMessage(err)}`, { cause: err });
  }
  const inputs = toArray(runner.GetInputs());
  const outputs = toArray(runner.GetOutputs());
  if (inputs.length !== 1 || inputs[0].dataType !== 'float32') {
    runner.delete();
    mod._free(ptr);
    throw new EdgeloopError('MODEL_SIGNATURE', `tflite model must have exactly 1 float32 input, got ${inputs.map((i) => i.dataType).join(', ') || 'none'}`);
  }
  const inShape = inputs[0].shape.split(',').map(Number);
  const rowSize = inShape.slice(1).reduce((a, d) => a * d, 1);
  options.logger.debug(() => `tflite model loaded: input [${inShape.join(', ')}], ${outputs.length} output(s)`);
  let closed = false;
  return {
    format: 'tflite',
    async run(input: Float32Array, shape: number[]): Promise<Float32Array[]> {
      if (closed) throw closedError('tflite');
      checkInput(input, shape);
      const sample = shape.slice(1);
      if (sample.length !== inShape.length - 1 || sample.some((d, i) => d !== inShape[i + 1])) {
        throw new EdgeloopError('MODEL_SIGNATURE', `input shape must be [N, ${inShape.slice(1).join(', ')}], got [${shape.join(', ')}]`);
      }
      const rows = shape[0];
      const results = outputs.map((o) => new Float32Array(rows * o.data().length));
      for (let r = 0; r < rows; r++) {
        (inputs[0].data() as Float32Array).set(input.subarray(r * rowSize, (r + 1) * rowSize));
        if (!runner.Infer()) throw new EdgeloopError('RUNTIME', `tflite inference failed on row ${r}`);
        outputs.forEach((o, k) => {
          const data = o.data();
          results[k].set(data, r * data.length);
        });
      }
      return results;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      runner.delete();
      mod._free(ptr);
    },
  };
}

function toArray<T>(v: CppVector<T>): T[] {
  try {
    return Array.from({ length: v.size() }, (_, i) => v.get(i));
  } finally {
    v.delete();
  }
}
