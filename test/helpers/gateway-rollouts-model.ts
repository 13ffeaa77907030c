/**
 * A small, really trained occupancy classifier registered into a gateway database: logistic
 * regression on the UCI occupancy test file (one day to train, the next to evaluate), exported to
 * ONNX float32 and measured in onnxruntime by publishModel. Used by the gateway rollout tests.
 */
import { readFileSync } from 'node:fs';
import { occupancyFrame } from './occupancy-frame.ts';
import { fitPipeline } from '../../src/pipeline/index.ts';
import { splitsOf, trainModel, type TrainResult } from '../../models/training.ts';
import { SqliteStore } from '../../gateway/store-sqlite.ts';
import { Registry } from '../../gateway/registry.ts';
import { publishModel, type PublishResult } from '../../gateway/publish.ts';

let cached: { trained: TrainResult; spec: unknown; fitted: unknown; matrix: ReturnType<typeof fitPipeline>['matrix'] } | null = null;

async function trainOnce() {
  if (cached) return cached;
  const frame = occupancyFrame([['datatest.txt', 'b']]);
  const spec = JSON.parse(readFileSync(new URL('../../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as { split: { ranges: unknown[] } };
  spec.split.ranges = [
    { name: 'train', start: '2015-02-02T14:19:00+01:00', end: '2015-02-03T20:00:00+01:00' },
    { name: 'test1', start: '2015-02-03T20:00:00+01:00', end: '2015-02-04T10:44:00+01:00' },
  ];
  const { matrix, fitted } = fitPipeline(frame, spec);
  const trained = await trainModel(splitsOf(matrix), { kind: 'logreg', task: 'classification' });
  cached = { trained, spec, fitted, matrix };
  return cached;
}

/** Registers the next version of `model` in the gateway database at dbPath (keys in keyDir). */
export async function registerOccupancy(dbPath: string, keyDir: string, model = 'occupancy'): Promise<PublishResult> {
  const { trained, spec, fitted, matrix } = await trainOnce();
  const store = await SqliteStore.create({ path: dbPath });
  try {
    const registry = await Registry.create({ database: store.database, keyDir });
    return await publishModel(registry, {
      model, trained: trained.model, classes: ['0', '1'], createdBy: 'test',
      dataset: { name: 'occ-day', spec, fitted, matrix, dataHash: 'b'.repeat(64) },
      targets: [{ format: 'onnx', variant: 'float32' }],
    }, { maxEvalRows: 300 });
  } finally {
    await store.close();
  }
}
