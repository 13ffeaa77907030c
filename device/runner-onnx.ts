/**
 * The ONNX runner — the only module that imports onnxruntime-node (CPU execution provider).
 */
import * as ort from 'onnxruntime-node';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { checkInput, closedError, type ModelRunner } from './runner.ts';

export async function createOnnxRunner(bytes: Uint8Array, options: { logger: Logger; threads: number }): Promise<ModelRunner> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: options.threads, interOpNumThreads: 1 });
  } catch (err) {
    throw new EdgeloopError('MODEL_CORRUPT', `onnx model could not be loaded (${bytes.length} bytes): ${errorMessage(err)}`, { cause: err });
  }
  if (session.inputNames.length !== 1) {
    await session.release();
    throw new EdgeloopError('MODEL_SIGNATURE', `onnx model must have exactly 1 input, got ${session.inputNames.length}`);
  }
  const inputName = session.inputNames[0];
  const outputNames = session.outputNames.slice();
  options.logger.debug(() => `onnx model loaded: input ${inputName}, outputs ${outputNames.join(', ')}`);
  let closed = false;
  return {
    format: 'onnx',
    async run(input: Float32Array, shape: number[]): Promise<Float32Array[]> {
      if (closed) throw closedError('onnx');
      checkInput(input, shape);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run({ [inputName]: new ort.Tensor('float32', input, shape) });
      } catch (err) {
        throw new EdgeloopError('MODEL_SIGNATURE', `onnx run failed for input shape [${shape.join(', ')}]: ${errorMessage(err)}`, { cause: err });
      }
      return outputNames.map((name) => {
        const t = result[name] as ort.Tensor;
        if (t.type !== 'float32') return Float32Array.from(t.data as ArrayLike<number>);
        return t.data as Float32Array;
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await session.release();
    },
  };
}
