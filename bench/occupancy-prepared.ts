/**
 * The occupancy matrix the way the product builds it: the three UCI files are imported into a real
 * SQLite gateway store (the validation and store path MQTT ingest uses, without the broker), then the
 * pipeline spec is fitted on the train period by prepareDataset (cli/commands-prepare.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDatasetFile } from '../device/csv-source.ts';
import { importRecords } from '../gateway/data-io.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { DatasetStore } from '../gateway/datasets.ts';
import { prepareDataset, type PrepareResult } from '../cli/commands-prepare.ts';

export const OCCUPANCY_FILES = [['datatraining.txt', 'office-train'], ['datatest.txt', 'office-test1'], ['datatest2.txt', 'office-test2']] as const;

/** Imports the three files once, then prepares one dataset per spec (in order). */
export async function prepareOccupancy(specs: readonly unknown[]): Promise<PrepareResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-'));
  const store = await SqliteStore.create({ path: join(dir, 'bench.db') });
  try {
    for (const [file, device] of OCCUPANCY_FILES) {
      const data = readDatasetFile(fileURLToPath(new URL(`../datasets/occupancy/${file}`, import.meta.url)), { timeZone: 'Europe/Brussels' });
      await importRecords(store, data.records, { fleet: 'occupancy', device, source: file });
    }
    const datasets = await DatasetStore.create(store.database);
    const out: PrepareResult[] = [];
    for (const [i, spec] of specs.entries()) out.push(await prepareDataset(store, datasets, { spec, fleet: 'occupancy', out: `occupancy-${i}` }));
    return out;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
