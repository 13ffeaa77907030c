import test from 'ava';
import { createRunner, type TfliteEngine } from '../device/runner.ts';
import type { ModelIR } from '../models/ir.ts';
import { exportModel, referenceForward } from '../models/export/index.ts';
import { convNet, inputs, linearModel, maxRelError, mlp, recurrentNet, treeModel, withScaler } from './export-nets.ts';

const cases: [string, ModelIR][] = [
  ['mlp relu/tanh/softmax', { body: mlp(1, [4, 8, 6, 3], ['relu', 'tanh', 'softmax']) }],
  ['mlp relu6/sigmoid', { body: mlp(2, [5, 7, 2], ['relu6', 'sigmoid'], 'regression') }],
  ['mlp + scaler folded', withScaler(mlp(4, [4, 6, 2], ['relu', 'softmax']), 40, 4)],
  ['linear binary logistic + scaler', withScaler(linearModel(11, 4, 1, 'logistic'), 41, 4)],
  ['conv1d/pool/flatten', { body: convNet(5) }],
  ['lstm last state', { body: recurrentNet(6, 'lstm', false) }],
  ['gru sequences', { body: recurrentNet(8, 'gru', true) }],
];
const engines: TfliteEngine[] = ['tfjs-tflite', 'litert'];

for (const [name, model] of cases) {
  for (const variant of ['float32', 'float16'] as const) {
    test(`tflite ${variant} ${name}: both TFLite runtimes match the reference`, async (t) => {
      const r = exportModel(model, { format: 'tflite', variant });
      t.is(String.fromCharCode(...r.bytes.subarray(4, 8)), 'TFL3');
      const sample = r.inputs[0].shape.slice(1);
      const size = sample.reduce((a, d) => a * d, 1);
      const x = inputs(200, 4 * size);
      const ref = referenceForward(model, x, 4);
      // float16 weights: relative rounding 2^-11 per weight, so the outputs move by ~1e-4.
      const tolerance = variant === 'float32' ? 1e-5 : 2e-3;
      for (const engine of engines) {
        const runner = await createRunner('tflite', r.bytes, { tfliteEngine: engine });
        try {
          const [y] = await runner.run(x, [4, ...sample]);
          t.true(maxRelError(y, ref) <= tolerance, `${engine}: max rel error ${maxRelError(y, ref)}`);
          if (variant === 'float16') t.true(maxRelError(y, ref) > 0, `${engine}: fp16 weights must change the outputs`);
        } finally {
          await runner.close();
        }
      }
    });
  }
}

test('tflite float16 file is about half the float32 file', (t) => {
  const model = { body: mlp(3, [16, 64, 64, 4], ['relu', 'relu', 'softmax']) };
  const f32 = exportModel(model, { format: 'tflite' }).bytes.length;
  const f16 = exportModel(model, { format: 'tflite', variant: 'float16' }).bytes.length;
  t.true(f16 / f32 < 0.6, `ratio ${f16 / f32}`);
});

test('tflite: tree ensembles are MODEL_UNSUPPORTED, naming the format and the model kind', (t) => {
  const err = t.throws(() => exportModel({ body: treeModel(1, { nFeatures: 2, trees: 1, depth: 1, width: 1, aggregate: 'sum', link: 'identity' }) }, { format: 'tflite' }));
  t.is((err as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.is(err?.message, "tflite export does not support model kind 'tree-ensemble' (TFLite has no tree ops); export it to onnx");
});

test('tflite: recurrent layers have no int8 variant (MODEL_UNSUPPORTED names layer and variant)', (t) => {
  const err = t.throws(() => exportModel({ body: recurrentNet(1, 'gru', false) }, { format: 'tflite', variant: 'dynamic-int8' }));
  t.is((err as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.is(err?.message, "tflite export of a gru layer supports variants 'float32' and 'float16', got 'dynamic-int8'");
});

test('exportModel rejects an unknown format and variant', (t) => {
  const model = { body: mlp(1, [2, 2], ['softmax']) };
  const f = t.throws(() => exportModel(model, { format: 'coreml' as 'onnx' }));
  t.is((f as { code?: string }).code, 'MODEL_UNSUPPORTED');
  t.is(f?.message, "format must be 'tflite' or 'onnx', got 'coreml' (model kind 'network')");
  const v = t.throws(() => exportModel(model, { format: 'onnx', variant: 'int4' as 'int8' }));
  t.is((v as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(v?.message, "variant must be one of float32, float16, dynamic-int8, int8, got 'int4'");
});
