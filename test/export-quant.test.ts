import test from 'ava';
import { createRunner, type RunnerFormat, type TfliteEngine } from '../device/runner.ts';
import { exportModel, referenceForward, type ExportVariant } from '../models/export/index.ts';
import { activationParams, calibrateNetwork, fromFloat16Bits, quantizeWeights, toFloat16Bits } from '../models/export/quantize.ts';
import { convNet, inputs, maxRelError } from './export-nets.ts';
import { argmaxRows, loadOccupancy, trainOccupancyMlp } from './export-occupancy.ts';

// One trained network on real data (5 → 128 → 128 → 2), trained once for the whole file.
const train = loadOccupancy('datatraining.txt');
const rowsUsed = 4000;
const model = trainOccupancyMlp({ X: train.X.subarray(0, rowsUsed * 5), y: train.y.subarray(0, rowsUsed), rows: rowsUsed }, [128, 128], 1, 7);
const testSet = loadOccupancy('datatest.txt');
const nTest = 600;
const xTest = testSet.X.subarray(0, nTest * 5);
const refTop1 = argmaxRows(referenceForward(model, xTest, nTest), 2);
const calibration = { sample: train.X.subarray(0, 400 * 5), rows: 400 };

const targets: [RunnerFormat, TfliteEngine | undefined][] = [
  ['tflite', 'tfjs-tflite'],
  ['tflite', 'litert'],
  ['onnx', undefined],
];

for (const variant of ['dynamic-int8', 'int8'] as ExportVariant[]) {
  for (const perChannel of [false, true]) {
    test(`${variant}${perChannel ? ' per-channel' : ''}: top-1 agreement with float >= 99% and size <= 0.3 (per-channel 0.4) of float32 in every runtime`, async (t) => {
      for (const [format, engine] of targets) {
        const f32 = exportModel(model, { format });
        const q = exportModel(model, { format, variant, calibration, perChannel });
        // Per-channel files carry an int64 zero point and a float scale per channel for weights and biases.
        const bound = perChannel ? 0.4 : 0.3;
        t.true(q.bytes.length / f32.bytes.length <= bound, `${format}: size ratio ${q.bytes.length / f32.bytes.length}`);
        const runner = await createRunner(format, q.bytes, engine ? { tfliteEngine: engine } : {});
        try {
          const [y] = await runner.run(xTest, [nTest, 5]);
          const top1 = argmaxRows(y, 2);
          const agree = top1.filter((c, i) => c === refTop1[i]).length / nTest;
          t.true(agree >= 0.99, `${format} ${engine ?? ''}: agreement ${agree}`);
          t.log(`${format} ${engine ?? ''} ${variant}: size ${q.bytes.length}/${f32.bytes.length}, agreement ${agree}`);
        } finally {
          await runner.close();
        }
      }
    });
  }
}

test('int8 with percentile calibration also keeps >= 99% agreement (TFLite)', async (t) => {
  const q = exportModel(model, { format: 'tflite', variant: 'int8', calibration: { ...calibration, method: { kind: 'percentile', percentile: 99.9 } } });
  const runner = await createRunner('tflite', q.bytes);
  const [y] = await runner.run(xTest, [nTest, 5]);
  await runner.close();
  const agree = argmaxRows(y, 2).filter((c, i) => c === refTop1[i]).length / nTest;
  t.true(agree >= 0.99, `agreement ${agree}`);
});

test('int8 conv1d network runs in both TFLite runtimes close to float', async (t) => {
  const body = convNet(5);
  const x = inputs(11, 50 * 48);
  const q = exportModel({ body }, { format: 'tflite', variant: 'int8', calibration: { sample: x, rows: 50 } });
  const ref = referenceForward({ body }, x.subarray(0, 10 * 48), 10);
  for (const engine of ['tfjs-tflite', 'litert'] as const) {
    const runner = await createRunner('tflite', q.bytes, { tfliteEngine: engine });
    const [y] = await runner.run(x.subarray(0, 10 * 48), [10, 16, 3]);
    await runner.close();
    // Probabilities in steps of 1/256 after several int8 layers.
    t.true(maxRelError(y, ref) < 0.05, `${engine}: ${maxRelError(y, ref)}`);
  }
});

test('quantizeWeights: symmetric int8 per tensor and per channel', (t) => {
  const w = Float32Array.of(0.5, -1, 0.25, 2, 0, -0.1);
  const pt = quantizeWeights(w, [2, 3], 0, false);
  t.deepEqual(Array.from(pt.scales), [Math.fround(2 / 127)]);
  t.deepEqual(Array.from(pt.data), [32, -64, 16, 127, 0, -6]);
  const pc = quantizeWeights(w, [2, 3], 0, true);
  t.deepEqual(Array.from(pc.scales), [Math.fround(1 / 127), Math.fround(2 / 127)]);
  t.deepEqual(Array.from(pc.data), [64, -127, 32, 127, 0, -6]);
});

test('activationParams: the range always contains 0 and maps it exactly', (t) => {
  const p = activationParams(0.5, 6);
  t.is(p.zeroPoint, -128);
  t.is(p.scale, Math.fround(6 / 255));
  const s = activationParams(-1, 3);
  t.is(Math.round(-128 - -1 / s.scale), s.zeroPoint);
});

test('float16 conversion rounds to nearest even and handles subnormals and overflow', (t) => {
  t.is(toFloat16Bits(1), 0x3c00);
  t.is(toFloat16Bits(-2), 0xc000);
  t.is(toFloat16Bits(65504), 0x7bff);
  t.is(toFloat16Bits(1e6), 0x7c00);
  t.is(toFloat16Bits(2 ** -24), 0x0001);
  t.is(toFloat16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  t.is(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  t.is(fromFloat16Bits(toFloat16Bits(0.1)), 0.0999755859375);
});

test('calibration rejects a bad sample or percentile with BAD_ARGUMENT', (t) => {
  const net = convNet(1);
  const e1 = t.throws(() => calibrateNetwork(net, undefined, new Float32Array(10), 1, { kind: 'minmax' }));
  t.is((e1 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e1?.message, 'calibration.sample must have rows × 48 = 48 values, got 10');
  const e2 = t.throws(() => calibrateNetwork(net, undefined, new Float32Array(48), 1, { kind: 'percentile', percentile: 30 }));
  t.is(e2?.message, 'calibration.method.percentile must be in (50, 100], got 30');
  const e3 = t.throws(() => exportModel(model, { format: 'onnx', variant: 'int8' }));
  t.is((e3 as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e3?.message, "calibration is required for variant 'int8' (a representative sample of inputs)");
});
