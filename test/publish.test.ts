/** Train → export every variant → run in the real runtimes → signed registry version, on the occupancy data. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitPipeline } from '../src/pipeline/index.ts';
import { splitsOf, trainModel } from '../models/training.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { publishModel } from '../gateway/publish.ts';
import { tempDir } from './helpers/tmp.ts';
import { occupancyFrame } from './helpers/occupancy-frame.ts';

test('an occupancy classifier is published as ONNX and TFLite (float32, int8) with runtime-measured metrics', async (t) => {
  const frame = occupancyFrame([['datatraining.txt', 'a'], ['datatest.txt', 'b']]);
  const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as { split: { ranges: unknown[] } };
  spec.split.ranges = spec.split.ranges.slice(0, 2);
  const { matrix, fitted } = fitPipeline(frame, spec);
  const trained = await trainModel(splitsOf(matrix), { kind: 'logreg', task: 'classification' });
  const dir = tempDir();
  const store = await SqliteStore.create({ path: join(dir, 'p.db') });
  t.teardown(() => store.close());
  const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys') });
  const result = await publishModel(registry, {
    model: 'occupancy', trained: trained.model, classes: ['0', '1'], createdBy: 'test',
    dataset: { name: 'occ', spec, fitted, matrix, dataHash: 'a'.repeat(64) },
    targets: [{ format: 'onnx', variant: 'float32' }, { format: 'tflite', variant: 'float32' }, { format: 'tflite', variant: 'int8' }, { format: 'onnx', variant: 'int8' }],
  }, { maxEvalRows: 800 });
  t.is(result.version, 1);
  t.is(result.manifests.length, 4);
  for (const a of result.artifacts) {
    t.log(`${a.format}/${a.variant}: ${a.bytes} B, ${JSON.stringify(a.metrics)}, p50 ${a.p50Us.toFixed(1)} µs`);
    t.true(a.metrics.test1_agreement! >= 0.99, `${a.format}/${a.variant} agrees with the trained model`);
    t.true(a.metrics.test1_accuracy! > 0.95);
  }
  const m = result.manifests[0]!;
  t.truthy(m.signature);
  t.is(m.smokeTest.inputs.length, 8);
  t.truthy((m.reference as { profile: { features: unknown[] } }).profile.features.length);
  const verify = await registry.verify('occupancy@1');
  t.true(JSON.stringify(verify).includes('"ok":true'));
});
