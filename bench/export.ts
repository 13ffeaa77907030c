/**
 * Export benchmark: per variant, file size, test accuracy and batch-1 p50/p99 latency in each
 * runtime, with int8/float32 ratios measured in the same run. The model is a 5→128→128→2 MLP
 * trained here with plain-JS Adam (test/export-occupancy.ts) on the UCI occupancy data.
 * Run: node --import tsx bench/export.ts
 */
import { createRunner, type RunnerFormat, type TfliteEngine } from '../device/runner.ts';
import { exportModel, type ExportVariant } from '../models/export/index.ts';
import { argmaxRows, loadOccupancy, trainOccupancyMlp } from '../test/export-occupancy.ts';

const train = loadOccupancy('datatraining.txt');
const test = loadOccupancy('datatest.txt');
const model = trainOccupancyMlp(train, [128, 128], 2, 7);
console.log(`model: 5-128-128-2 MLP trained in-bench (plain-JS Adam, 2 epochs, ${train.rows} rows); test set ${test.rows} rows`);
const calibration = { sample: train.X.subarray(0, 500 * 5), rows: 500 };
const latencyRuns = 300;

const targets: [RunnerFormat, TfliteEngine | undefined][] = [
  ['tflite', 'tfjs-tflite'],
  ['tflite', 'litert'],
  ['onnx', undefined],
];
const results = new Map<string, { size: number; acc: number; p50: number; p99: number }>();
for (const [format, engine] of targets) {
  for (const variant of ['float32', 'float16', 'dynamic-int8', 'int8'] as ExportVariant[]) {
    const r = exportModel(model, { format, variant, calibration });
    const runner = await createRunner(format, r.bytes, engine ? { tfliteEngine: engine } : {});
    const [y] = await runner.run(test.X, [test.rows, 5]);
    const acc = argmaxRows(y, 2).filter((c, i) => c === test.y[i]).length / test.rows;
    const times: number[] = [];
    for (let i = 0; i < latencyRuns; i++) {
      const row = test.X.subarray((i % test.rows) * 5, (i % test.rows) * 5 + 5);
      const t0 = process.hrtime.bigint();
      await runner.run(row, [1, 5]);
      times.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    await runner.close();
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(0.5 * times.length)];
    const p99 = times[Math.floor(0.99 * times.length)];
    const key = `${format}${engine ? `/${engine}` : ''}`;
    results.set(`${key} ${variant}`, { size: r.bytes.length, acc, p50, p99 });
    console.log(`${key.padEnd(19)} ${variant.padEnd(13)} size ${String(r.bytes.length).padStart(6)} B  accuracy ${(acc * 100).toFixed(2)} %  p50 ${p50.toFixed(1)} µs  p99 ${p99.toFixed(1)} µs`);
  }
}
// Headline: TFLite (tfjs-tflite interpreter), full-integer int8 vs float32.
const f = results.get('tflite/tfjs-tflite float32');
const q = results.get('tflite/tfjs-tflite int8');
if (!f || !q) throw new Error('missing results');
console.log(`export: int8/float32 size ${(q.size / f.size).toFixed(3)}, accuracy loss ${((f.acc - q.acc) * 100).toFixed(2)}, latency ratio ${(q.p50 / f.p50).toFixed(2)}`);
