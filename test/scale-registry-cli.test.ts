/**
 * The registry of scaled-out gateways from the CLI: a model trained from a local SQLite file is
 * exported into the PostgreSQL registry (`export --registry postgres://…`), then listed, promoted and
 * verified there (`models … --db postgres://…`), signed with the key in <dataDir>/keys that the
 * gateways use. Real processes, real PostgreSQL; skipped only when it is not installed and not in CI.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Registry } from '../gateway/registry.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql } from '../gateway/sql.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { tempDir } from './helpers/tmp.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
const rig = pgRig();

(rig.available ? test : test.skip)('export --registry postgres://… registers into the shared registry; models list/promote/verify --db postgres://… work on it', async (t) => {
  const url = await rig.server!.createDatabase('registry_cli');
  const dir = tempDir();
  const env = { ...process.env, EDGELOOP_LOG_LEVEL: 'error', EDGELOOP_DATA_DIR: dir };
  const db = join(dir, 'train.db');
  const edgeloop = (args: string[]) => run(process.execPath, [BIN, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
  for (const [file, device] of [['datatraining.txt', 'a'], ['datatest.txt', 'b']] as const) {
    await edgeloop(['data', 'import', fileURLToPath(new URL(`../datasets/occupancy/${file}`, import.meta.url)), '--fleet', 'occ', '--device', device, '--time-zone', 'Europe/Brussels', '--db', db]);
  }
  const spec = JSON.parse(readFileSync(new URL('../src/pipeline/examples/occupancy.json', import.meta.url), 'utf8')) as { split: { ranges: unknown[] } };
  spec.split.ranges = spec.split.ranges.slice(0, 2);
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  await edgeloop(['prepare', '--spec', join(dir, 'spec.json'), '--fleet', 'occ', '--out', 'occ', '--db', db]);
  const trained = JSON.parse((await edgeloop(['train', '--dataset', 'occ', '--model', 'lda', '--report', 'none', '--format', 'json', '--db', db])).stdout) as { run: { id: string } };
  const exp = await edgeloop(['export', '--run', trained.run.id, '--format', 'onnx', '--variant', 'float32', '--model', 'occupancy', '--promote', 'production', '--db', db, '--registry', url]);
  t.regex(exp.stdout, /registered occupancy@1 \(production\)/);

  const list = JSON.parse((await edgeloop(['models', 'list', '--db', url, '--format', 'json'])).stdout) as { model: string; versions: number; aliases: Record<string, number> }[];
  t.like(list, [{ model: 'occupancy', versions: 1, aliases: { production: 1 } }]);
  t.regex((await edgeloop(['models', 'promote', 'occupancy@1', '--alias', 'staging', '--db', url])).stdout, /occupancy@staging: \(new\) → version 1/);
  t.notRegex((await edgeloop(['models', 'verify', 'occupancy@production', '--db', url])).stdout, /FAIL|MODEL_/);
  const keyId = (JSON.parse((await edgeloop(['models', 'key', '--db', url, '--format', 'json'])).stdout) as { keyId: string }).keyId;

  // What a gateway on that database sees: the same version, signed by the key in <dataDir>/keys.
  const store = await PostgresStore.create({ url, poolSize: 1 });
  t.teardown(() => store.close());
  const registry = await Registry.create({ sql: postgresSql(store.pool), keyDir: join(dir, 'keys') });
  t.is(registry.publicKey().keyId, keyId);
  const v = await registry.resolve('occupancy@production');
  t.deepEqual(v.aliases, ['production', 'staging']);
  t.true(v.hasNativeModel, 'retraining on the leader can take the recipe from it');
  t.is(v.lineage.runId, trained.run.id);
  t.true((await registry.verify('occupancy@1')).ok);
});
