/** A SQLite gateway store with one registered model in production, for the retraining service tests that train nothing. */
import { join } from 'node:path';
import { Registry } from '../../gateway/registry.ts';
import { SqliteStore } from '../../gateway/store-sqlite.ts';
import type { RetrainRollouts } from '../../gateway/retrain.ts';
import { mlpFixture } from './device-model.ts';

/** Rollouts that must not happen (approve mode, or a job that fails before its rollout). */
export const NO_ROLLOUTS: RetrainRollouts = {
  create: () => Promise.reject(new Error('no rollout in this test')), view: () => { throw new Error('no rollout'); }, pause: () => Promise.resolve(), resume: () => Promise.resolve(), rollback: () => Promise.resolve(),
};

/**
 * `occ@1` (the MLP fixture, registered without a native model document, so retraining it fails with
 * NOT_FOUND) promoted to production; the caller closes the store.
 */
export async function occRegistry(dir: string): Promise<{ store: SqliteStore; registry: Registry }> {
  const store = await SqliteStore.create({ path: join(dir, 'g.db') });
  const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys') });
  const fx = mlpFixture();
  await registry.register({
    model: 'occ', task: 'classification', classes: ['0', '1'], createdBy: 'test',
    artifacts: [{ format: 'onnx', variant: 'float32', bytes: fx.bytes, metrics: {}, io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
    pipeline: { spec: { v: 1 }, fitted: {} }, lineage: {}, smokeTest: fx.smoke, reference: null,
  });
  await registry.promote('occ@1', 'production');
  return { store, registry };
}
