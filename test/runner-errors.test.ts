import test from 'ava';
import { createRunner, type RunnerFormat, type TfliteEngine } from '../device/runner.ts';
import { exportModel } from '../models/export/index.ts';
import { mlp } from './export-nets.ts';

const model = { body: mlp(1, [4, 3], ['softmax']) };
const targets: [RunnerFormat, TfliteEngine | undefined][] = [
  ['onnx', undefined],
  ['tflite', 'tfjs-tflite'],
  ['tflite', 'litert'],
];

for (const [format, engine] of targets) {
  const label = `${format}${engine ? ` (${engine})` : ''}`;
  test(`${label}: truncated and garbage bytes are MODEL_CORRUPT`, async (t) => {
    const bytes = exportModel(model, { format }).bytes;
    const opts = engine ? { tfliteEngine: engine } : {};
    for (const bad of [bytes.subarray(0, Math.floor(bytes.length / 3)), Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)]) {
      const err = await t.throwsAsync(createRunner(format, bad, opts));
      t.is((err as { code?: string }).code, 'MODEL_CORRUPT', err?.message);
    }
    const empty = await t.throwsAsync(createRunner(format, new Uint8Array(0), opts));
    t.is((empty as { code?: string }).code, 'MODEL_CORRUPT');
    t.is(empty?.message, 'model bytes must be a non-empty Uint8Array, got 0 bytes');
  });

  test(`${label}: bad input shapes are rejected, a closed runner refuses to run`, async (t) => {
    const runner = await createRunner(format, exportModel(model, { format }).bytes, engine ? { tfliteEngine: engine } : {});
    t.is(runner.format, format);
    const len = await t.throwsAsync(runner.run(new Float32Array(5), [1, 4]));
    t.is((len as { code?: string }).code, 'BAD_ARGUMENT');
    t.is(len?.message, 'input length must equal the product of shape [1, 4] = 4, got 5');
    const shape = await t.throwsAsync(runner.run(new Float32Array(6), [2, 3]));
    t.is((shape as { code?: string }).code, 'MODEL_SIGNATURE');
    const [ok] = await runner.run(new Float32Array(8), [2, 4]);
    t.is(ok.length, 6);
    await runner.close();
    await runner.close(); // idempotent
    const closed = await t.throwsAsync(runner.run(new Float32Array(4), [1, 4]));
    t.is((closed as { code?: string }).code, 'RUNTIME');
    t.is(closed?.message, `${format} runner is closed; create a new runner to run the model`);
  });
}

test('createRunner rejects an unknown format and engine', async (t) => {
  const bytes = exportModel(model, { format: 'onnx' }).bytes;
  const f = await t.throwsAsync(createRunner('coreml' as RunnerFormat, bytes));
  t.is((f as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.is(f?.message, "format must be 'onnx' or 'tflite', got 'coreml'");
  const e = await t.throwsAsync(createRunner('tflite', bytes, { tfliteEngine: 'tfjs-node' as TfliteEngine }));
  t.is((e as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e?.message, "tfliteEngine must be 'tfjs-tflite' or 'litert', got 'tfjs-node'");
});
