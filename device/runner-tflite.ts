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
import { closedError, type ModelRunner } from './runner.ts';
import { assertSingleFloatInput, assertTfliteModel, batch1Input, loadOnce } from './runner-tflite-common.ts';

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

/** One interpreter module per process (the wasm heap is shared by all models loaded in it). */
const loadModule = loadOnce(async (logger: Logger): Promise<TfliteModule> => {
  const js = require.resolve('@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js');
  const factory = require(js) as Factory;
  const wasmBinary = readFileSync(js.replace(/\.js$/, '.wasm'));
  return factory({ wasmBinary, print: (s: string) => logger.debug(s), printErr: (s: string) => logger.debug(s) });
});

export async function createTfliteRunner(bytes: Uint8Array, options: { logger: Logger }): Promise<ModelRunner> {
  const mod = await loadModule(options.logger);
  assertTfliteModel(bytes);
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
  try {
    assertSingleFloatInput(inputs.map((i) => i.dataType));
  } catch (err) {
    runner.delete();
    mod._free(ptr);
    throw err;
  }
  const batch = batch1Input(inputs[0].shape.split(',').map(Number));
  const { rowSize } = batch;
  options.logger.debug(() => `tflite model loaded: input [${batch.inShape.join(', ')}], ${outputs.length} output(s)`);
  let closed = false;
  return {
    format: 'tflite',
    async run(input: Float32Array, shape: number[]): Promise<Float32Array[]> {
      if (closed) throw closedError('tflite');
      const rows = batch.rows(input, shape);
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
