/** Real data for the scale-out tests on PostgreSQL (test/scale-failover.test.ts, test/scale-rollouts.test.ts). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gateway } from '../../gateway/gateway.ts';
import type { PostgresStore } from '../../gateway/store-postgres.ts';
import { DatasetStore } from '../../gateway/datasets.ts';
import { publishModel } from '../../gateway/publish.ts';
import { openDatabase } from '../../io/sqlite.ts';
import { readDatasetFile } from '../../device/csv-source.ts';
import { replay } from '../../device/replay.ts';
import { splitsOf, trainModel } from '../../models/training.ts';
import { prepareDataset, readSpec } from '../../cli/commands-prepare.ts';
import { tempDir, waitFor } from './tmp.ts';

const DATA = fileURLToPath(new URL('../../datasets/occupancy/', import.meta.url));

/** occupancy@1 (logistic regression on the training week) registered in the shared registry as production; the recent week stored. */
export async function seedOccupancy(gw: Gateway, store: PostgresStore, brokerUrl: string, fleet: string, model: string): Promise<void> {
  const train = readDatasetFile(join(DATA, 'datatraining.txt'), { timeZone: 'Europe/Brussels' }).records;
  const recent = readDatasetFile(join(DATA, 'datatest2.txt'), { timeZone: 'Europe/Brussels' }).records;
  // Through the broker: both instances ingest their share of the stream.
  await replay(train, { brokerUrl, fleet, device: 'office-a', batchSize: 50, maxInFlight: 32 });
  await replay(recent, { brokerUrl, fleet, device: 'office-b', batchSize: 50, maxInFlight: 32 });
  const expected = (train.length + recent.length) * 6;
  await waitFor(async () => (await store.countReadings({ fleet })) >= expected, 60_000, 'all readings stored');
  const spec = readSpec('occupancy') as { split: { ranges: { name: string }[] } };
  spec.split.ranges = spec.split.ranges.filter((r) => r.name !== 'test1');
  // Prepared datasets are a training-side artifact kept in a local SQLite file.
  const scratch = openDatabase(join(tempDir('edgeloop-failover-ds-'), 'datasets.db'));
  try {
    const datasets = await DatasetStore.create(scratch);
    const prepared = await prepareDataset(store, datasets, { spec, fleet, out: 'occ-v1' });
    const trained = await trainModel(splitsOf(prepared.matrix), { kind: 'logreg', task: 'classification', classes: ['0', '1'], seed: 7 });
    const v1 = await publishModel(gw.registry!, {
      model, trained: trained.model, classes: ['0', '1'], createdBy: 'test',
      dataset: { name: prepared.name, spec, fitted: datasets.load(prepared.name).fitted, matrix: prepared.matrix, dataHash: prepared.dataHash, trainSplit: 'train' },
      targets: [{ format: 'onnx', variant: 'float32' }],
    }, { maxEvalRows: 500 });
    await gw.registry!.promote(`${model}@${v1.version}`, 'production', { by: 'test' });
  } finally {
    scratch.close();
  }
}
